"""Noisy/clean pairs for training and validation, read from an N-DNS-style folder as it is (splits and
datasets: see :mod:`engine.training.dataset_layout`).

:class:`PairedClips` holds a whole split in memory (training clips as 16-bit integers with one scale per clip:
5 h of pairs take about 1.2 GB) and draws random fixed-length segments for training batches.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.constants import HOP
from engine.errors import SpandexError
from engine.files.audio import load_audio
from engine.files.pairing import UnpairedFilesWarning, pair_files


@dataclass
class PairedClips:
    """Every pair of a split, in memory, each clip cut to a whole number of hops."""

    names: list[str]
    noisy: list[np.ndarray]
    clean: list[np.ndarray]
    scales: np.ndarray | None = None  # int16 storage: value = sample * scale

    @classmethod
    def load(cls, folder: str | os.PathLike, compact: bool = False, limit: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> PairedClips:
        """Read a split; ``compact`` stores 16-bit samples (training), else float32 (validation)."""
        folder = Path(folder)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnpairedFilesWarning)  # N-DNS splits also hold noise/ files
            pairs = pair_files(folder / "noisy", folder / "clean")
        if limit is not None:
            pairs = pairs[:limit]
        names, noisy, clean, scales = [], [], [], []
        for done, pair in enumerate(pairs):
            x, s = load_audio(pair.noisy), load_audio(pair.clean)
            n = min(x.size, s.size) // HOP * HOP
            if n < 4 * HOP:
                continue
            x, s = x[:n], s[:n]
            if compact:
                peak = max(float(np.max(np.abs(x))), float(np.max(np.abs(s))), 1e-9)
                scale = peak / 32767.0
                x = np.round(x / scale).astype(np.int16)
                s = np.round(s / scale).astype(np.int16)
                scales.append(scale)
            names.append(pair.key)
            noisy.append(x)
            clean.append(s)
            if progress is not None:
                progress(done + 1, len(pairs))
        if not names:
            raise SpandexError(f"{folder}: no usable pair (every clip is shorter than 4 hops)")
        return cls(names, noisy, clean, np.array(scales) if compact else None)

    def __len__(self) -> int:
        return len(self.names)

    def clean_as_input(self) -> PairedClips:
        """The same clips with their clean speech as the input as well: scored on them, a model's output says how much
        it harms speech with no noise ("clean speech in -> out")."""
        return PairedClips(self.names, [c.copy() for c in self.clean], self.clean, self.scales)

    @property
    def seconds(self) -> float:
        return sum(x.size for x in self.noisy) / 16000

    @property
    def fingerprint(self) -> str:
        """Seven hex digits of a SHA-1 over every clip's audio, noisy and clean, in order: a split built again (other
        clips under the same names) has another. Of the audio as loaded: a split loaded ``compact`` (16-bit, for
        training) has another than the same split in float32, as every validation loads it."""
        digest = hashlib.sha1()
        for index in range(len(self.names)):
            for audio in self.clip(index):
                digest.update(np.ascontiguousarray(audio, dtype="<f4").tobytes())
        return digest.hexdigest()[:7]

    def clip(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Clip ``index`` as float32 (noisy, clean)."""
        scale = 1.0 if self.scales is None else self.scales[index]
        return (self.noisy[index] * np.float32(scale)).astype(np.float32), \
            (self.clean[index] * np.float32(scale)).astype(np.float32)

    def batch(self, rng: np.random.Generator, size: int, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` random segments of ``samples`` (clips shorter than that are zero-padded)."""
        noisy = np.zeros((size, samples), dtype=np.float32)
        clean = np.zeros((size, samples), dtype=np.float32)
        for row in range(size):
            index = int(rng.integers(len(self)))
            x, s = self.noisy[index], self.clean[index]
            start = int(rng.integers(x.size - samples + 1)) if x.size > samples else 0
            scale = 1.0 if self.scales is None else self.scales[index]
            take = min(samples, x.size)
            noisy[row, :take] = x[start:start + take] * scale
            clean[row, :take] = s[start:start + take] * scale
        return torch.from_numpy(noisy), torch.from_numpy(clean)

    def batches_in_order(self, size: int) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """Every clip once, grouped ``size`` at a time by equal length: (indices, noisy, clean)."""
        by_length: dict[int, list[int]] = {}
        for index, x in enumerate(self.noisy):
            by_length.setdefault(x.size, []).append(index)
        for _length, indices in sorted(by_length.items()):
            for start in range(0, len(indices), size):
                chunk = indices[start:start + size]
                pairs = [self.clip(i) for i in chunk]
                yield chunk, torch.from_numpy(np.stack([p[0] for p in pairs])), \
                    torch.from_numpy(np.stack([p[1] for p in pairs]))
