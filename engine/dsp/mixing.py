"""Mixing clean speech with noise at a chosen SNR and level, the N-DNS way.

Follows ``segmental_snr_mixer`` of the N-DNS ``noisyspeech_synthesizer.py`` (after the
Microsoft DNS challenge's audiolib): the SNR is set between *active* RMS levels (RMS over
the 100 ms windows whose power is within 50 dB of the peak's, so pauses do not count), the mixture is
then scaled to a target RMS level in dBFS, and if any sample would pass the clipping
threshold, speech, noise and mixture are scaled down together. Two differences: N-DNS measures
the speech RMS on the windows where the *noise* is active, while here each signal is measured on
its own active windows, so the SNR means speech level over noise level; and N-DNS's gate is
``20 log10(mean(x^2)) > -50`` on peak-normalised audio, i.e. windows within 25 dB of the peak's
power, where this one keeps windows down to 50 dB below it. More of the quiet passages count as
active here, so a mixture's nominal SNR is not N-DNS's to the decibel (0.6 dB apart on the demo
clip's speech).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from engine.constants import SAMPLE_RATE
from engine.errors import AudioInputError

ACTIVE_WINDOW_S = 0.1
ACTIVE_THRESHOLD_DB = -50.0


class Mixture(NamedTuple):
    """A mix and its parts, float32, equal length; ``noisy = clean + noise`` (to rounding)."""

    noisy: np.ndarray
    clean: np.ndarray
    noise: np.ndarray
    level_dbfs: float
    """RMS level of ``noisy`` in dBFS (below the target when clipping was guarded)."""


def active_rms(
    audio: np.ndarray,
    rate: int = SAMPLE_RATE,
    window_s: float = ACTIVE_WINDOW_S,
    threshold_db: float = ACTIVE_THRESHOLD_DB,
) -> float:
    """RMS over the windows whose mean power is within ``-threshold_db`` dB of the peak's.

    Gated relative to the peak, so it does not depend on the signal's scale (N-DNS's own gate is
    narrower: the module's docstring). Returns 0.0 for an all-zero signal.
    """
    audio = np.asarray(audio, dtype=np.float64)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        return 0.0
    win = max(1, int(rate * window_s))
    starts = np.arange(0, audio.size, win)
    lengths = np.diff(np.append(starts, audio.size))
    energy = np.add.reduceat(audio**2, starts) / lengths
    active = energy > peak**2 * 10.0 ** (threshold_db / 10.0)
    return math.sqrt(float(np.sum(energy[active] * lengths[active]) / np.sum(lengths[active])))


def loop_to_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Repeat (or cut) ``audio`` to exactly ``length`` samples."""
    audio = np.asarray(audio)
    if audio.size == 0:
        raise AudioInputError("cannot loop an empty signal")
    reps = math.ceil(length / audio.size)
    return np.tile(audio, reps)[:length]


def mix_at_snr(
    clean: np.ndarray,
    noise: np.ndarray,
    snr_db: float,
    target_level_dbfs: float = -25.0,
    clipping_threshold: float = 0.99,
    rate: int = SAMPLE_RATE,
) -> Mixture:
    """Mix ``clean`` and ``noise`` (same length) at ``snr_db`` active-RMS SNR.

    The mixture is scaled to ``target_level_dbfs`` RMS; if its peak would exceed
    ``clipping_threshold`` all three signals are scaled down so it peaks there instead.
    Raises ``AudioInputError`` if either input is silent (no SNR can be set).
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.ndim != 1 or clean.shape != noise.shape:
        raise AudioInputError(
            f"clean and noise must be 1-D and of equal length, got {clean.shape} and {noise.shape}"
        )
    clean_rms = active_rms(clean, rate)
    noise_rms = active_rms(noise, rate)
    if clean_rms == 0.0 or noise_rms == 0.0:
        which = "speech" if clean_rms == 0.0 else "noise"
        raise AudioInputError(f"cannot mix at an SNR: the {which} signal is silent")
    noise = noise * (clean_rms / noise_rms) * 10.0 ** (-snr_db / 20.0)
    noisy = clean + noise
    gain = 10.0 ** (target_level_dbfs / 20.0) / math.sqrt(float(np.mean(noisy**2)))
    peak = float(np.max(np.abs(noisy))) * gain
    if peak > clipping_threshold:
        gain *= clipping_threshold / peak
    noisy, clean, noise = noisy * gain, clean * gain, noise * gain
    level = 20.0 * math.log10(math.sqrt(float(np.mean(noisy**2))))
    return Mixture(noisy.astype(np.float32), clean.astype(np.float32), noise.astype(np.float32), level)


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) Gaussian noise, float32, unit RMS, made by shaping white noise's spectrum."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n=length)
    noise -= noise.mean()
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)
