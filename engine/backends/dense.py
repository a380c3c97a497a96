"""Dense backend: every synapse layer is a full matrix-vector product, every frame.

The reference backend: simplest, and exact — weights and spikes are small dyadic rationals, so float64
BLAS products carry no rounding (see :mod:`engine.snn.neurons`). Its cost does not depend on sparsity.
"""

from __future__ import annotations

import time

import numpy as np

from engine.snn.mask import mask_from_output
from engine.snn.model import SDNNModel
from engine.snn.network import NetworkParams, NetworkState, network_step
from engine.snn.telemetry import FrameTelemetry, TelemetryMeter


class DenseRunner:
    """Runs one model frame by frame; owns its state, so several runners can run side by side."""

    name = "dense"
    latency_frames = 0

    def __init__(self, model: SDNNModel) -> None:
        self.model = model
        self.params = NetworkParams.from_model(model)
        self.weights = tuple(np.ascontiguousarray(layer.weight) for layer in model.layers)
        self.meter = TelemetryMeter(model)
        self.state = NetworkState.zeros(self.params)

    def reset(self) -> None:
        """Forget everything: the next frame is processed as the first of a new stream."""
        self.state = NetworkState.zeros(self.params)

    def close(self) -> None:
        """Nothing to release (the protocol's ``close``; the Lava backend needs it)."""

    def _synapse(self, layer: int, spikes: np.ndarray) -> np.ndarray:
        return self.weights[layer] @ spikes

    def step(self, magnitude: np.ndarray) -> tuple[np.ndarray, FrameTelemetry]:
        """One |STFT| frame in (``n_bins`` values), its denoising mask and telemetry out."""
        start = time.perf_counter_ns()
        y, self.state, activity = network_step(magnitude, self.state, self.params, self._synapse)
        mask = mask_from_output(y)
        elapsed = time.perf_counter_ns() - start
        return mask, self.meter.measure(activity.emitted, activity.delivered, elapsed)
