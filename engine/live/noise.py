"""Noise injection for demos: mix a chosen noise into the live input at a chosen SNR.

The SNR is relative to the input's tracked speech level (an RMS follower over hops within 20 dB of
the loudest recent hop), so the noise follows the speaker; in silence the noise sits at
:data:`QUIET_LEVEL_DBFS`, audible in a quiet room. Noise beds are loops at 16 kHz with unit RMS:
``white`` and ``pink`` are generated, ``fan`` is synthesised (rumble + blade-pass hum), and
``babble``, ``cafe`` and ``keyboard`` are recordings shipped in ``assets/noise`` (see its README).

Runs in the engine's worker thread, never in the audio callback.
"""

from __future__ import annotations

import math

import numpy as np

from assets import asset_path
from engine.constants import SAMPLE_RATE
from engine.dsp.mixing import pink_noise
from engine.errors import SpandexError
from engine.files.audio import load_audio

NOISE_DIR = asset_path("noise")
GENERATED = ("white", "pink", "fan")
RECORDED = ("babble", "cafe", "keyboard")
NOISE_KINDS = GENERATED + RECORDED
QUIET_LEVEL_DBFS = -35.0
"""Speech level assumed until someone speaks louder than this."""
BED_SECONDS = 8.0


def fan_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """A desk fan: low-passed rumble, a slowly wobbling blade-pass tone and its harmonics."""
    from scipy.signal import lfilter  # about a second to import: only when the fan bed is made

    t = np.arange(length) / SAMPLE_RATE
    white = rng.standard_normal(length)
    rumble = lfilter([1.0], [1.0, -0.985], white)  # one-pole low-pass, ~40 Hz corner
    rumble += 0.3 * lfilter([1.0], [1.0, -0.7], rng.standard_normal(length))
    wobble = 1.0 + 0.01 * np.sin(2 * np.pi * 0.3 * t)
    hum = sum(a * np.sin(2 * np.pi * f * wobble * t) for f, a in ((120.0, 1.0), (240.0, 0.5), (360.0, 0.25)))
    noise = rumble / np.std(rumble) + 0.4 * hum
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def noise_bed(kind: str, seed: int = 7) -> np.ndarray:
    """A loop of noise ``kind`` at 16 kHz with unit RMS."""
    rng = np.random.default_rng(seed)
    length = int(BED_SECONDS * SAMPLE_RATE)
    if kind == "white":
        return rng.standard_normal(length).astype(np.float32)
    if kind == "pink":
        return pink_noise(length, rng)
    if kind == "fan":
        return fan_noise(length, rng)
    if kind in RECORDED:
        path = NOISE_DIR / f"{kind}.flac"
        if not path.is_file():
            raise SpandexError(f"the {kind} noise recording is missing ({path})")
        audio = load_audio(path).astype(np.float64)
        audio -= audio.mean()
        return (audio / math.sqrt(float(np.mean(audio**2)))).astype(np.float32)
    raise SpandexError(f"unknown noise '{kind}'; choose one of {', '.join(NOISE_KINDS)}")


class NoiseInjector:
    """Adds a looping noise bed to each hop at ``snr_db`` below the tracked speech level."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.snr_db = 5.0
        self.bed = np.zeros(0, dtype=np.float32)
        self.position = 0
        self.speech_rms = 10.0 ** (QUIET_LEVEL_DBFS / 20.0)
        self.loudest = self.speech_rms
        self.noise_rms = 0.0

    def set(self, kind: str | None, snr_db: float) -> None:
        """Choose the noise (None: off) and the SNR in dB. Loads the bed: call outside the hop loop."""
        if kind != self.kind:
            self.bed = noise_bed(kind) if kind is not None else np.zeros(0, dtype=np.float32)
            self.position = 0
            self.kind = kind
        self.snr_db = float(snr_db)

    def reset(self) -> None:
        self.position = 0
        self.speech_rms = self.loudest = 10.0 ** (QUIET_LEVEL_DBFS / 20.0)

    @property
    def level_dbfs(self) -> float:
        return 20.0 * math.log10(self.noise_rms) if self.noise_rms > 0 else -math.inf

    def process(self, hop: np.ndarray) -> np.ndarray:
        """``hop`` plus noise (a new array; ``hop`` itself when no noise is chosen)."""
        rms = math.sqrt(float(np.mean(hop * hop)))
        self.loudest = max(rms, self.loudest * 0.998)  # forgets ~2 dB per second (125 hops/s)
        if rms > self.loudest * 0.1 and rms > 10.0 ** (QUIET_LEVEL_DBFS / 20.0):
            self.speech_rms += 0.02 * (rms - self.speech_rms)  # ~0.4 s time constant while speaking
        if self.kind is None:
            self.noise_rms = 0.0
            return hop
        n = hop.shape[0]
        index = (self.position + np.arange(n)) % self.bed.size
        self.position = (self.position + n) % self.bed.size
        self.noise_rms = self.speech_rms * 10.0 ** (-self.snr_db / 20.0)
        return hop + self.noise_rms * self.bed[index]
