"""Reading and writing audio files for the engine.

Everything the engine processes is float32 mono at ``SAMPLE_RATE`` (16 kHz). ``load_audio``
converts any file libsndfile can read (WAV, FLAC, OGG, ...) to that form — channels are
averaged, other rates go through a polyphase resampler — and turns every way a file can be
unusable into an ``AudioInputError`` that names the file and the problem. ``write_wav``
writes atomically, so a crash or a full disk never leaves a half-written file behind.

None of this is for the audio callback: these functions allocate and touch the disk.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from engine.constants import N_FFT, SAMPLE_RATE
from engine.errors import AudioInputError, SpandexError
from engine.files.atomic import atomic_output

"""The engine's sample rate in Hz."""

MIN_SAMPLES = N_FFT
"""The shortest usable input: one STFT frame (n_fft 512) at ``SAMPLE_RATE``."""

SILENCE_DBFS = -60.0
"""RMS level (dB re full scale) below which ``is_silent`` calls audio silent."""

WavSubtype = Literal["PCM_16", "FLOAT"]


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample along the last axis with a polyphase filter (``scipy.signal.resample_poly``).

    The up/down factors are the reduced ratio ``to_rate / from_rate``. Returns float32;
    the input is returned unchanged (as float32) when the rates are equal.
    """
    if from_rate <= 0 or to_rate <= 0 or int(from_rate) != from_rate or int(to_rate) != to_rate:
        raise ValueError(f"sample rates must be positive integers, got {from_rate} and {to_rate}")
    audio = np.asarray(audio)
    if from_rate == to_rate:
        return audio.astype(np.float32, copy=False)
    g = math.gcd(int(from_rate), int(to_rate))
    out = resample_poly(audio.astype(np.float64), int(to_rate) // g, int(from_rate) // g, axis=-1)
    return out.astype(np.float32)


def load_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an audio file as float32 mono at ``SAMPLE_RATE``.

    Raises ``AudioInputError`` (message names the file) when the file is missing, empty,
    not audio, holds NaN/Inf samples, or is shorter than one STFT frame (``MIN_SAMPLES``
    at 16 kHz). Silence is valid: check ``is_silent`` to warn about it.
    """
    path = Path(path)
    if not path.exists():
        raise AudioInputError(f"{path}: no such file")
    if not path.is_file():
        raise AudioInputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise AudioInputError(f"{path}: the file is empty (0 bytes)")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioInputError(
            f"{path}: not a readable audio file (expected WAV, FLAC or OGG): {exc}"
        ) from None
    if data.shape[0] == 0:
        raise AudioInputError(f"{path}: the file holds no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioInputError(f"{path}: the audio contains NaN or infinite samples")
    audio = resample(data.mean(axis=1), rate, SAMPLE_RATE)
    if audio.shape[0] < MIN_SAMPLES:
        raise AudioInputError(
            f"{path}: too short: {audio.shape[0]} samples at {SAMPLE_RATE} Hz "
            f"({1000 * audio.shape[0] / SAMPLE_RATE:.1f} ms); at least {MIN_SAMPLES} samples "
            f"({1000 * MIN_SAMPLES / SAMPLE_RATE:.0f} ms, one STFT frame) are needed"
        )
    return np.ascontiguousarray(audio, dtype=np.float32)


def is_silent(audio: np.ndarray, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    """True when the RMS level of ``audio`` is below ``threshold_dbfs`` (default -60 dBFS)."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.size == 0:
        return True
    rms = math.sqrt(float(np.mean(audio**2)))
    return rms == 0.0 or 20.0 * math.log10(rms) < threshold_dbfs


def write_wav(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    rate: int = SAMPLE_RATE,
    subtype: WavSubtype = "PCM_16",
) -> Path:
    """Write ``audio`` (frames, or frames x channels) as a WAV file, atomically.

    ``subtype`` "PCM_16" clips samples to [-1, 1]; "FLOAT" stores them as 32-bit float.
    The WAV is encoded in memory, then written through ``engine.files.atomic.atomic_output``
    (temporary file beside ``path``, fsync, ``os.replace``; parent folders created): readers
    see the old file or the complete new one, never a partial one. A failed write (disk
    full, file too large, no permission) raises ``SpandexError`` and leaves no temporary
    file. Returns the path written.
    """
    path = Path(path)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.shape[0] == 0:
        raise AudioInputError(f"{path}: cannot write audio of shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise AudioInputError(f"{path}: refusing to write audio that contains NaN or Inf")
    if subtype not in ("PCM_16", "FLOAT"):
        raise ValueError(f"subtype must be 'PCM_16' or 'FLOAT', got {subtype!r}")
    if subtype == "PCM_16":
        audio = np.clip(audio, -1.0, 1.0)
    encoded = io.BytesIO()
    sf.write(encoded, audio, int(rate), subtype=subtype, format="WAV")
    try:
        with atomic_output(path) as tmp:
            tmp.write_bytes(encoded.getbuffer())
    except OSError as exc:
        raise SpandexError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return path
