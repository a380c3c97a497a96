"""The denoiser: STFT → SDNN mask on the noisy magnitude (noisy phase kept) → inverse STFT.

:class:`StreamingDenoiser` takes one 128-sample hop at 16 kHz and returns one hop, 384 samples late
(:data:`engine.stft.LATENCY_SAMPLES`). :func:`denoise` runs a whole signal through the same streaming
path and returns it time-aligned, the same length as its input. Without a runner both only encode and
decode (mask 1): what N-DNS calls the encoder+decoder baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.backends import Runner
from engine.stft import HOP, LATENCY_SAMPLES, StreamingISTFT, StreamingSTFT
from engine.telemetry import FrameTelemetry, RunTotals


class StreamingDenoiser:
    """One model's streaming denoiser. Not thread-safe: call it from one thread (the audio worker)."""

    def __init__(self, runner: Runner | None) -> None:
        self.runner = runner
        self.analysis = StreamingSTFT()
        self.synthesis = StreamingISTFT()

    def reset(self) -> None:
        """Start a new stream: clear the framing buffers and the network's state."""
        self.analysis.reset()
        self.synthesis.reset()
        if self.runner is not None:
            self.runner.reset()

    def process(self, hop: np.ndarray) -> tuple[np.ndarray, FrameTelemetry | None]:
        """Denoise one hop of 128 samples; return 128 output samples and the frame's telemetry.

        Telemetry is ``None`` on the stream's first hop, which completes no frame, and without a runner.
        """
        if hop.shape != (HOP,):
            raise ValueError(f"a hop is {HOP} samples, got shape {hop.shape}")
        spectrum = self.analysis.push(hop)
        if spectrum is None or self.runner is None:
            return self.synthesis.push(spectrum), None
        mask, telemetry = self.runner.step(np.abs(spectrum))
        return self.synthesis.push(spectrum * mask), telemetry

    def finish(self) -> tuple[np.ndarray, list[FrameTelemetry]]:
        """End the stream: push silence through until every input sample has left (384 samples)."""
        tail, frames = [], []
        for _ in range(2):  # completes the last two frames, whose windows reach past the end
            out, telemetry = self.process(np.zeros(HOP))
            tail.append(out)
            if telemetry is not None:
                frames.append(telemetry)
        tail.append(self.synthesis.push(None))
        return np.concatenate(tail), frames


@dataclass
class DenoiseResult:
    audio: np.ndarray
    totals: RunTotals | None


def denoise(
    audio: np.ndarray,
    runner: Runner | None,
    progress: Callable[[int, int], None] | None = None,
) -> DenoiseResult:
    """Denoise a whole 16 kHz mono signal through the streaming path, delay compensated.

    ``progress(done_hops, total_hops)`` is called now and then for progress bars. With ``runner`` None
    the signal is only encoded and decoded, and ``totals`` is None.
    """
    audio = np.asarray(audio, dtype=np.float64)
    n = audio.shape[0]
    n_hops = -(-n // HOP)
    padded = np.zeros(n_hops * HOP)
    padded[:n] = audio
    denoiser = StreamingDenoiser(runner)
    denoiser.reset()
    totals = None if runner is None else RunTotals(layer_sizes=runner.model.neuron_counts[:-1])
    out = np.empty(n_hops * HOP + LATENCY_SAMPLES)
    for k in range(n_hops):
        out[k * HOP:(k + 1) * HOP], telemetry = denoiser.process(padded[k * HOP:(k + 1) * HOP])
        if telemetry is not None:  # never without a runner, whose totals exist
            totals.add(telemetry)
        if progress is not None and (k % 64 == 0 or k == n_hops - 1):
            progress(k + 1, n_hops)
    tail, frames = denoiser.finish()
    out[n_hops * HOP:] = tail
    for telemetry in frames:
        totals.add(telemetry)
    return DenoiseResult(audio=out[LATENCY_SAMPLES:LATENCY_SAMPLES + n].astype(np.float32), totals=totals)
