"""Sparse backend: event-driven, its cost per frame follows the SynOps the network really performs.

Weights are stored column-compressed (per input neuron, its nonzero targets and their mantissas), and
each frame only the inputs that received a spike are processed, over their nonzero fan-out only. The
whole frame runs in one compiled call (:func:`engine.backends.sparse_kernel.frame_step`, numba) in
64-bit fixed point, which reproduces the dense backend's float64 arithmetic exactly: masks and
telemetry are identical (tests/test_sparse_backend.py).

numba compiles the kernel on first use and caches the machine code beside the module (``cache=True``);
a runner compiles (or loads) it when it is created, never on its first live frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.backends.sparse_kernel import MAX_FAN_IN, OK, VALUE_BITS, frame_step
from engine.errors import AudioInputError, ModelFileError
from engine.snn.model import WEIGHT_SCALE, SDNNModel
from engine.snn.network import check_frame
from engine.snn.telemetry import FrameTelemetry, neuronops_per_frame

MAX_LAYER_SIZE = 1 << 16
"""Synapse targets are uint16: small, and unsigned so that the kernel's scatter needs no index check."""


@dataclass(frozen=True, eq=False)
class EventNetwork:
    """A model laid out for the kernel: column-compressed weights and fixed-point constants.

    Attributes:
        sizes: neurons per layer, input first (int64).
        thresholds: delta thresholds of the encoding layers (input encoder, hidden layers), 2^-18 units.
        pointers, targets, mantissas: the weights of all layers column-compressed over the flat list of
            encoding neurons: neuron g's nonzero synapses are ``pointers[g]:pointers[g+1]``.
        delays: per hidden neuron, 1 + its axonal delay in frames (the 1-frame shift included).
        ring_lengths: per hidden layer, its delay ring's length.
        input_offset, input_step: the encoder's front end; input_units: input_step in 2^-18 units.
    """

    sizes: np.ndarray
    thresholds: np.ndarray
    pointers: np.ndarray
    targets: np.ndarray
    mantissas: np.ndarray
    delays: np.ndarray
    ring_lengths: np.ndarray
    input_offset: float
    input_step: float
    input_units: int

    @classmethod
    def from_model(cls, model: SDNNModel) -> EventNetwork:
        """Lay ``model`` out; :class:`ModelFileError` if it is outside what the fixed-point kernel holds."""
        input_units = model.encoder.step * (1 << VALUE_BITS)
        if input_units < 1 or input_units != int(input_units):
            raise ModelFileError(
                f"{model.name}: input step {model.encoder.step} is not a multiple of 2^-{VALUE_BITS}: the "
                "sparse backend cannot run it exactly (use the dense backend)")
        largest = max(model.neuron_counts)
        if largest > MAX_LAYER_SIZE:
            raise ModelFileError(
                f"{model.name}: a layer has {largest} neurons; the sparse backend's 16-bit synapse targets "
                f"hold at most {MAX_LAYER_SIZE} (use the dense backend)")
        for index, layer in enumerate(model.layers, start=1):
            fan_in = int(np.count_nonzero(layer.weight_mant, axis=1).max(initial=0))
            if fan_in > MAX_FAN_IN:
                raise ModelFileError(
                    f"{model.name}: layer {index} has a neuron with {fan_in} nonzero inputs; the sparse "
                    f"backend's 64-bit fixed point holds at most {MAX_FAN_IN} (use the dense backend)")
        pointers, targets, mantissas = [np.zeros(1, dtype=np.int64)], [], []
        for layer in model.layers:
            by_input = layer.weight_mant.T  # row i: input neuron i's outgoing weights
            source, target = np.nonzero(by_input)  # sorted by source, then target
            fan_out = np.bincount(source, minlength=layer.in_features)
            pointers.append(pointers[-1][-1] + np.cumsum(fan_out))
            targets.append(target)
            mantissas.append(by_input[source, target].astype(np.int16))
        value_per_mantissa = (1 << VALUE_BITS) // WEIGHT_SCALE
        hidden = model.layers[:-1]
        delays = [1 + (l.delays if l.delays is not None else np.zeros(l.out_features)) for l in hidden]
        return cls(
            sizes=np.array(model.neuron_counts, dtype=np.int64),
            thresholds=np.array([model.encoder.threshold_mant] + [l.threshold_mant for l in hidden],
                                dtype=np.int64) * value_per_mantissa,
            pointers=np.concatenate(pointers),
            targets=np.concatenate(targets).astype(np.uint16),
            mantissas=np.concatenate(mantissas),
            delays=np.concatenate([np.zeros(0, dtype=np.int64), *delays]).astype(np.int64),
            ring_lengths=np.array([int(d.max(initial=0)) + 1 for d in delays], dtype=np.int64),
            input_offset=float(model.encoder.offset),
            input_step=float(model.encoder.step),
            input_units=int(input_units),
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the laid-out weights and constants."""
        arrays = (self.sizes, self.thresholds, self.pointers, self.targets, self.mantissas, self.delays,
                  self.ring_lengths)
        return sum(a.nbytes for a in arrays)


@dataclass(frozen=True, eq=False)
class EventState:
    """The network's memory between frames, in the kernel's fixed-point units (updated in place)."""

    previous: np.ndarray
    residual: np.ndarray
    totals: np.ndarray
    rings: np.ndarray
    ring_now: np.ndarray

    @classmethod
    def zeros(cls, network: EventNetwork) -> EventState:
        sizes = network.sizes
        encoding = int(sizes[:-1].sum())
        ring_values = int((network.ring_lengths * sizes[1:-1]).sum())
        return cls(
            previous=np.zeros(encoding, dtype=np.int64),
            residual=np.zeros(encoding, dtype=np.int64),
            totals=np.zeros(int(sizes[1:].sum()), dtype=np.int64),
            rings=np.zeros(ring_values, dtype=np.int64),
            ring_now=np.zeros(len(network.ring_lengths), dtype=np.int64),
        )


class SparseRunner:
    """Runs one model frame by frame, event-driven; owns its state, so runners can run side by side.

    ``step`` allocates only its outputs (mask, telemetry) and the input check's small temporaries, and
    releases the GIL while the kernel runs. One runner is for one thread at a time.
    """

    name = "sparse"
    latency_frames = 0

    def __init__(self, model: SDNNModel) -> None:
        self.model = model
        self.network = EventNetwork.from_model(model)
        sizes = self.network.sizes
        largest = int(sizes.max())
        self._active = np.zeros(largest, dtype=np.int64)
        self._spikes = np.zeros(largest, dtype=np.int64)
        self._current = np.zeros(largest, dtype=np.int64)
        self._counts = np.zeros(len(sizes) + 1, dtype=np.int64)
        bounds = np.cumsum(sizes[:-1])
        self._fired_slices = tuple(slice(int(a), int(b)) for a, b in zip((0, *bounds[:-1]), bounds))
        self._n_encoding = len(self._fired_slices)
        self._n_encoding_neurons = int(bounds[-1])
        self._neuronops = neuronops_per_frame(model)
        self.state = EventState.zeros(self.network)
        self.step(np.zeros(model.n_bins))  # compile, or load numba's cache, now rather than on a live frame
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame is processed as the first of a new stream."""
        self.state = EventState.zeros(self.network)

    def close(self) -> None:
        """Nothing to release (the protocol's ``close``; the Lava backend needs it)."""

    def step(self, magnitude: np.ndarray) -> tuple[np.ndarray, FrameTelemetry]:
        """One |STFT| frame in (``n_bins`` values), its denoising mask and telemetry out."""
        start = time.perf_counter_ns()
        frame = check_frame(magnitude, self.model.n_bins)
        net, state = self.network, self.state
        mask = np.empty(net.sizes[-1])
        fired = np.empty(self._n_encoding_neurons, dtype=bool)
        status = frame_step(
            frame, net.input_offset, net.input_step, net.input_units,
            net.sizes, net.thresholds, net.pointers, net.targets, net.mantissas, net.delays,
            net.ring_lengths,
            state.previous, state.residual, state.totals, state.rings, state.ring_now,
            self._active, self._spikes, self._current,
            mask, fired, self._counts,
        )
        if status != OK:
            raise AudioInputError(
                f"{self.model.name}: a value left the sparse backend's exact range (±2^28): the input "
                f"is far louder than audio in [-1, 1] can be (frame max {frame.max():.3g}). The runner's "
                "state is now invalid; reset() it")
        counts = self._counts.tolist()
        n = self._n_encoding
        telemetry = FrameTelemetry(
            fired=tuple(fired[s] for s in self._fired_slices),
            events=tuple(counts[:n]),
            synops=counts[n],
            synops_dense=counts[n + 1],
            neuronops=self._neuronops,
            compute_ns=time.perf_counter_ns() - start,
        )
        return mask, telemetry
