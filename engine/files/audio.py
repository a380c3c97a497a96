"""Reading and writing audio files for the engine.

Everything the engine processes is float32 mono at ``SAMPLE_RATE`` (16 kHz). ``open_audio`` checks a file
through once (header against data, NaN/Inf, level, length) and describes it; its ``blocks()`` then read it as
16 kHz mono, block by block, so files hours long stream with bounded memory; ``load_audio`` reads a whole file
the same way. Any file libsndfile can read (WAV, FLAC, OGG, ...) converts — channels are averaged, other rates
go through a polyphase resampler — and every way a file can be unusable becomes an ``AudioInputError`` naming
the file and the problem. ``write_wav`` writes atomically, so a crash or a full disk never leaves a half-written
file behind.

None of this is for the audio callback: these functions allocate and touch the disk.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from engine.constants import N_FFT, SAMPLE_RATE
from engine.dsp.block_resampler import BlockResampler
from engine.errors import AudioInputError, SpandexError
from engine.files.atomic import atomic_output
from engine.files.readable import unreadable

MIN_SAMPLES = N_FFT
"""The shortest usable input: one STFT frame (n_fft 512) at ``SAMPLE_RATE``."""

SILENCE_DBFS = -60.0
"""RMS level (dB re full scale) below which ``is_silent`` calls audio silent."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
"""The file names read as recordings where a folder is given (`spandex eval`, `spandex data build`): what
:func:`load_audio` and ``spandex denoise`` read (libsndfile), by suffix."""

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
    from scipy.signal import resample_poly  # about a second to import: only when a file needs resampling

    out = resample_poly(audio.astype(np.float64), int(to_rate) // g, int(from_rate) // g, axis=-1)
    return out.astype(np.float32)


class AudioFileWarning(UserWarning):
    """A file was usable but not as its header describes (truncated, damaged): what was read is said."""


BLOCK_FRAMES = 65536
"""Frames read from a file at a time when streaming (4 s at 16 kHz): memory does not grow with length."""


@dataclass
class AudioSource:
    """An audio file checked through once and then read in blocks, as float32 mono at ``SAMPLE_RATE``.

    :func:`open_audio` makes one. ``frames`` counts the input frames that can be read (at ``rate``): fewer than
    the header says when the file is truncated, which ``problems`` then says, naming both lengths. ``samples``
    is the length at 16 kHz. :meth:`blocks` resamples with :class:`engine.dsp.block_resampler.BlockResampler`, so
    the blocks put together are bit for bit the signal :func:`load_audio` returns.
    """

    path: Path
    rate: int
    channels: int
    frames: int
    samples: int
    level_dbfs: float
    problems: list[str]
    channels_dbfs: float = -math.inf
    """RMS level of its channels together, each as recorded (``level_dbfs`` is the mono mix's, what is denoised)."""
    varying_dbfs: float = -math.inf
    """RMS level of the mono mix less its mean: a constant offset (DC) alone is -inf here, as silence is."""

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE

    @property
    def silent(self) -> bool:
        """RMS level (of the mono mix) below ``SILENCE_DBFS``."""
        return self.level_dbfs < SILENCE_DBFS

    @property
    def channels_cancel(self) -> bool:
        """Silent mixed to mono, though its channels are not, and 30 dB or more under them: one channel is the other
        inverted (a miswired lead). (A quiet channel beside a silent one loses only 6 dB in the mix.)"""
        return self.silent and self.channels_dbfs >= SILENCE_DBFS and self.channels_dbfs - self.level_dbfs >= 30.0

    def blocks(self, frames: int = BLOCK_FRAMES, limit: int | None = None) -> Iterator[np.ndarray]:
        """The audio in consecutive float32 blocks at 16 kHz (``limit``: stop after that many samples)."""
        resampler = BlockResampler(self.frames, self.rate, SAMPLE_RATE)
        left = self.frames
        given, wanted = 0, self.samples if limit is None else min(limit, self.samples)
        with _open(self.path) as handle:
            while left > 0 and given < wanted:
                data = handle.read(min(frames, left), dtype="float32", always_2d=True)
                if data.shape[0] == 0:  # the file changed since it was checked
                    raise AudioInputError(f"{self.path}: the file became shorter while it was read")
                left -= data.shape[0]
                block = resampler.push(data.mean(axis=1)).astype(np.float32)[:wanted - given]
                given += block.size
                yield np.ascontiguousarray(block, dtype=np.float32)

    def read(self) -> np.ndarray:
        """The whole signal at once (for files that fit in memory)."""
        parts = list(self.blocks())
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def open_audio(path: str | os.PathLike[str]) -> AudioSource:
    """Check an audio file through (one pass, one block in memory at a time) and describe it.

    Raises ``AudioInputError`` (message names the file) when the file is missing, empty, not audio, holds
    NaN/Inf samples, or is shorter than one STFT frame (``MIN_SAMPLES`` at 16 kHz). A file whose data ends
    before its header says is usable: ``problems`` names both lengths. Silence is valid (``silent``).
    """
    path = Path(path)
    if not path.exists():
        raise AudioInputError(f"{path}: no such file")
    if not path.is_file():
        raise AudioInputError(f"{path}: {'a folder' if path.is_dir() else 'not a regular file'}, not an audio file")
    if (why := unreadable(path)) is not None:
        raise AudioInputError(f"{path}: {why}")
    if path.stat().st_size == 0:
        raise AudioInputError(f"{path}: the file is empty (0 bytes)")
    rate, channels, declared, frames, energy, by_channels, total, damage = _scan(path, BLOCK_FRAMES)
    if damage is not None:  # read again in small steps to find how much of it is good
        rate, channels, declared, frames, energy, by_channels, total, damage = _scan(path, 1024)
    if frames == 0:
        raise AudioInputError(f"{path}: the file holds no audio samples"
                              + (f" (the data is damaged from the start: {damage})" if damage else ""))
    problems: list[str] = []
    if damage is not None:
        problems.append(f"{path}: the audio data is damaged after {frames / rate:.2f} s ({damage}); the header "
                        f"says {declared / rate:.2f} s ({declared:,} samples); using the {frames:,} samples "
                        f"({frames / rate:.2f} s) before the damage")
    elif frames < declared:
        problems.append(f"{path}: the header says {declared / rate:.2f} s ({declared:,} samples) but the file "
                        f"holds {frames / rate:.2f} s ({frames:,} samples): truncated? using the "
                        f"{frames / rate:.2f} s there are")
    samples = BlockResampler(frames, rate, SAMPLE_RATE).n_out
    if samples < MIN_SAMPLES:
        raise AudioInputError(
            f"{path}: too short: {samples} samples at {SAMPLE_RATE} Hz "
            f"({1000 * samples / SAMPLE_RATE:.1f} ms); at least {MIN_SAMPLES} samples "
            f"({1000 * MIN_SAMPLES / SAMPLE_RATE:.0f} ms, one STFT frame) are needed"
        )
    varying = max(0.0, energy - total * total / frames)  # (the energy about the mean)
    return AudioSource(path, rate, channels, frames, samples, _dbfs(energy, frames), problems,
                       channels_dbfs=_dbfs(by_channels / channels, frames),
                       varying_dbfs=_dbfs(varying, frames) if varying > 1e-10 * energy else -math.inf)  # (100 dB under)


def _dbfs(energy: float, frames: int) -> float:
    rms = math.sqrt(energy / frames)
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def _scan(path: Path, block: int) -> tuple[int, int, int, int, float, float, float, str | None]:
    """Read a file through: its rate, channels, declared and readable frames, the energy of its mono mix and of
    all its channels, the sum of its mono mix, and the decoder's complaint if it stopped on damaged data (None
    when it read to the end)."""
    frames, energy, total = 0, 0.0, 0.0
    with _open(path) as handle:
        rate, channels = int(handle.samplerate), int(handle.channels)
        declared = max(int(handle.frames), _wav_declared_frames(path, handle) or 0)
        by_channel = np.zeros(channels)
        while True:
            try:
                data = handle.read(block, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                return (rate, channels, declared, frames, energy, float(by_channel.sum()), total,
                        str(exc).strip() or type(exc).__name__)
            if data.shape[0] == 0:
                return rate, channels, declared, frames, energy, float(by_channel.sum()), total, None
            if not np.all(np.isfinite(data)):
                raise AudioInputError(f"{path}: the audio contains NaN or infinite samples")
            mono = data.mean(axis=1, dtype=np.float64)
            energy += float(np.dot(mono, mono))
            total += float(mono.sum())
            by_channel += np.einsum("ij,ij->j", data, data, dtype=np.float64)
            frames += data.shape[0]


def load_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an audio file as float32 mono at ``SAMPLE_RATE`` (the checks and errors of :func:`open_audio`;
    a truncated file is read as far as it goes, with an :class:`AudioFileWarning`).

    Silence is valid: check ``is_silent`` to warn about it.
    """
    source = open_audio(path)
    for problem in source.problems:
        warnings.warn(problem, AudioFileWarning, stacklevel=2)
    return source.read()


@contextlib.contextmanager
def _open(path: Path) -> Iterator[sf.SoundFile]:
    try:
        handle = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        # (libsndfile says a file it cannot decode "does not exist"; this one does: that was checked first)
        said = "its contents are not audio libsndfile can decode" if "does not exist" in str(exc) else str(exc)
        raise AudioInputError(f"{path}: not a readable audio file (expected WAV, FLAC, OGG or MP3): {said}") from None
    with handle:
        yield handle


def _wav_declared_frames(path: Path, handle: sf.SoundFile) -> int | None:
    """The frames a WAV file's ``data`` chunk header declares (libsndfile reports only those present)."""
    if handle.format != "WAV":
        return None
    with open(path, "rb") as raw:
        head = raw.read(4096)
    at = head.find(b"data", 12)
    if at < 0 or at + 8 > len(head):
        return None
    size = int.from_bytes(head[at + 4:at + 8], "little")
    block_align = handle.channels * _SAMPLE_BYTES.get(handle.subtype, 0)
    if size in (0, 0xFFFFFFFF) or block_align == 0:  # streaming writers leave these: nothing declared
        return None
    return size // block_align


_SAMPLE_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8,
                 "ULAW": 1, "ALAW": 1}


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
