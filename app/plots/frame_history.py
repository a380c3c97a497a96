"""The GUI's memory of the last seconds of telemetry: rolling arrays the plots draw from.

The main window's timer drains the engine's frame ring into :meth:`FrameHistory.extend` (a few records
per tick); every plot then reads these arrays. No engine work happens here — only copies and means.
"""

from __future__ import annotations

import numpy as np

from engine.constants import N_BINS
from engine.evaluation.metrics import power_proxy_ops_per_s
from engine.live.paced import Fallback
from engine.live.record import MAX_MODELS, RASTER_NEURONS

HISTORY_HOPS = 375
"""Hops kept and drawn: 3 s."""


class FrameHistory:
    """The newest ``length`` hops (oldest first, newest last) of what the engine published.

    ``fired`` stays packed (8 neurons a byte, as the engine sends it): :meth:`fired_hops` unpacks the
    newest hops for the raster, which draws only what is new."""

    def __init__(self, length: int = HISTORY_HOPS) -> None:
        self.length = length
        self.in_db = np.full((length, N_BINS), -120.0, dtype=np.float32)
        self.out_db = np.full((length, N_BINS), -120.0, dtype=np.float32)
        self.fired_packed = np.zeros((length, RASTER_NEURONS // 8), dtype=np.uint8)
        self.synops = np.zeros((length, MAX_MODELS))
        self.synops_dense = np.zeros((length, MAX_MODELS))
        self.neuronops = np.zeros((length, MAX_MODELS))
        self.compute_us = np.zeros((length, MAX_MODELS))
        self.cpu_us = np.zeros((length, MAX_MODELS))
        self.events = np.zeros((length, MAX_MODELS, 6))
        self.realtime = np.full((length, MAX_MODELS), np.nan, dtype=np.float32)
        self.fallback = np.zeros((length, MAX_MODELS), dtype=np.int8)
        self.worker_us = np.zeros(length)
        self.in_peak = 0.0
        self.out_peak = 0.0
        self.playing = -1
        self.shown = -1
        self.noise_db = -np.inf
        self.out_ring_samples = 0
        self.frames_seen = 0

    def extend(self, records: np.ndarray) -> None:
        """Append records (a :data:`engine.live.record.FRAME_DTYPE` array), dropping the oldest."""
        n = min(records.size, self.length)
        if n == 0:
            return
        records = records[-n:]
        for name, values in (
            ("in_db", records["in_db"]), ("out_db", records["out_db"]),
            ("fired_packed", records["fired"]),
            ("synops", records["synops"]), ("synops_dense", records["synops_dense"]),
            ("neuronops", records["neuronops"]), ("compute_us", records["compute_ns"] / 1e3),
            ("cpu_us", records["cpu_ns"] / 1e3), ("events", records["events"]),
            ("worker_us", records["worker_ns"] / 1e3), ("realtime", records["realtime"]),
            ("fallback", records["fallback"]),
        ):
            array = getattr(self, name)
            array[:-n] = array[n:]
            array[-n:] = values
        last = records[-1]
        self.in_peak = float(records["in_peak"].max())
        self.out_peak = float(records["out_peak"].max())
        self.playing = int(last["playing"])
        self.shown = int(last["shown"])
        self.noise_db = float(last["noise_db"])
        self.out_ring_samples = int(last["out_ring_samples"])
        self.frames_seen += records.size

    def fired_hops(self, hops: int, neurons: int) -> np.ndarray:
        """Which of the first ``neurons`` neurons spiked, for the newest ``hops`` hops: (hops, neurons) 0/1."""
        return np.unpackbits(self.fired_packed[self.length - hops:], axis=1, count=neurons)

    def recent(self, hops: int) -> slice:
        return slice(self.length - min(hops, self.frames_seen, self.length), self.length)

    def model_summary(self, slot: int, layer_sizes: list[int], hops: int = 125) -> dict:
        """Means over the last ``hops`` (1 s) for one model: SynOps, M-Ops/s, activity sparsity, µs."""
        window = self.recent(hops)
        if window.start == window.stop:
            return {"synops": 0.0, "synops_dense": 0.0, "mops": 0.0, "compute_us": 0.0, "cpu_us": 0.0,
                    "activity_sparsity": [1.0] * len(layer_sizes)}
        synops = float(self.synops[window, slot].mean())
        neuronops = float(self.neuronops[window, slot].mean())
        events = self.events[window, slot, :len(layer_sizes)].mean(axis=0)
        return {
            "synops": synops,
            "synops_dense": float(self.synops_dense[window, slot].mean()),
            "mops": power_proxy_ops_per_s(synops, neuronops) / 1e6,
            "compute_us": float(np.median(self.compute_us[window, slot])),
            "cpu_us": float(np.median(self.cpu_us[window, slot])),
            "activity_sparsity": [float(1.0 - e / n) for e, n in zip(events, layer_sizes)],
        }

    def pace_summary(self, slot: int, hops: int = 125) -> tuple[float, float, Fallback]:
        """A paced slot (Lava) over the last ``hops`` (1 s): its latest speed (× real time, NaN before it
        answered), the share of hops whose mask came from its CPU twin, and the latest :class:`Fallback`."""
        window = self.recent(hops)
        fallback = self.fallback[window, slot]
        share = float(np.mean(fallback != Fallback.NONE)) if fallback.size else 0.0
        return float(self.realtime[-1, slot]), share, Fallback(int(self.fallback[-1, slot]))
