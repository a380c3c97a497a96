"""Per-frame telemetry — events, SynOps, NeuronOps, which neurons spiked — and run totals.

Counts come from the frame's real activity (:class:`engine.snn.network.FrameActivity`):

- **events**: nonzero graded spikes each encoding layer (input encoder, hidden layers) emitted;
- **SynOps** (SPANDEX's exact count): every spike a synapse layer *receives* this frame costs one
  operation per nonzero outgoing weight of its source neuron — pruned synapses cost nothing;
- **dense SynOps** (N-DNS style): the same events times the layer's full fan-out, as if no weight were 0;
- **NeuronOps**: neuron updates this frame — as N-DNS counts them, every neuron of every block but the
  output block, each frame (257 + 512 + 512 for the baseline);
- **power proxy**: (SynOps + 10·NeuronOps) per 8 ms hop, in operations per second
  (:func:`engine.evaluation.metrics.power_proxy_ops_per_s`).

Computing it costs a few boolean reductions per frame, cheap enough to leave on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.evaluation.metrics import power_proxy_ops_per_s
from engine.snn.model import SDNNModel


@dataclass(frozen=True, eq=False)
class FrameTelemetry:
    """What one frame cost and did.

    Attributes:
        fired: per encoding layer (input encoder first), a bool per neuron: did it spike this frame?
        events: per encoding layer, how many neurons spiked.
        synops: delivered events times their real (nonzero) fan-out, all synapse layers.
        synops_dense: delivered events times the full fan-out (N-DNS dense-style count).
        neuronops: neuron updates this frame.
        compute_ns: wall time the backend spent on the network step, in nanoseconds.
    """

    fired: tuple[np.ndarray, ...]
    events: tuple[int, ...]
    synops: int
    synops_dense: int
    neuronops: int
    compute_ns: int


def neuronops_per_frame(model: SDNNModel) -> int:
    """NeuronOps per frame as N-DNS counts them: every neuron of every block but the output block."""
    return int(sum(model.neuron_counts[:-1]))


class TelemetryMeter:
    """Turns a frame's activity into :class:`FrameTelemetry` for one model (fan-outs precomputed)."""

    def __init__(self, model: SDNNModel) -> None:
        # fan_out[l][i]: nonzero weights leaving input neuron i of dense layer l
        self.fan_out = tuple(np.count_nonzero(l.weight_mant, axis=0).astype(np.int64) for l in model.layers)
        self.full_fan_out = tuple(l.out_features for l in model.layers)
        self.neuronops = neuronops_per_frame(model)

    def measure(self, emitted: tuple[np.ndarray, ...], delivered: tuple[np.ndarray, ...],
                compute_ns: int) -> FrameTelemetry:
        fired = tuple(spikes != 0 for spikes in emitted)
        synops = 0
        synops_dense = 0
        for spikes, fan_out, full in zip(delivered, self.fan_out, self.full_fan_out):
            arrived = spikes != 0
            synops += int(fan_out[arrived].sum())
            synops_dense += int(arrived.sum()) * full
        return FrameTelemetry(
            fired=fired,
            events=tuple(int(f.sum()) for f in fired),
            synops=synops,
            synops_dense=synops_dense,
            neuronops=self.neuronops,
            compute_ns=compute_ns,
        )


TIME_BIN_RATIO = 1.005
"""Width of a compute-time histogram bin: each bin's upper edge is 0.5 % above its lower one."""
_TIME_FLOOR_NS = 100.0
_TIME_BINS = int(math.log(1e10 / _TIME_FLOOR_NS) / math.log(TIME_BIN_RATIO)) + 1  # 100 ns .. 10 s


def _time_bin(ns: int) -> int:
    return min(_TIME_BINS - 1, max(0, int(math.log(max(ns, 1) / _TIME_FLOOR_NS) / math.log(TIME_BIN_RATIO))))


@dataclass
class RunTotals:
    """Sums over a run of frames, and the averages people quote. Fixed size, however long the run (a 3-hour
    file has 1.35 million frames): compute times are kept as a histogram (:data:`TIME_BIN_RATIO`)."""

    layer_sizes: tuple[int, ...]
    frames: int = 0
    events: np.ndarray = field(init=False)
    synops: int = 0
    synops_dense: int = 0
    neuronops: int = 0
    compute_histogram: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.events = np.zeros(len(self.layer_sizes), dtype=np.int64)
        self.compute_histogram = np.zeros(_TIME_BINS, dtype=np.int64)

    def add(self, frame: FrameTelemetry) -> None:
        self.frames += 1
        self.events += frame.events
        self.synops += frame.synops
        self.synops_dense += frame.synops_dense
        self.neuronops += frame.neuronops
        self.compute_histogram[_time_bin(frame.compute_ns)] += 1

    def merge(self, other: RunTotals) -> None:
        """Add another run's totals (e.g. the next file of an evaluation) to these."""
        self.frames += other.frames
        self.events += other.events
        self.synops += other.synops
        self.synops_dense += other.synops_dense
        self.neuronops += other.neuronops
        self.compute_histogram += other.compute_histogram

    def _per_frame(self, total: float) -> float:
        return total / self.frames if self.frames else 0.0

    @property
    def synops_per_frame(self) -> float:
        return self._per_frame(self.synops)

    @property
    def synops_dense_per_frame(self) -> float:
        return self._per_frame(self.synops_dense)

    @property
    def neuronops_per_frame(self) -> float:
        return self._per_frame(self.neuronops)

    @property
    def power_proxy_mops(self) -> float:
        """Power proxy in millions of operations per second."""
        return power_proxy_ops_per_s(self.synops_per_frame, self.neuronops_per_frame) / 1e6

    @property
    def activity_sparsity(self) -> tuple[float, ...]:
        """Per encoding layer: the fraction of neuron-frames with no spike."""
        if not self.frames:
            return tuple(1.0 for _ in self.layer_sizes)
        return tuple(float(1 - e / (n * self.frames)) for e, n in zip(self.events, self.layer_sizes))

    @property
    def compute_us_per_frame(self) -> float:
        """The median compute time of a frame in µs (to within half a bin: ±0.25 %)."""
        counts = self.compute_histogram
        total = int(counts.sum())
        if total == 0:
            return 0.0
        index = int(np.searchsorted(np.cumsum(counts), (total + 1) / 2))
        return _TIME_FLOOR_NS * TIME_BIN_RATIO ** (index + 0.5) / 1e3
