"""The SDNN as plain, typed data — independent of torch, lava or any backend.

A model is an input delta encoder followed by fully connected sigma-delta layers, the last of which is a
Sigma output (no ReLU, no delta encoder). Numbers follow lava-dl's fixed-point conventions, so a model read
from a netx file and written back is the same file:

- weights are integer *mantissas*; the real weight is ``mantissa / WEIGHT_SCALE`` (8-bit: [-256, 254]);
- thresholds are integer mantissas too (``vThMant``); the real threshold is ``mantissa / WEIGHT_SCALE``;
- delta-encoder outputs (graded spikes) are quantised down to multiples of ``SPIKE_STEP``;
- axonal delays are whole frames, per output neuron, applied after the 1-frame shift between layers.

The N-DNS front-end constants that netx files do not store (input offset −0.2, input quantisation 1/64)
live in :class:`InputEncoder`, with the optional input levelling (:mod:`engine.dsp.level`) a SPANDEX netx file
records beside its input layer. What the host makes of the output (the mask ``relu(y + 1)``, optionally
sharpened: :mod:`engine.snn.mask`) lives in :class:`OutputDecoder`, recorded beside the output layer.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from engine.dsp.level import LevelParams
from engine.errors import ModelFileError

WEIGHT_SCALE = 64
"""Real value = mantissa / WEIGHT_SCALE, for weights and thresholds (slayer's ``w_scale``)."""

SPIKE_STEP = 1.0 / (WEIGHT_SCALE * 64)
"""Graded spikes are floored to multiples of this (slayer's delta ``s_scale`` = 64·64)."""

MANTISSA_MIN, MANTISSA_MAX = -256, 254
"""The 8-bit weight mantissa range netx and Loihi 2 accept (lava-dl's ``quantize_8bit`` clamp)."""


def layout_text(neuron_counts: Iterable[int]) -> str:
    """Neurons per layer as people write a network's shape: ``257-512-512-257``."""
    return "-".join(str(n) for n in neuron_counts)


@dataclass(frozen=True)
class InputEncoder:
    """Layer 0: the delta encoder that turns |STFT| frames into graded spikes.

    Attributes:
        size: number of input neurons (STFT bins, 257 for n_fft 512).
        threshold_mant: delta threshold mantissa (real threshold = threshold_mant / 64).
        offset: added to each magnitude before quantisation (N-DNS subtracts its STFT mean 0.2).
        step: input quantisation step (N-DNS: 1/64, rounding half to even as torch.round does).
        level: if set, each |STFT| frame is scaled to a steady level before the offset (the CPU front end
            does it, on every backend alike: :mod:`engine.dsp.level`); None: the magnitudes as they come.
    """

    size: int
    threshold_mant: int
    offset: float = -0.2
    step: float = 1.0 / 64
    level: LevelParams | None = None


MAX_SHARPENING = 4.0
"""The strongest mask sharpening a model may ask for (:mod:`engine.snn.mask`): exponents up to 5."""


def sharpening_problem(sharpening: object) -> str | None:
    """What is wrong with ``sharpening`` as a mask sharpening (a number from 0 to :data:`MAX_SHARPENING`), or None."""
    if isinstance(sharpening, bool) or not isinstance(sharpening, (int, float)):
        return f"mask sharpening {sharpening!r} is not a number"
    if not 0.0 <= sharpening <= MAX_SHARPENING:
        return f"mask sharpening {sharpening!r} is outside 0 … {MAX_SHARPENING:g}"
    return None


@dataclass(frozen=True)
class OutputDecoder:
    """What the host makes of the output layer's sigma values ``y``: the mask on the noisy magnitude.

    Attributes:
        sharpening: 0 for the N-DNS mask ``relu(y + 1)``; above 0, each frame's mask is raised to the power
            ``1 + sharpening · (1 − its mean, each bin capped at 1)``: frames the network finds mostly noise are
            suppressed harder, frames it passes nearly whole are left as they are (:func:`engine.snn.mask.sharpened`).
    """

    sharpening: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {"sharpening": self.sharpening}


@dataclass(frozen=True, eq=False)
class DenseLayer:
    """A fully connected sigma-delta layer.

    Attributes:
        weight_mant: integer weight mantissas, shape (out_features, in_features).
        threshold_mant: delta threshold mantissa of this layer's neurons (unused by a sigma output).
        delays: integer axonal delay per output neuron in frames, or None for no delays.
        sigma_output: True for the last layer, whose neurons only accumulate (no ReLU, no delta).
    """

    weight_mant: np.ndarray
    threshold_mant: int
    delays: np.ndarray | None = None
    sigma_output: bool = False

    @property
    def in_features(self) -> int:
        return int(self.weight_mant.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight_mant.shape[0])

    @property
    def weight(self) -> np.ndarray:
        """The real-valued weights (float64, exact: mantissas are small integers)."""
        return self.weight_mant.astype(np.float64) / WEIGHT_SCALE

    @property
    def max_delay(self) -> int:
        return 0 if self.delays is None or self.delays.size == 0 else int(self.delays.max())


@dataclass(frozen=True, eq=False)
class SDNNModel:
    """An input encoder and a chain of dense layers; the last one is a sigma output.

    ``name`` is for people (shown in the CLI and GUI); ``source`` is where it was loaded from, if anywhere.
    """

    encoder: InputEncoder
    layers: tuple[DenseLayer, ...]
    name: str = "model"
    source: str | None = field(default=None, compare=False)
    decoder: OutputDecoder = OutputDecoder()

    def __post_init__(self) -> None:
        validate(self)

    @property
    def n_bins(self) -> int:
        return self.encoder.size

    @property
    def neuron_counts(self) -> tuple[int, ...]:
        """Neurons per layer, input encoder first (e.g. 257, 512, 512, 257)."""
        return (self.encoder.size, *(layer.out_features for layer in self.layers))

    @property
    def n_synapses(self) -> int:
        return sum(layer.weight_mant.size for layer in self.layers)

    @property
    def n_nonzero_synapses(self) -> int:
        return sum(int(np.count_nonzero(layer.weight_mant)) for layer in self.layers)

    @property
    def weight_sparsity(self) -> float:
        """Fraction of synapses whose weight is exactly zero, over all layers."""
        return 1.0 - self.n_nonzero_synapses / self.n_synapses

    def layer_weight_sparsity(self) -> tuple[float, ...]:
        return tuple(1.0 - np.count_nonzero(l.weight_mant) / l.weight_mant.size for l in self.layers)

    def sharpened_by(self, strength: float) -> SDNNModel:
        """This network with its mask sharpened by ``strength`` (0: the network's own mask; :mod:`engine.snn.mask`)
        instead of its own; the rest as it is. Raises :class:`ModelFileError` outside 0 … MAX_SHARPENING."""
        return dataclasses.replace(self, decoder=OutputDecoder(sharpening=float(strength) + 0.0))  # (-0 is 0)

    def content_digest(self) -> str:
        """SHA-256 of what the network computes (encoder, weights, thresholds, delays), not of a file holding it: the
        same network saved again (other file metadata, another name) has the same digest, any other network another."""
        digest = hashlib.sha256(repr(self.encoder).encode())
        if self.decoder != OutputDecoder():  # (the N-DNS mask adds nothing: digests from before decoders hold)
            digest.update(repr(self.decoder).encode())
        for layer in self.layers:
            digest.update(repr((layer.weight_mant.shape, layer.threshold_mant, layer.sigma_output)).encode())
            digest.update(np.ascontiguousarray(layer.weight_mant, dtype=np.int64).tobytes())
            delays = b"no delays" if layer.delays is None else np.ascontiguousarray(layer.delays, dtype=np.int64).tobytes()
            digest.update(repr(len(delays)).encode() + delays)
        return digest.hexdigest()


def validate(model: SDNNModel) -> None:
    """Raise :class:`ModelFileError` naming the problem if ``model`` is not a runnable SDNN."""
    if not model.layers:
        raise ModelFileError(f"{model.name}: the model has no dense layers")
    problem = sharpening_problem(model.decoder.sharpening)
    if problem:
        raise ModelFileError(f"{model.name}: {problem}")
    if model.encoder.size <= 0:
        raise ModelFileError(f"{model.name}: the input layer has no neurons")
    expected_in = model.encoder.size
    for index, layer in enumerate(model.layers, start=1):
        w = layer.weight_mant
        if w.ndim != 2:
            raise ModelFileError(f"{model.name}: layer {index} weight has shape {w.shape}, expected 2-D")
        if not np.issubdtype(w.dtype, np.integer):
            raise ModelFileError(f"{model.name}: layer {index} weight mantissas must be integers")
        if w.shape[1] != expected_in:
            raise ModelFileError(
                f"{model.name}: layer {index} expects {w.shape[1]} inputs but the previous layer has "
                f"{expected_in} neurons"
            )
        if w.size and (w.min() < MANTISSA_MIN or w.max() > MANTISSA_MAX):
            raise ModelFileError(
                f"{model.name}: layer {index} weight mantissas span [{w.min()}, {w.max()}], outside the "
                f"8-bit range [{MANTISSA_MIN}, {MANTISSA_MAX}]"
            )
        if layer.delays is not None:
            d = layer.delays
            if d.shape != (w.shape[0],):
                raise ModelFileError(
                    f"{model.name}: layer {index} has {d.size} delays for {w.shape[0]} neurons"
                )
            if not np.issubdtype(d.dtype, np.integer) or (d.size and d.min() < 0):
                raise ModelFileError(f"{model.name}: layer {index} delays must be non-negative integers")
        is_last = index == len(model.layers)
        if layer.sigma_output != is_last:
            where = "only the last layer" if layer.sigma_output else "the last layer"
            raise ModelFileError(f"{model.name}: {where} must be a sigma output (layer {index})")
        if not layer.sigma_output and layer.threshold_mant <= 0:
            raise ModelFileError(f"{model.name}: layer {index} threshold must be positive")
        expected_in = w.shape[0]
    if model.layers[-1].out_features != model.encoder.size:
        raise ModelFileError(
            f"{model.name}: the output layer has {model.layers[-1].out_features} neurons but a mask "
            f"needs one per input bin ({model.encoder.size})"
        )
