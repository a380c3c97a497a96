"""The denoiser: STFT → SDNN mask on the noisy magnitude (noisy phase kept) → inverse STFT.

:class:`StreamingDenoiser` takes one 128-sample hop at 16 kHz and returns one hop, 384 samples late
(:data:`engine.dsp.stft.LATENCY_SAMPLES`; one hop more on the Lava backend). :func:`denoise` runs a whole
signal through the same streaming path and returns it time-aligned, the same length as its input. Without
a runner both only encode and decode (mask 1): what N-DNS calls the encoder+decoder baseline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.backends import Runner
from engine.constants import HOP
from engine.dsp.stft import LATENCY_SAMPLES, StreamingISTFT, StreamingSTFT
from engine.snn.telemetry import FrameTelemetry, RunTotals


class StreamingDenoiser:
    """One model's streaming denoiser. Not thread-safe: call it from one thread (the audio worker).

    A runner whose ``latency_frames`` is ``L`` answers each frame ``L`` calls late (the Lava backend:
    1); the denoiser keeps the last ``L`` spectra to pair each mask with its own frame, and the output
    lags the input by :attr:`latency_samples` = 384 + 128·L samples.
    """

    def __init__(self, runner: Runner | None) -> None:
        self.runner = runner
        self.analysis = StreamingSTFT()
        self.synthesis = StreamingISTFT()
        self.runner_latency = int(getattr(runner, "latency_frames", 0))
        self.waiting: deque[np.ndarray] = deque()  # spectra whose masks the runner has not given yet

    @property
    def latency_samples(self) -> int:
        return LATENCY_SAMPLES + self.runner_latency * HOP

    def reset(self) -> None:
        """Start a new stream: clear the framing buffers and the network's state."""
        self.analysis.reset()
        self.synthesis.reset()
        self.waiting.clear()
        if self.runner is not None:
            self.runner.reset()

    def process(self, hop: np.ndarray) -> tuple[np.ndarray, FrameTelemetry | None]:
        """Denoise one hop of 128 samples; return 128 output samples and the telemetry of a frame.

        Telemetry is ``None`` while no frame is complete (the stream's first hop, plus the runner's
        ``latency_frames``) and without a runner.
        """
        if hop.shape != (HOP,):
            raise ValueError(f"a hop is {HOP} samples, got shape {hop.shape}")
        spectrum = self.analysis.push(hop)
        if spectrum is None or self.runner is None:
            return self.synthesis.push(spectrum), None
        mask, telemetry = self.runner.step(np.abs(spectrum))
        if self.runner_latency:
            self.waiting.append(spectrum)
            if len(self.waiting) <= self.runner_latency:
                return self.synthesis.push(None), None
            spectrum = self.waiting.popleft()
        return self.synthesis.push(spectrum * mask), telemetry

    def finish(self) -> tuple[np.ndarray, list[FrameTelemetry]]:
        """End the stream: push silence through until every input sample has left."""
        tail, frames = [], []
        # completes the last two frames, whose windows reach past the end, and collects late masks
        for _ in range(2 + self.runner_latency):
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
    latency = denoiser.latency_samples
    totals = None if runner is None else RunTotals(layer_sizes=runner.model.neuron_counts[:-1])
    out = np.empty(n_hops * HOP + latency)
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
    return DenoiseResult(audio=out[latency:latency + n].astype(np.float32), totals=totals)
