"""Streaming STFT and inverse STFT, one 128-sample hop at a time — the N-DNS framing.

N-DNS computes ``torch.stft(x, 512)`` : hop 128, rectangular window, centred frames (frame ``t`` covers
samples ``[128t − 256, 128t + 256)``), and inverts with ``torch.istft``, which overlap-adds and divides
by the window envelope. A live stream has no edges to reflect, so the edges here are silence: for a length
that is a whole number of hops, whole-file streaming equals ``torch.stft(..., center=True,
pad_mode='constant')`` → ``torch.istft`` to floating-point rounding (tested to 1e-6), and differs from N-DNS's
reflect padding only in the first and last two frames. A length with a partial last hop gets one frame more
than ``torch.stft`` makes (the partial hop is framed, not dropped).

Timing: after input hop ``k`` the analysis window is complete for frame ``k − 1``; once that frame is
added, output samples ``[128(k − 3), 128(k − 2))`` are final. The output therefore lags the input by
:data:`LATENCY_SAMPLES` = 384 samples (3 hops, 24 ms), plus the one hop of buffering that collecting the
input hop takes (32 ms in all).
"""

from __future__ import annotations

import numpy as np

from engine.constants import HOP, N_BINS, N_FFT, SAMPLE_RATE

LATENCY_SAMPLES = 3 * HOP
"""Output sample ``n`` leaves :class:`StreamingISTFT` 384 samples after input sample ``n`` entered."""


class StreamingSTFT:
    """Analysis: push hops in, get a spectrum frame out once its window is complete."""

    def __init__(self) -> None:
        self.window = np.zeros(N_FFT)
        self.hops_seen = 0

    def reset(self) -> None:
        self.window[:] = 0.0
        self.hops_seen = 0

    def push(self, hop: np.ndarray) -> np.ndarray | None:
        """Add one hop of 128 samples; return the complex spectrum (257 bins) of the frame it completes.

        The first hop completes no frame (frame −1 would centre before the stream began): ``None``.
        """
        self.window[:-HOP] = self.window[HOP:]
        self.window[-HOP:] = hop
        self.hops_seen += 1
        if self.hops_seen < 2:
            return None
        return np.fft.rfft(self.window)


def streamed_magnitudes(audio: np.ndarray) -> np.ndarray:
    """|STFT| of a whole signal as ``(frames, N_BINS)``: the frames a runner gets when the signal streams
    through :class:`StreamingSTFT` (whole hops only; no tail). For benchmarks and offline analysis."""
    stft, frames = StreamingSTFT(), []
    for hop in np.asarray(audio, dtype=np.float64)[: len(audio) // HOP * HOP].reshape(-1, HOP):
        spectrum = stft.push(hop)
        if spectrum is not None:
            frames.append(np.abs(spectrum))
    return np.array(frames).reshape(-1, N_BINS)


class StreamingISTFT:
    """Synthesis: overlap-add frames, normalised by the number of frames that covered each sample."""

    def __init__(self) -> None:
        self.accumulator = np.zeros(N_FFT)
        self.coverage = np.zeros(N_FFT)

    def reset(self) -> None:
        self.accumulator[:] = 0.0
        self.coverage[:] = 0.0

    def push(self, spectrum: np.ndarray | None) -> np.ndarray:
        """Add one frame (or ``None`` where no frame exists) and return the next 128 final samples."""
        if spectrum is not None:
            self.accumulator += np.fft.irfft(spectrum, N_FFT)
            self.coverage += 1.0
        covered = self.coverage[:HOP]
        out = np.divide(self.accumulator[:HOP], covered, out=np.zeros(HOP), where=covered > 0)
        self.accumulator[:-HOP] = self.accumulator[HOP:]
        self.accumulator[-HOP:] = 0.0
        self.coverage[:-HOP] = self.coverage[HOP:]
        self.coverage[-HOP:] = 0.0
        return out

ALGORITHMIC_LATENCY_S = (LATENCY_SAMPLES + HOP) / SAMPLE_RATE
"""32 ms: the 384-sample lag plus the hop of input that must be collected before it is processed."""
