"""The denoiser: STFT → SDNN mask (sharpened where the model asks) on the noisy magnitude (noisy phase kept) →
inverse STFT.

:class:`StreamingDenoiser` takes one 128-sample hop at 16 kHz and returns one hop, 384 samples late
(:data:`engine.dsp.stft.LATENCY_SAMPLES`; one hop more on the Lava backend). :func:`denoise` runs a whole
signal through the same streaming path and returns it time-aligned, the same length as its input;
:class:`AlignedDenoiser` does the same block by block, for files of any length. Without a runner both only
encode and decode (mask 1): what N-DNS calls the encoder+decoder baseline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.backends import Runner
from engine.constants import HOP
from engine.dsp.level import LevelNormaliser
from engine.dsp.stft import LATENCY_SAMPLES, StreamingISTFT, StreamingSTFT
from engine.snn.mask import sharpened
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
        self.level = front_end(runner)
        self.sharpening = 0.0 if runner is None else runner.model.decoder.sharpening  # (engine/snn/mask.py)
        self.waiting: deque[np.ndarray] = deque()  # spectra whose masks the runner has not given yet

    @property
    def latency_samples(self) -> int:
        return LATENCY_SAMPLES + self.runner_latency * HOP

    def reset(self) -> None:
        """Start a new stream: clear the framing buffers and the network's state."""
        self.analysis.reset()
        self.synthesis.reset()
        self.waiting.clear()
        if self.level is not None:
            self.level.reset()
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
        magnitude = np.abs(spectrum)
        mask, telemetry = self.runner.step(magnitude if self.level is None else self.level.scale(magnitude))
        if mask is not None:  # (a late runner's first answers are None)
            mask = sharpened(mask, self.sharpening)
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


def front_end(runner: Runner | None) -> LevelNormaliser | None:
    """The input levelling the runner's model asks for (its frames scaled before the network hears them)."""
    level = None if runner is None else runner.model.encoder.level
    return None if level is None else LevelNormaliser(level)


@dataclass
class DenoiseResult:
    audio: np.ndarray
    totals: RunTotals | None


class AlignedDenoiser:
    """A signal of any length through :class:`StreamingDenoiser`, in blocks of any size, delay compensated.

    ``push(block)`` returns the output samples ready so far, ``finish()`` the rest: put together they are the
    input's length and time-aligned with it, sample for sample what :func:`denoise` returns for the whole
    signal (the hops, their zero padding and the state are the same). Memory does not grow with the length, so
    files hours long stream from disk to disk. ``totals`` adds up the network's telemetry (None without a
    runner). Not for the audio callback: it allocates per block.
    """

    def __init__(self, runner: Runner | None) -> None:
        self.denoiser = StreamingDenoiser(runner)
        self.denoiser.reset()
        self.totals = None if runner is None else RunTotals(layer_sizes=runner.model.neuron_counts[:-1])
        self.pending = np.zeros(0)  # input not yet a whole hop
        self.to_skip = self.denoiser.latency_samples  # the first output samples precede the input
        self.received = 0
        self.given = 0

    def run_totals(self) -> RunTotals:
        """``totals`` of a denoiser with a runner (encode+decode alone has none: ValueError)."""
        if self.totals is None:
            raise ValueError("a denoiser without a runner has no telemetry totals")
        return self.totals

    def push(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float64)
        self.received += block.size
        samples = np.concatenate((self.pending, block)) if self.pending.size else block
        whole = samples.size // HOP * HOP
        self.pending = samples[whole:].copy()
        return self._aligned(self._hops(samples[:whole]))

    def finish(self) -> np.ndarray:
        """The last samples: the partial hop (padded with zeros) and the tail still inside the network."""
        last = np.zeros(HOP if self.pending.size else 0)
        last[:self.pending.size] = self.pending
        self.pending = np.zeros(0)
        out = self._hops(last)
        tail, frames = self.denoiser.finish()
        for telemetry in frames:  # telemetry only comes with a runner
            self.run_totals().add(telemetry)
        return self._aligned(np.concatenate((out, tail)))

    def _hops(self, samples: np.ndarray) -> np.ndarray:
        out = np.empty(samples.size)
        for k in range(0, samples.size, HOP):
            out[k:k + HOP], telemetry = self.denoiser.process(samples[k:k + HOP])
            if telemetry is not None:  # never without a runner, whose totals exist
                self.run_totals().add(telemetry)
        return out

    def _aligned(self, out: np.ndarray) -> np.ndarray:
        skip = min(self.to_skip, out.size)
        self.to_skip -= skip
        out = out[skip:skip + self.received - self.given]
        self.given += out.size
        return out.astype(np.float32)


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
    n_hops = -(-audio.shape[0] // HOP)
    stream = AlignedDenoiser(runner)
    parts = []
    for start in range(0, audio.shape[0], PROGRESS_HOPS * HOP):
        parts.append(stream.push(audio[start:start + PROGRESS_HOPS * HOP]))
        if progress is not None:
            progress(min(n_hops, start // HOP + PROGRESS_HOPS), n_hops)
    parts.append(stream.finish())
    return DenoiseResult(audio=np.concatenate(parts), totals=stream.totals)


PROGRESS_HOPS = 64
"""Hops between two calls of :func:`denoise`'s ``progress``."""
