"""The GUI's memory of the last seconds of telemetry: rolling arrays the plots draw from.

The main window's timer drains the engine's frame ring into :meth:`FrameHistory.extend` (a few records
per tick); every plot then reads these arrays. No engine work happens here — only copies and means.

Each array is a window on a store twice its length: a tick writes its few new rows after the window and
moves the window on; only when the store is full are the last ``length`` rows copied back to its start
(once per ``length`` hops, 3 s). Shifting every array by the new rows on every tick, as before, moved
~0.8 MB a tick and cost about a twentieth of the window's time per frame (cProfile).
"""

from __future__ import annotations

import numpy as np

from engine.constants import N_BINS
from engine.evaluation.metrics import power_proxy_ops_per_s
from engine.live.paced import Fallback
from engine.live.record import MAX_MODELS, RASTER_NEURONS

HISTORY_HOPS = 375
"""Hops kept and drawn: 3 s."""


class _Rolling:
    """A :class:`FrameHistory` array: the newest ``length`` rows (oldest first) of a store twice as long,
    read as a view (no copy)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.store = "_" + name

    def __get__(self, history: FrameHistory, owner: type | None = None) -> np.ndarray:
        return getattr(history, self.store)[history.start:history.start + history.length]


ROLLING = {
    # name: (record field, dtype, shape after the time axis, value before any record, record unit / ours)
    "in_db": ("in_db", np.float32, (N_BINS,), -120.0, 1),
    "out_db": ("out_db", np.float32, (N_BINS,), -120.0, 1),
    "fired_packed": ("fired", np.uint8, (RASTER_NEURONS // 8,), 0, 1),
    "synops": ("synops", np.float64, (MAX_MODELS,), 0.0, 1),
    "synops_dense": ("synops_dense", np.float64, (MAX_MODELS,), 0.0, 1),
    "neuronops": ("neuronops", np.float64, (MAX_MODELS,), 0.0, 1),
    "compute_us": ("compute_ns", np.float64, (MAX_MODELS,), 0.0, 1000),
    "cpu_us": ("cpu_ns", np.float64, (MAX_MODELS,), 0.0, 1000),
    "events": ("events", np.float64, (MAX_MODELS, 6), 0.0, 1),
    "realtime": ("realtime", np.float32, (MAX_MODELS,), np.nan, 1),
    "fallback": ("fallback", np.int8, (MAX_MODELS,), 0, 1),
    "worker_us": ("worker_ns", np.float64, (), 0.0, 1000),
    "models_version": ("models_version", np.uint32, (), 0, 1),
}
"""The rolling arrays of :class:`FrameHistory` and where each comes from in a record."""


class FrameHistory:
    """The newest ``length`` hops (oldest first, newest last) of what the engine published.

    ``fired`` stays packed (8 neurons a byte, as the engine sends it): :meth:`fired_hops` unpacks the
    newest hops for the raster, which draws only what is new."""

    in_db = _Rolling()
    out_db = _Rolling()
    fired_packed = _Rolling()
    synops = _Rolling()
    synops_dense = _Rolling()
    neuronops = _Rolling()
    compute_us = _Rolling()
    cpu_us = _Rolling()
    events = _Rolling()
    realtime = _Rolling()
    fallback = _Rolling()
    worker_us = _Rolling()
    models_version = _Rolling()

    def __init__(self, length: int = HISTORY_HOPS) -> None:
        self.length = length
        self.start = 0  # where the window begins in each store
        for name, (_, dtype, shape, fill, _) in ROLLING.items():
            setattr(self, "_" + name, np.full((2 * length, *shape), fill, dtype=dtype))
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
        at = self.start + self.length  # where the new rows go
        if at + n > 2 * self.length:  # the stores are full: their newest rows move to the start
            at = self.length - n
            for name in ROLLING:
                store = getattr(self, "_" + name)
                store[:at] = store[self.start + n:self.start + self.length]
        for name, (field, _, _, _, unit) in ROLLING.items():
            getattr(self, "_" + name)[at:at + n] = records[field] / unit if unit != 1 else records[field]
        self.start = at + n - self.length
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

    def since_models_changed(self, window: slice) -> slice:
        """``window`` without its hops from before the last load or removal of a model."""
        versions = self.models_version[window]
        if versions.size == 0:
            return window
        first = int(np.searchsorted(versions, versions[-1]))  # (the version only grows)
        return slice(window.start + first, window.stop)

    def recent(self, hops: int) -> slice:
        return slice(self.length - min(hops, self.frames_seen, self.length), self.length)

    def model_summary(self, slot: int, layer_sizes: list[int], hops: int = 125) -> dict:
        """Means over the last ``hops`` (1 s) for one model: SynOps, M-Ops/s, activity sparsity, µs; of the hops since
        the models last changed only (after a removal, a slot's earlier hops were another model's)."""
        window = self.since_models_changed(self.recent(hops))
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
        window = self.since_models_changed(self.recent(hops))
        fallback = self.fallback[window, slot]
        share = float(np.mean(fallback != Fallback.NONE)) if fallback.size else 0.0
        return float(self.realtime[-1, slot]), share, Fallback(int(self.fallback[-1, slot]))
