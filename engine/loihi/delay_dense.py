"""A fast process model for lava-nc's ``DelayDense``: the same numbers as the stock one, a fraction of the work.

lava-nc 0.10's bit-accurate ``PyDelayDenseModelBitAcc`` rebuilds a ``(max_delay + 1) * n_out x n_in``
weight stack with ``np.where`` on every time step, whatever its input: ~140 ms CPU per step for the N-DNS
baseline, 17x too slow for an 8 ms hop. :class:`FastDelayDenseModel` studies the delays once and then,
on each step, does nothing at all without input spikes, and otherwise one matrix-vector product per
*delay group*:

- each output row ``k`` has a base delay ``r[k]`` (its smallest delay over nonzero weights); synapses
  whose delay exceeds it by the same ``e`` form a group, whose products land in column ``r[k] + e`` of
  the delay buffer. netx gives one delay per output neuron, so a layer is one group; SPANDEX's export
  adds a second, small one where it moved delays above 62 onto the next layer;
- the product runs in float64, which is exact here: every weight times spike is below 2^31 when spikes
  are below 2^23 (Loihi 2 messages are 24-bit) and every sum of them below 2^53. Larger spikes, or a
  delay pattern too irregular for dense groups (over :data:`GROUP_ELEMENTS_LIMIT` matrix elements),
  take a slower general path that multiplies per synapse with int32 wrap-around, as the stock model does.

It computes exactly what the stock model computes, in the same integer arithmetic: weights clipped and
truncated by lava-nc's own ``clip_weights`` / ``truncate_weights`` before the first step (the ``weights``
Var then holds the result, as with the stock model); each (output, delay) bin's sum shifted by
``weight_exp`` and added to the int32 ``a_buff``, which keeps the stock layout (column ``k`` leaves in
``k`` steps) so that getting or setting it at run time means the same thing.

Use it through the run config: ``Loihi2SimCfg(select_tag="fixed_pt",
exception_proc_model_map={DelayDense: FastDelayDenseModel})``. It assumes static weights and delays (no
learning), as lava-dl's netx networks have: the tables are built on the first step. Importing this module
imports lava (through :mod:`engine.lava_compat`).
"""

from __future__ import annotations

import numpy as np

from engine.lava_compat import import_lava
from engine.loihi.lava_types import PyInPort, PyLoihiProcessModel, PyOutPort

_decorator = import_lava("lava.magma.core.decorator")
_dense = import_lava("lava.proc.dense.process")
_protocol = import_lava("lava.magma.core.sync.protocols.loihi_protocol")
_resources = import_lava("lava.magma.core.resources")
_type = import_lava("lava.magma.core.model.py.type")
_weightutils = import_lava("lava.utils.weightutils")

DelayDense = _dense.DelayDense
LavaPyType = _type.LavaPyType

LOIHI2_MAX_DELAY = 63
"""Loihi 2 synapses hold 6-bit delays; the stock model refuses larger ones, and so does this one."""


GROUP_ELEMENTS_LIMIT = 1 << 23
"""Most float64 matrix elements (64 MiB) the delay groups of one synapse may take before the general path."""

EXACT_SPIKE_LIMIT = 1 << 23
"""Below this, |weight x spike| < 2^31: float64 products equal the stock model's int32 ones."""


@_decorator.implements(proc=DelayDense, protocol=_protocol.LoihiProtocol)
@_decorator.requires(_resources.CPU)
@_decorator.tag("fixed_pt")
class FastDelayDenseModel(PyLoihiProcessModel):
    """Fixed-point ``DelayDense``: bit-identical to lava-nc's ``PyDelayDenseModelBitAcc``, much faster."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, bool, precision=1)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=16)
    a_buff: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)
    weights: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    delays: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=6)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, int, precision=5)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._ready = False
        self._groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # rows, their delay, weights
        self._column_start = np.zeros(0, dtype=np.int64)  # general path: synapses of input j
        self._synapse_weight = np.zeros(0, dtype=np.int64)  # are [start[j], start[j + 1])
        self._synapse_bin = np.zeros(0, dtype=np.int64)

    def _prepare(self) -> None:
        """Quantise the weights as the stock model does, then build the delay groups and synapse list."""
        if np.max(self.delays) > LOIHI2_MAX_DELAY:
            raise ValueError(f"DelayDense delays must lie in [0, {LOIHI2_MAX_DELAY}] for Loihi 2, got "
                             f"a maximum of {np.max(self.delays)}")
        sign_mode = self.proc_params.get("sign_mode") or _weightutils.determine_sign_mode(self.weights)
        weights = _weightutils.clip_weights(self.weights, sign_mode, num_bits=8)
        self.weights = _weightutils.truncate_weights(
            weights, sign_mode, self.proc_params.get("num_weight_bits", 8))
        n_out, n_in = self.weights.shape
        used = self.weights != 0
        delays = self.delays.astype(np.int64)
        base = np.where(used, delays, np.iinfo(np.int64).max).min(axis=1, initial=np.iinfo(np.int64).max)
        base = np.where(used.any(axis=1), base, 0)
        excess = np.where(used, delays - base[:, None], -1)
        values = np.unique(excess[used])
        if values.size * self.weights.size <= GROUP_ELEMENTS_LIMIT:
            for extra in values:
                rows = np.flatnonzero(np.any(excess == extra, axis=1))
                weights = np.where(excess[rows] == extra, self.weights[rows], 0).astype(np.float64)
                self._groups.append((rows, base[rows] + extra, weights))
        inputs, outputs = np.nonzero(self.weights.T)  # sorted by input neuron, then output
        self._column_start = np.searchsorted(inputs, np.arange(n_in + 1))
        self._synapse_weight = self.weights[outputs, inputs].astype(np.int64)
        self._synapse_bin = delays[outputs, inputs] * n_out + outputs
        self._ready = True

    def run_spk(self) -> None:
        if not self._ready:
            self._prepare()
        # What leaves now was accumulated on earlier steps (delay 0 = next step), as in the stock model.
        self.a_out.send(self.a_buff[:, 0])
        spikes = self.s_in.recv()
        if self.num_message_bits.item() == 0:
            spikes = spikes.astype(bool)
        self.a_buff[:, :-1] = self.a_buff[:, 1:]  # the stock model's roll by one, in place
        self.a_buff[:, -1] = 0
        active = np.flatnonzero(spikes)
        if active.size == 0:
            return
        values = spikes[active].astype(np.int64)
        if self._groups and np.max(np.abs(values)) < EXACT_SPIKE_LIMIT:
            dense = spikes.astype(np.float64)
            for rows, delay, weights in self._groups:
                self.a_buff[rows, delay] += self._shift((weights @ dense).astype(np.int64))
        else:
            self.a_buff += self._shift(self._accumulate_per_synapse(active, values))

    def _shift(self, accumulated: np.ndarray) -> np.ndarray:
        weight_exp = int(self.proc_params.get("weight_exp", 0))
        if weight_exp > 0:
            return np.left_shift(accumulated, weight_exp)
        return np.right_shift(accumulated, -weight_exp)

    def _accumulate_per_synapse(self, active: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The general path: this step's input per (output, delay) bin as int64, products wrapped to int32."""
        starts = self._column_start[active]
        counts = self._column_start[active + 1] - starts
        total = int(counts.sum())
        n_out, n_bins = self.a_buff.shape
        first = np.cumsum(counts) - counts  # where each active input's synapses start in the gathered list
        synapses = np.repeat(starts - first, counts) + np.arange(total)
        products = (self._synapse_weight[synapses] * np.repeat(values, counts)).astype(np.int32)
        sums = np.bincount(self._synapse_bin[synapses], weights=products, minlength=n_out * n_bins)
        return sums.astype(np.int64).reshape(n_bins, n_out).T
