"""The real-time part of the live engine: what runs on PortAudio's callback thread, every block.

:class:`AudioCallback` copies the input block into the input ring (or the looping file, when a file is
the microphone), copies the output block from the output ring (silence if the worker is late: counted),
counts PortAudio's status flags (xruns), times itself, and rings the worker's doorbell. It keeps the
rules of :mod:`engine.live`: no lock, no array allocation, no model code. The worker
(:mod:`engine.live.worker`) configures it between blocks by replacing attributes, never by mutating
what the callback is reading.
"""

from __future__ import annotations

import time

import numpy as np

from engine.constants import SAMPLE_RATE
from engine.live.record import (
    CALLBACKS,
    DEVICE_GAPS,
    INPUT_DROPPED,
    LATENCY_TRIMS,
    PA_FLAGS,
    RING_LATE,
    RING_LATE_COUNT,
    SharedBlock,
)
from engine.live.ring import Doorbell, SampleRing


class LoopingSource:
    """A file as a microphone: its samples at the device rate, played in a loop (callback-safe fill)."""

    def __init__(self, audio: np.ndarray, path: str) -> None:
        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        self.path = path
        self.position = 0

    def fill(self, out: np.ndarray) -> None:
        n, size = out.shape[0], self.audio.size
        done = 0
        while done < n:
            take = min(n - done, size - self.position)
            out[done:done + take] = self.audio[self.position:self.position + take]
            self.position = (self.position + take) % size
            done += take


class AudioCallback:
    """The real-time part: rings in and out, flags counted, itself timed. See :mod:`engine.live.callback`."""

    def __init__(self, shared: SharedBlock, doorbell: Doorbell, capacity: int) -> None:
        self.counters = shared.counters
        self.timings = shared.callbacks
        self.doorbell = doorbell
        self.in_ring = SampleRing(capacity)
        self.out_ring = SampleRing(capacity)
        self.source: LoopingSource | None = None  # replaced (not mutated) by the worker
        self.scratch = np.zeros(capacity, dtype=np.float32)
        self.rate = SAMPLE_RATE        # the stream's rate, and its clock's last reading; set by the worker
        self.last_stream_time = 0.0
        self.target_fill = 0      # samples of output the ring should hold (the prefill); set by the worker
        self.max_fill = capacity  # above this, the callback trims back to target_fill
        self.last_call = time.monotonic()

    def __call__(self, indata: np.ndarray | None, outdata: np.ndarray | None, frames: int, flags: int,
                 stream_time: float) -> None:
        start = time.perf_counter_ns()
        counters = self.counters
        counters[CALLBACKS] += 1
        if stream_time > 0.0:
            if self.last_stream_time > 0.0 and stream_time - self.last_stream_time > 1.5 * frames / self.rate:
                counters[DEVICE_GAPS] += 1  # the server skipped us: PortAudio flags nothing
            self.last_stream_time = stream_time
        for bit, counter in PA_FLAGS:
            if flags & bit:
                counters[counter] += 1
        source = self.source
        if source is not None:
            block = self.scratch[:frames]
            source.fill(block)
        elif indata is not None:
            block = indata[:, 0]
        else:
            block = self.scratch[:frames]
            block.fill(0.0)
        counters[INPUT_DROPPED] += frames - self.in_ring.write(block)
        if outdata is not None:
            surplus = self.out_ring.available() - self.max_fill
            if surplus > 0:  # late hops piled up: drop them rather than keep the extra latency
                self.out_ring.skip(surplus + self.max_fill - self.target_fill)
                counters[LATENCY_TRIMS] += 1
            if self.out_ring.read_into(outdata[:, 0]) == 0:
                outdata.fill(0.0)
                counters[RING_LATE_COUNT] += 1
                flags |= RING_LATE
            elif outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
        self.doorbell.ring()
        self.last_call = time.monotonic()
        record = self.timings.claim()
        record["t"] = self.last_call
        record["frames"] = frames
        record["flags"] = flags
        record["duration_ns"] = time.perf_counter_ns() - start
        self.timings.publish()
