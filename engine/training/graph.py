"""The N-DNS SDNN as a trainable torch module: lava-dl SLAYER's forward and surrogate gradients, fast on any device.

:class:`SDNNGraph` computes what ``slayer.block.sigma_delta`` Input → Dense(delay=True, delay_shift=True)* →
Output computes (tests/test_training_graph.py checks forward values bit for bit and every gradient against
slayer itself), in a layout and with kernels that make a training step several times faster than slayer's
(bench/training_step.py; the rest is the matrix products both must do):

- time-major tensors ``(T, B, C)``: a delta encoder's step reads one contiguous ``(B, C)`` slab;
- dense synapses as one matrix product over all frames instead of slayer's ``conv3d``; optionally its backward
  products in bfloat16 (``backward_dtype``; the forward pass, which decides the spikes, stays exact);
- the loops over frames (delta encoders, sigma sums, a hidden layer's sigma → ReLU → delta chain, the delays) as
  compiled C kernels, one pass each way (:mod:`engine.training.fused`); where no C compiler is at hand, on a GPU
  or for a view they cannot read, torch loops that compute the same (the delays' gradients to float32 rounding:
  the kernels sum them in float64): the delta encoder as three in-place kernels a
  frame, its backward vectorised, sigma summed in place;
- hidden neurons worked on sorted by delay (their weight rows, and the next layer's columns, taken in that
  order; :attr:`GraphOutput.neuron_order` maps channels back to neurons), so the 1-frame ``delay_shift`` and the
  per-neuron axonal delays are one slice copy per distinct delay (slayer loops over neurons);
- the threshold's and the delays' gradients reduced a chunk of frames at a time, in the CPU's cache;
- the output ``(B, bins, T)`` laid out frame-major, as ``torch.stft``'s spectra it multiplies.

Every tensor a forward or backward pass makes is made on its inputs' device (tests/test_training_device.py).

Fixed-point rules, as slayer's: weights are rounded to 2/64 and clamped to [-256, 254]/64 in the forward
pass (straight-through gradient); graded spikes are floored to 1/4096; delays act as whole frames
(``floor``), clamped to ``[0, max_delay]``. Thresholds are applied on the 1/64 grid their exported mantissa
``int(threshold * 64)`` stands for (at least 1/64), so the exported model computes exactly what was trained.

Pruning masks (``mask_<l>`` buffers, 1 = alive) multiply the weights before quantisation; a masked weight
is 0 in every forward pass and gets no gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.dsp.level import LevelParams, frame_gains, frame_power
from engine.snn.model import (
    MANTISSA_MAX,
    MANTISSA_MIN,
    SPIKE_STEP,
    WEIGHT_SCALE,
    DenseLayer,
    InputEncoder,
    OutputDecoder,
    SDNNModel,
)
from engine.training import fused

WEIGHT_STEP = 2.0 / WEIGHT_SCALE
"""slayer's ``quantize_8bit`` rounds weights to steps of 2/64 (even mantissas)."""

DEFAULT_MAX_DELAY = 62
"""netx/Loihi clamp axonal delays to 62 frames; trained delays stay within it."""

CHUNK_FRAMES = 16
"""Frames per chunk of the backward passes that reduce a ``(T, B, C)`` tensor over frames and batch (the
threshold's gradient to one number, the delays' to one per neuron), on the CPU: a chunk's temporaries (16 frames
× a batch of 16 × 512 channels in float32: 0.5 MB each, a few alive at once) stay in the cache, where the
whole-tensor temporaries (16 MB each for 4 s) went through memory and took 2.5× as long, measured on a 16 × 4 s
batch at one thread. On a GPU, which has no such cache to fit, the whole tensor is one chunk."""


def _frames_per_chunk(tensor: torch.Tensor) -> int:
    return CHUNK_FRAMES if tensor.device.type == "cpu" else max(tensor.shape[0], 1)


@dataclass(frozen=True)
class SurrogateParams:
    """slayer's delta-unit surrogate gradient for the threshold (N-DNS: tau_grad 0.1, scale_grad 0.8)."""

    tau_grad: float = 0.1
    scale_grad: float = 0.8


class _Quantize(torch.autograd.Function):
    """Round to ``step`` (half to even, as ``torch.round``), clamp; straight-through gradient."""

    @staticmethod
    def forward(ctx, x, step, low, high):
        q = torch.round(x / step) * step
        return q if low is None else q.clamp(low, high)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None, None


def quantize_weight(weight: torch.Tensor) -> torch.Tensor:
    """slayer's ``quantize_8bit``: round to 2/64, clamp to [-256, 254]/64, straight-through."""
    return _Quantize.apply(weight, WEIGHT_STEP, MANTISSA_MIN / WEIGHT_SCALE, MANTISSA_MAX / WEIGHT_SCALE)


def quantize_input(x: torch.Tensor, step: float) -> torch.Tensor:
    return _Quantize.apply(x, step, None, None)


class _ThresholdGrid(torch.autograd.Function):
    """``max(int(threshold * 64), 1) / 64``: the threshold the exported mantissa stands for; straight-through."""

    @staticmethod
    def forward(ctx, threshold):
        return torch.clamp(torch.trunc(threshold * WEIGHT_SCALE), min=1.0) / WEIGHT_SCALE

    @staticmethod
    def backward(ctx, grad):
        return grad


def _send_bound(threshold: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, float]:
    """A delta unit's threshold θ in ``dtype``, and the largest value below it: ``|d| > below  <=>  |d| >= θ``.
    Reading it as a number costs one device sync."""
    th = threshold.detach().to(dtype)
    return th, float(torch.nextafter(th, torch.zeros_like(th)))


class _Delta(torch.autograd.Function):
    """slayer's ``_DeltaUnit`` (residual kept, no cumulative error) plus its output floor to 1/4096.

    Forward on ``(T, B, C)``: ``d[t] = x[t] - x[t-1] + r[t-1]``; send ``d[t]`` where ``|d[t]| >= θ``;
    ``r[t] = d[t] - sent``; the sent value is floored to the spike grid. Backward, as slayer: the input
    gets ``g[t] - g[t+1]``; the threshold gets slayer's relaxed-delta gradient.

    The loop over frames is three kernels a frame: ``hardshrink`` with λ the largest value below θ (in
    ``x``'s dtype) keeps exactly the ``|d| >= θ`` values, so it is the send decision and the sent value in one.
    """

    @staticmethod
    def forward(ctx, x, threshold, tau_grad, scale_grad):
        th, below = _send_bound(threshold, x.dtype)
        ctx.tau_grad, ctx.scale_grad = tau_grad, scale_grad
        if fused.takes(x):
            sent, delta_input = fused.delta_forward(x, below, SPIKE_STEP, keep_delta_input=ctx.needs_input_grad[1])
            if delta_input is not None:
                ctx.save_for_backward(delta_input, th)
            return sent
        change = torch.empty_like(x, memory_format=torch.contiguous_format)
        torch.sub(x[1:], x[:-1], out=change[1:])
        change[0] = x[0]
        out = torch.empty_like(change)
        residual = torch.zeros_like(change[0])
        for d, sent in zip(change.unbind(0), out.unbind(0)):  # per-frame views made once, not per use
            d.add_(residual)  # change[t] now holds slayer's delta_input[t]
            F.hardshrink(d, below, out=sent)
            torch.sub(d, sent, out=residual)
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(change, th)
        # floor to the spike grid; SPIKE_STEP is a power of two, so scaling by its inverse is exact
        return out.mul_(1.0 / SPIKE_STEP).floor_().mul_(SPIKE_STEP)

    @staticmethod
    def backward(ctx, grad):
        grad_input = torch.empty_like(grad)
        torch.sub(grad[:-1], grad[1:], out=grad_input[:-1])
        grad_input[-1] = grad[-1]
        grad_threshold = None
        if ctx.needs_input_grad[1]:
            delta_input, th = ctx.saved_tensors
            grad_threshold = _threshold_gradient(delta_input, th, grad, ctx.tau_grad, ctx.scale_grad)
        return grad_input, grad_threshold, None, None


def _threshold_gradient(delta_input: torch.Tensor, th: torch.Tensor, grad: torch.Tensor, tau_grad: float,
                        scale_grad: float) -> torch.Tensor:
    """slayer's relaxed-delta threshold gradient ``Σ g · (|d| > θ ? -d·scale·exp(-||d| - θ| / τ)/θ : -sign(d))``,
    a chunk of frames at a time (the same values per element; the sum in another order)."""
    total = torch.zeros((), dtype=grad.dtype, device=grad.device)
    chunk = _frames_per_chunk(grad)
    for start in range(0, grad.shape[0], chunk):
        d, g = delta_input[start:start + chunk], grad[start:start + chunk]
        sub = d.abs().sub_(th)
        nascent = sub.abs().neg_().div_(tau_grad).exp_().mul_(scale_grad)
        total += torch.where(sub > 0, torch.neg(d).mul_(nascent).div_(th), torch.sign(d).neg_()).mul_(g).sum()
    return total.reshape(1)


class _Sigma(torch.autograd.Function):
    """Running sum over time (dim 0), as ``torch.cumsum`` but several times faster on CPU for ``(T, B, C)``.

    In place: its input is a synapse's output, which nothing else holds (no copy of 4-16 MB per layer).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.mark_dirty(x)
        frames = x.unbind(0)
        for previous, frame in zip(frames, frames[1:]):
            frame.add_(previous)
        return x

    @staticmethod
    def backward(ctx, grad):
        g = grad.clone()
        frames = g.unbind(0)
        for later, frame in zip(frames[:0:-1], frames[-2::-1]):
            frame.add_(later)
        return g


class _SigmaReluDelta(torch.autograd.Function):
    """A hidden layer's ``_Delta(relu(_Sigma(current)))`` in one pass by the compiled kernels
    (:mod:`engine.training.fused`): the same values and gradients, without a kernel call a frame or the
    intermediate tensors' passes through memory. Only where :func:`engine.training.fused.takes` the tensor."""

    @staticmethod
    def forward(ctx, current, threshold, tau_grad, scale_grad):
        th, below = _send_bound(threshold, current.dtype)
        sent, sigma, delta_input = fused.sigma_relu_delta_forward(current, below, SPIKE_STEP,
                                                                  keep_delta_input=ctx.needs_input_grad[1])
        ctx.save_for_backward(sigma, *(() if delta_input is None else (delta_input, th)))
        ctx.tau_grad, ctx.scale_grad = tau_grad, scale_grad
        return sent

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        sigma, *for_threshold = ctx.saved_tensors
        grad_threshold = None
        if ctx.needs_input_grad[1]:
            delta_input, th = for_threshold
            grad_threshold = _threshold_gradient(delta_input, th, grad, ctx.tau_grad, ctx.scale_grad)
        return fused.sigma_relu_delta_backward(grad, sigma), grad_threshold, None, None


class _SigmaFrameMajor(torch.autograd.Function):
    """The output layer's ``_Sigma``, made frame-major ``(B, T, bins)`` as it is summed (the layout the loss
    multiplies the spectra in) by the compiled kernels, instead of summed in place and then copied into it."""

    @staticmethod
    def forward(ctx, current):
        return fused.sigma_frame_major_forward(current)

    @staticmethod
    def backward(ctx, grad):
        return fused.sigma_frame_major_backward(grad.contiguous())


def _sigma_relu_delta(current: torch.Tensor, threshold: torch.Tensor, surrogate: SurrogateParams) -> torch.Tensor:
    """A hidden layer's spikes from its synapses' output: sigma, ReLU, delta unit (fused where it can be)."""
    if fused.takes(current):
        return _SigmaReluDelta.apply(current, threshold, surrogate.tau_grad, surrogate.scale_grad)
    return _Delta.apply(torch.relu(_Sigma.apply(current)), threshold, surrogate.tau_grad, surrogate.scale_grad)


class _Synapse(torch.autograd.Function):
    """Dense synapses over all frames, ``x @ weightᵀ``; the backward products optionally in a narrower dtype.

    The forward pass is always in ``x``'s dtype (spike decisions downstream depend on it). With
    ``backward_dtype`` (bfloat16) the two backward products take rounded operands and accumulate in float32
    (oneDNN on CPUs with AVX512-BF16/AMX, tensor cores on GPUs: 2-2.5× the float32 rate); the gradients
    come back in ``x``'s dtype with about three significant digits, as in mixed-precision training.
    """

    @staticmethod
    def forward(ctx, x, weight, backward_dtype):
        ctx.save_for_backward(x, weight)
        ctx.backward_dtype = backward_dtype
        return F.linear(x, weight)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        dtype = ctx.backward_dtype or grad.dtype
        g = grad.reshape(-1, grad.shape[-1]).to(dtype)
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_x = (g @ weight.to(dtype)).to(grad.dtype).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            grad_weight = (g.t() @ x.reshape(-1, x.shape[-1]).to(dtype)).to(weight.dtype)
        return grad_x, grad_weight, None


Runs = tuple[tuple[int, int, int], ...]
"""Channels ``[start, stop)`` whose spikes arrive ``shift`` frames late, in channel order."""


def delay_order(delay: torch.Tensor) -> tuple[torch.Tensor, Runs]:
    """The order that sorts a layer's neurons by whole-frame shift (``1 + floor(delay)``: ``delay_shift`` and
    the axonal delay), and the runs of equal shift in that order (one host sync)."""
    shift = 1 + torch.floor(delay.detach()).long()
    order = torch.argsort(shift, stable=True)
    values, counts = torch.unique_consecutive(shift[order], return_counts=True)
    runs, start = [], 0
    for value, count in zip(values.tolist(), counts.tolist()):
        runs.append((start, start + count, value))
        start += count
    return order, tuple(runs)


class _Shift(torch.autograd.Function):
    """``delay_shift`` (1 frame) then the axonal delay: ``y[t, :, c] = x[t - 1 - floor(d_c), :, c]``.

    The channels come sorted by shift (:func:`delay_order`), so each run of equal shift is one slice copy.
    Backward as slayer's ``_delayFunction``: the input gets the gradient shifted back; each delay gets
    ``Σ_{b,t} g[t] (y[t-1] - y[t])``.
    """

    @staticmethod
    def forward(ctx, x, delay, runs):
        ctx.runs = runs
        ctx.fused = fused.takes(x) and fused.runs_fit(runs, x.shape[-1])
        if ctx.fused:
            y = fused.shift_forward(x, runs)
            if ctx.needs_input_grad[1]:
                ctx.save_for_backward(y)
            return y
        steps = x.shape[0]
        y = torch.empty_like(x)
        for start, stop, shift in runs:
            kept = max(steps - shift, 0)
            y[:steps - kept, :, start:stop] = 0
            y[steps - kept:, :, start:stop] = x[:kept, :, start:stop]
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        if ctx.fused and fused.takes(grad):
            (y,) = ctx.saved_tensors if ctx.needs_input_grad[1] else (None,)
            grad_x, grad_delay = fused.shift_backward(grad, y, ctx.runs)
            return grad_x, grad_delay, None
        steps = grad.shape[0]
        grad_x = torch.empty_like(grad)
        for start, stop, shift in ctx.runs:  # where x[t] went
            kept = max(steps - shift, 0)
            grad_x[:kept, :, start:stop] = grad[steps - kept:, :, start:stop]
            grad_x[kept:, :, start:stop] = 0
        grad_delay = None
        if ctx.needs_input_grad[1]:
            (y,) = ctx.saved_tensors
            grad_delay = _delay_gradient(y, grad)
        return grad_x, grad_delay, None


def _delay_gradient(y: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """slayer's delay gradient of delayed spikes ``y`` (T, B, C): per channel ``Σ_{b,t} g[t] (y[t-1] - y[t])``,
    computed as ``Σ_{b,t} y[t] (g[t+1] - g[t])`` (``y[-1] = 0``, ``g[T] = 0``) a chunk of frames at a time."""
    steps, chunk = grad.shape[0], _frames_per_chunk(grad)
    total = torch.zeros(grad.shape[-1], dtype=grad.dtype, device=grad.device)
    for start in range(0, steps, chunk):
        stop = min(start + chunk, steps)
        step_back = torch.neg(grad[start:stop])
        later = grad[start + 1:stop + 1]  # one frame short in the last chunk: g[T] = 0
        step_back[:later.shape[0]] += later
        total += step_back.mul_(y[start:stop]).sum(dim=(0, 1))
    return total


@dataclass
class GraphOutput:
    """One forward pass.

    Attributes:
        y: the output layer's sigma value ``(B, bins, T)``; the mask is ``relu(y + 1)``, sharpened by ``sharpening``
            (:func:`sharpen`) where that is above 0.
        spikes: per encoding layer (input encoder, hidden layers) the graded spikes it emitted, ``(T, B, C)``.
        delivered: per dense layer, the spikes it received (after shift and delays), ``(T, B, C_in)``.
        neuron_order: per entry of ``spikes`` (and of ``delivered``), which neuron each channel is: the graph
            works on hidden neurons sorted by delay; None for the input encoder (channels are bins).
    """

    y: torch.Tensor
    spikes: list[torch.Tensor]
    delivered: list[torch.Tensor]
    neuron_order: list[torch.Tensor | None]
    sharpening: float = 0.0

    @property
    def mask(self) -> torch.Tensor:
        mask = torch.relu(self.y + 1.0)
        return sharpen(mask, self.sharpening) if self.sharpening else mask


def sharpen(mask: torch.Tensor, sharpening: float) -> torch.Tensor:
    """Masks ``(B, bins, T)`` sharpened frame by frame as :func:`engine.snn.mask.sharpened` does one frame:
    ``mask ** (1 + sharpening · (1 − mean over bins of min(mask, 1)))``, differentiably (0 ** p is 0)."""
    exponent = 1.0 + sharpening * (1.0 - mask.clamp(max=1.0).mean(dim=1, keepdim=True))
    # 0 ** p is 0, but its gradient toward p is 0 · log 0: the power is taken of values kept above 0, then put back
    positive = mask > 0
    return torch.where(positive, mask.clamp(min=torch.finfo(mask.dtype).tiny).pow(exponent), 0.0)


class SDNNGraph(torch.nn.Module):
    """Input delta encoder, hidden sigma-delta ReLU layers with axonal delays, sigma output."""

    def __init__(
        self,
        sizes: tuple[int, ...] = (257, 512, 512, 257),
        threshold_mant: int = 6,
        input_offset: float = -0.2,
        input_step: float = 1.0 / 64,
        max_delay: int = DEFAULT_MAX_DELAY,
        train_thresholds: bool = False,
        surrogate: SurrogateParams = SurrogateParams(),
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if len(sizes) < 3 or sizes[0] != sizes[-1]:
            raise ValueError(f"sizes must be (bins, hidden..., bins), got {sizes}")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        self.sizes = tuple(int(s) for s in sizes)
        self.input_offset = float(input_offset)
        self.input_step = float(input_step)
        self.max_delay = int(max_delay)
        self.surrogate = surrogate
        n_layers = len(sizes) - 1
        self.weights = torch.nn.ParameterList()
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            # torch's default Conv/Linear init, as slayer's synapse gets it: U(-1/sqrt(in), 1/sqrt(in))
            bound = 1.0 / np.sqrt(n_in)
            w = (torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(w))
        # slayer initialises delays to U(0, 1) frames on first use: whole-frame delay 0 at the start
        self.delays = torch.nn.ParameterList(
            torch.nn.Parameter(torch.rand(n, generator=generator)) for n in sizes[1:-1])
        # thresholds sit mid-cell, (mant + 0.5) / 64: the forward pass applies mant / 64 (see from_model)
        self.thresholds = torch.nn.ParameterList(
            torch.nn.Parameter(torch.tensor([(threshold_mant + 0.5) / WEIGHT_SCALE]), requires_grad=train_thresholds)
            for _ in range(n_layers))
        for index in range(n_layers):
            self.register_buffer(f"mask_{index}", torch.ones(sizes[index + 1], sizes[index]))
        # the sigma output has no delta unit; netx files still carry a vThMant for it
        self.output_threshold_mant = int(threshold_mant)
        self.input_level: LevelParams | None = None
        """The model's input levelling (:mod:`engine.dsp.level`): each frame scaled before the encoder."""
        self.decoder = OutputDecoder()
        """What the host makes of the output (:mod:`engine.snn.mask`): its mask sharpening, if any."""
        self.backward_dtype: torch.dtype | None = None
        """None: backward products in the parameters' dtype; ``torch.bfloat16``: see :class:`_Synapse`."""

    # --- structure -------------------------------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def mask(self, index: int) -> torch.Tensor:
        return getattr(self, f"mask_{index}")

    def set_mask(self, index: int, mask: torch.Tensor) -> None:
        self.mask(index).copy_(mask)

    def effective_weight(self, index: int) -> torch.Tensor:
        """The weights the forward pass uses: masked, then 8-bit quantised (straight-through)."""
        return quantize_weight(self.weights[index] * self.mask(index))

    def clamp_parameters(self) -> None:
        """Keep delays in ``[0, max_delay]`` and thresholds at least one spike step (slayer's clamps)."""
        with torch.no_grad():
            for d in self.delays:
                d.clamp_(0, self.max_delay)
            for th in self.thresholds:
                th.clamp_(min=SPIKE_STEP)

    # --- forward ---------------------------------------------------------------------------------------

    def forward(self, magnitude: torch.Tensor) -> GraphOutput:
        """Run a batch of |STFT| sequences ``(B, bins, T)`` (frames in order, state starting at zero)."""
        self.clamp_parameters()
        p = self.surrogate
        x = magnitude.permute(2, 0, 1).contiguous()  # (T, B, bins): each frame one contiguous slab
        if self.input_level is not None:
            x = x * self.level_gains(x)
        x = quantize_input(x + self.input_offset, self.input_step)
        spikes = _Delta.apply(x, _ThresholdGrid.apply(self.thresholds[0]), p.tau_grad, p.scale_grad)
        # Hidden neurons are worked on sorted by delay, so that delaying their spikes is a few slice copies: the
        # weights' rows (the neurons) and the next layer's columns (their synapses) are taken in that order.
        orders = [delay_order(d) for d in self.delays]
        weights = [self.effective_weight(i) for i in range(self.n_layers)]
        for index, (order, _) in enumerate(orders):
            weights[index] = weights[index][order]
            weights[index + 1] = weights[index + 1][:, order]
        emitted, delivered, neuron_order = [spikes], [spikes], [None]
        for index, (order, runs) in enumerate(orders):
            current = _Synapse.apply(spikes, weights[index], self.backward_dtype)
            out = _sigma_relu_delta(current, _ThresholdGrid.apply(self.thresholds[index + 1]), p)
            spikes = _Shift.apply(out, self.delays[index][order], runs)
            emitted.append(out)
            delivered.append(spikes)
            neuron_order.append(order)
        current = _Synapse.apply(spikes, weights[-1], self.backward_dtype)
        # (B, bins, T) held frame-major, as torch.stft lays out its spectra: the mask multiplies them in order
        if fused.takes(current):
            y = _SigmaFrameMajor.apply(current).transpose(1, 2)
        else:
            y = _Sigma.apply(current).transpose(0, 1).contiguous().transpose(1, 2)
        return GraphOutput(y=y, spikes=emitted, delivered=delivered, neuron_order=neuron_order,
                           sharpening=self.decoder.sharpening)

    def level_gains(self, frames: torch.Tensor) -> torch.Tensor:
        """The input levelling's gain for each frame of ``frames`` (T, B, bins), as ``(T, B, 1)``: the same
        numbers the streaming front end computes (numpy, frame by frame), whatever the device."""
        assert self.input_level is not None
        magnitude = frames.detach().to("cpu", torch.float64).numpy()
        gains = frame_gains(frame_power(magnitude).T, self.input_level).T  # (T, B)
        return torch.from_numpy(np.ascontiguousarray(gains)).to(frames.device, frames.dtype).unsqueeze(-1)

    # --- conversion ------------------------------------------------------------------------------------

    @classmethod
    def from_model(cls, model: SDNNModel, max_delay: int = DEFAULT_MAX_DELAY, train_thresholds: bool = False,
                   freeze_zeros: bool = False) -> SDNNGraph:
        """A graph holding ``model``'s weights, delays and thresholds.

        With ``freeze_zeros`` the model's zero weights are masked (a pruned model stays pruned while it is
        fine-tuned); otherwise they are ordinary weights that happen to be 0 and may grow.
        """
        thresholds = [model.encoder.threshold_mant] + [l.threshold_mant for l in model.layers[:-1]]
        max_delay = max([max_delay] + [l.max_delay for l in model.layers])
        graph = cls(model.neuron_counts, input_offset=model.encoder.offset, input_step=model.encoder.step,
                    max_delay=max_delay, train_thresholds=train_thresholds)
        graph.output_threshold_mant = model.layers[-1].threshold_mant
        graph.input_level = model.encoder.level
        graph.decoder = model.decoder
        # Values sit in the middle of their grid cell (+0.5 frame, +0.5/64), so that small training updates
        # do not move them across a boundary: the forward pass floors both to what the model holds.
        with torch.no_grad():
            for index, layer in enumerate(model.layers):
                graph.weights[index].copy_(torch.from_numpy(layer.weight))
                if freeze_zeros:
                    graph.set_mask(index, torch.from_numpy((layer.weight_mant != 0).astype(np.float32)))
                if index < len(graph.delays):
                    delays = layer.delays if layer.delays is not None else np.zeros(layer.out_features)
                    graph.delays[index].copy_(torch.from_numpy(delays.astype(np.float64) + 0.5))
            for th, mant in zip(graph.thresholds, thresholds):
                th.fill_((mant + 0.5) / WEIGHT_SCALE)
        return graph

    def to_model(self, name: str = "model", source: str | None = None) -> SDNNModel:
        """Export: 8-bit weight mantissas, whole-frame delays, threshold mantissas (as slayer exports)."""
        self.clamp_parameters()
        with torch.no_grad():
            mants = [torch.round(self.effective_weight(i).double() * WEIGHT_SCALE).cpu().numpy().astype(np.int16)
                     for i in range(self.n_layers)]
            th = [int(_ThresholdGrid.apply(t.detach().double()).item() * WEIGHT_SCALE) for t in self.thresholds]
            delays = [torch.floor(d.detach().double()).cpu().numpy().astype(np.int32) for d in self.delays]
        layers = tuple(
            DenseLayer(weight_mant=mants[i],
                       threshold_mant=th[i + 1] if i < self.n_layers - 1 else self.output_threshold_mant,
                       delays=delays[i] if i < len(delays) else None, sigma_output=i == self.n_layers - 1)
            for i in range(self.n_layers))
        encoder = InputEncoder(size=self.sizes[0], threshold_mant=th[0], offset=self.input_offset,
                               step=self.input_step, level=self.input_level)
        return SDNNModel(encoder=encoder, layers=layers, name=name, source=source, decoder=self.decoder)
