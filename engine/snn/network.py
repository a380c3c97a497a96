"""One frame of a whole SDNN: encoder → (synapse → sigma → ReLU → delta → shift+delay)* → sigma output.

:func:`network_step` strings the neuron step functions of :mod:`engine.snn.neurons` together. The synapse —
the only part whose cost depends on how it is computed — is passed in by the backend (dense matrix
products: :mod:`engine.backends.dense`). The sparse backend (:mod:`engine.backends.sparse`) runs this same
arithmetic fused into one compiled, event-driven call, and is tested equal to it.

The order inside a hidden block is lava-dl SLAYER's ``Dense`` block: synapse, sigma, ReLU, delta
encoder, the 1-frame shift (``delay_shift``), then the per-neuron axonal delay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import AudioInputError
from engine.snn.model import WEIGHT_SCALE, DenseLayer, SDNNModel
from engine.snn.neurons import (
    DelayParams,
    DelayState,
    DeltaParams,
    DeltaState,
    SigmaState,
    delay_step,
    delta_step,
    quantize_input,
    relu,
    sigma_step,
)

Synapse = Callable[[int, np.ndarray], np.ndarray]
"""``synapse(layer_index, spikes) -> input current`` of dense layer ``layer_index`` (0-based)."""


@dataclass(frozen=True)
class NetworkParams:
    """Everything about a model the step needs, in the units the neurons compute in."""

    offset: float
    input_step: float
    encoder: DeltaParams
    hidden: tuple[DeltaParams, ...]
    delays: tuple[DelayParams, ...]
    sizes: tuple[int, ...]

    @classmethod
    def from_model(cls, model: SDNNModel) -> NetworkParams:
        hidden = model.layers[:-1]
        return cls(
            offset=model.encoder.offset,
            input_step=model.encoder.step,
            encoder=DeltaParams(model.encoder.threshold_mant / WEIGHT_SCALE),
            hidden=tuple(DeltaParams(layer.threshold_mant / WEIGHT_SCALE) for layer in hidden),
            delays=tuple(DelayParams(1 + _axonal_delays(layer)) for layer in hidden),  # +1: the block shift
            sizes=model.neuron_counts,
        )


def _axonal_delays(layer: DenseLayer) -> np.ndarray:
    if layer.delays is None:
        return np.zeros(layer.out_features, dtype=np.int64)
    return layer.delays.astype(np.int64)


@dataclass(frozen=True)
class NetworkState:
    """The whole network's memory between frames."""

    encoder: DeltaState
    sigma: tuple[SigmaState, ...]
    delta: tuple[DeltaState, ...]
    delay: tuple[DelayState, ...]

    @classmethod
    def zeros(cls, params: NetworkParams) -> NetworkState:
        sizes = params.sizes
        return cls(
            encoder=DeltaState.zeros(sizes[0]),
            sigma=tuple(SigmaState.zeros(n) for n in sizes[1:]),
            delta=tuple(DeltaState.zeros(n) for n in sizes[1:-1]),
            delay=tuple(DelayState.zeros(n, p) for n, p in zip(sizes[1:-1], params.delays)),
        )


@dataclass(frozen=True)
class FrameActivity:
    """What the network did in one frame.

    Attributes:
        emitted: graded spikes each encoding layer (input encoder, hidden layers) sent this frame.
        delivered: the spikes each synapse layer received this frame (after shift and axonal delays);
            ``delivered[l]`` is the input of dense layer ``l``.
    """

    emitted: tuple[np.ndarray, ...]
    delivered: tuple[np.ndarray, ...]


def check_frame(magnitude: np.ndarray, n_bins: int) -> np.ndarray:
    """``magnitude`` as a contiguous float64 vector of ``n_bins`` finite values, or a clear error.

    Every backend's step checks its input with this: a NaN would otherwise stay in the network's state
    for good, and a wrong length means the frame came from another STFT.
    """
    frame = np.ascontiguousarray(magnitude, dtype=np.float64)
    if frame.shape != (n_bins,):
        raise ValueError(f"a frame is {n_bins} |STFT| magnitudes, got an array of shape {frame.shape}")
    if not np.isfinite(frame).all():
        raise AudioInputError("the |STFT| frame holds NaN or infinite values: the audio it came from is "
                              "not valid sound")
    return frame


def network_step(
    magnitude: np.ndarray, state: NetworkState, params: NetworkParams, synapse: Synapse
) -> tuple[np.ndarray, NetworkState, FrameActivity]:
    """Advance the network by one frame of |STFT|; return the output layer's value ``y``.

    The denoising mask is ``relu(y + 1)`` (see :func:`engine.snn.mask.mask_from_output`). Raises as
    :func:`check_frame` for a frame of the wrong length or with non-finite values.
    """
    x = quantize_input(check_frame(magnitude, params.sizes[0]) + params.offset, params.input_step)
    spikes, encoder = delta_step(x, state.encoder, params.encoder)
    emitted, delivered = [spikes], [spikes]
    sigmas, deltas, delays = [], [], []
    for index, (p_delta, p_delay) in enumerate(zip(params.hidden, params.delays)):
        total, sigma = sigma_step(synapse(index, spikes), state.sigma[index])
        out, delta = delta_step(relu(total), state.delta[index], p_delta)
        spikes, delay = delay_step(out, state.delay[index], p_delay)
        emitted.append(out)
        delivered.append(spikes)
        sigmas.append(sigma)
        deltas.append(delta)
        delays.append(delay)
    last = len(params.hidden)
    y, sigma = sigma_step(synapse(last, spikes), state.sigma[last])
    sigmas.append(sigma)
    new_state = NetworkState(encoder, tuple(sigmas), tuple(deltas), tuple(delays))
    return y, new_state, FrameActivity(tuple(emitted), tuple(delivered))
