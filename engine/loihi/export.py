"""Export a model for Loihi 2: a netx HDF5 file that lava-dl's netx builds into exactly the same network.

lava-dl 0.6's ``netx.hdf5.Network`` changes some models without failing:

- it clamps axonal delays above 62 to 62 (Loihi 2 synapses hold 6-bit delays). The N-DNS baseline and
  SPANDEX's pruned nets have one neuron with a delay of 64 (layer 2, neuron 225), so netx runs a
  different network from the one that was trained;
- it fits each layer's weights into Loihi's synapse format (``optimize_weight_bits``), which clips
  mantissas outside [-256, 254] and can zero whole layers (lava-dl issue 170) — :class:`SDNNModel`
  already refuses such mantissas — and fails outright on a layer whose weights are all zero.

:func:`plan_export` fixes what can be fixed exactly and refuses the rest, saying why:

- a delay above 62 is split: the neuron keeps 62, and the rest is added to every synapse leaving it in
  the next layer (netx accepts per-synapse delays). The next layer only sums its inputs linearly, so
  delaying one input's contribution is the same as delaying that input: the output is bit for bit the
  same. Refused when a synapse would then need more than 62;
- a layer without a single nonzero weight is refused (the model's output would not depend on its input);
- output-layer delays, which the engine does not apply (a sigma output has none), are left out.

:func:`export_netx` then writes the file, loads it back through netx and compares every layer's effective
weights, delays, thresholds and neuron types with the model (:func:`verify_netx_network`); it refuses a
file that netx would read differently, so what is on disk is the model, or nothing.

Timing: on Loihi every synapse layer takes one step, so the Lava network's output for frame ``t``
leaves one step after the engine's (the engine's first layer has no 1-frame shift).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import SpandexError
from engine.files.atomic import atomic_output
from engine.files.netx import save_netx
from engine.snn.model import SDNNModel

NETX_MAX_DELAY = 62
"""The largest delay netx 0.6 keeps (``hdf5.py`` clamps above it; ``DelayDense`` gets ``max_delay=62``)."""

NETX_SPIKE_EXP = NETX_STATE_EXP = 6
"""netx's fixed-point scaling of sigma-delta neurons: values carry 6 + 6 fractional bits (1/4096)."""


class LoihiExportError(SpandexError):
    """The model cannot be expressed as a netx network that computes the same thing."""


@dataclass(frozen=True, eq=False)
class NetxExport:
    """A model as netx should read it.

    Attributes:
        model: the model exported.
        netx_delays: per dense layer, the delays written to the file: ``None`` (none), per neuron
            ``(n_out,)``, or per synapse ``(n_out, n_in)``; all within [0, :data:`NETX_MAX_DELAY`].
        moved_delays: per dense layer, the frames of each neuron's delay that were moved onto the next
            layer's synapses (``None`` where nothing was): in Lava that neuron's spikes leave this many
            frames earlier and wait on the synapses instead.
        notes: what was changed to fit, for people (empty when nothing was).
    """

    model: SDNNModel
    netx_delays: tuple[np.ndarray | None, ...]
    moved_delays: tuple[np.ndarray | None, ...]
    notes: tuple[str, ...]

    def synapse_delays(self, layer: int) -> np.ndarray | None:
        """Layer ``layer``'s (0-based) delays expanded to one per synapse, as netx builds them."""
        delays = self.netx_delays[layer]
        if delays is None:
            return None
        shape = self.model.layers[layer].weight_mant.shape
        return np.broadcast_to(delays.reshape(-1, 1) if delays.ndim == 1 else delays, shape).astype(np.int64)


def plan_export(model: SDNNModel) -> NetxExport:
    """Decide the delays netx will read for ``model``; raise :class:`LoihiExportError` if it cannot fit."""
    for index, layer in enumerate(model.layers, start=1):
        if not np.any(layer.weight_mant):
            raise LoihiExportError(
                f"{model.name}: layer {index} has no nonzero weight (pruned away entirely?); the network's "
                "output would not depend on its input, and netx cannot load such a layer")
    notes: list[str] = []
    netx_delays: list[np.ndarray | None] = []
    moved_delays: list[np.ndarray | None] = []
    carried = None  # per input neuron of this layer: delay moved here from the previous layer
    last = len(model.layers) - 1
    for index, layer in enumerate(model.layers):
        own = None
        if index < last and layer.delays is not None:
            own = layer.delays.astype(np.int64)
        elif index == last and layer.delays is not None and np.any(layer.delays):
            notes.append(f"layer {index + 1}: output-layer delays are not part of the SPANDEX network "
                         "(the engine applies none) and were left out")
        kept = None if own is None else np.minimum(own, NETX_MAX_DELAY)
        if carried is None:
            netx_delays.append(kept)
        else:
            rows = np.zeros(layer.out_features, dtype=np.int64) if kept is None else kept
            per_synapse = rows[:, None] + carried[None, :]
            used = layer.weight_mant != 0
            if np.any(per_synapse[used] > NETX_MAX_DELAY):
                out, inp = np.argwhere(used & (per_synapse > NETX_MAX_DELAY))[0]
                raise LoihiExportError(
                    f"{model.name}: layer {index + 1} synapse {inp} -> {out} would need a delay of "
                    f"{per_synapse[out, inp]} after taking over what layer {index} could not hold; "
                    f"Loihi 2 (netx) allows at most {NETX_MAX_DELAY}")
            netx_delays.append(np.minimum(per_synapse, NETX_MAX_DELAY))
        carried = None
        moved_delays.append(None)
        if own is not None and np.any(own > NETX_MAX_DELAY):
            carried = moved_delays[-1] = np.maximum(own - NETX_MAX_DELAY, 0)
            neurons = np.flatnonzero(carried)
            shown = ", ".join(f"{n} ({own[n]})" for n in neurons[:5]) + (" ..." if neurons.size > 5 else "")
            notes.append(
                f"layer {index + 1}: delays above {NETX_MAX_DELAY} (neuron (delay): {shown}) split: each neuron "
                f"keeps {NETX_MAX_DELAY} and the rest moves onto its outgoing synapses in layer {index + 2} "
                "(exact: that layer sums its inputs linearly)")
    return NetxExport(model=model, netx_delays=tuple(netx_delays), moved_delays=tuple(moved_delays),
                      notes=tuple(notes))


def write_export(plan: NetxExport, path: str | os.PathLike) -> Path:
    """Write the planned netx file (atomically); no check — :func:`export_netx` is the checked way."""
    return save_netx(plan.model, path, netx_delays=plan.netx_delays)


def export_netx(model: SDNNModel, path: str | os.PathLike) -> NetxExport:
    """Write ``model`` to ``path`` as a netx file that Lava runs as the same network; return the plan.

    The file is checked by loading it through netx before it replaces ``path``; needs lava-dl.

    Raises:
        LoihiExportError: the model cannot be represented exactly (the message says why), or ``path`` is
            the model's own file.
        LavaUnavailableError: lava-dl is not installed, so the file cannot be checked.
    """
    if model.source and Path(path).resolve() == Path(model.source).resolve():
        raise LoihiExportError("the output is the model's own file: choose another name so the original is kept")
    plan = plan_export(model)
    with atomic_output(path) as tmp:
        write_export(plan, tmp)
        verify_netx_network(load_netx_network(tmp), plan)
    return plan


def load_netx_network(path: str | os.PathLike):
    """``lava.lib.dl.netx.hdf5.Network`` built from ``path`` (Lava processes, not yet running)."""
    from engine.lava_compat import import_netx

    return import_netx().hdf5.Network(net_config=str(path))


def verify_netx_network(network, plan: NetxExport) -> None:
    """Raise :class:`LoihiExportError` unless ``network`` computes ``plan.model`` bit for bit.

    Compares what Lava's fixed-point process models will use: the weights after netx's bit fitting and
    the synapse model's clip/truncate, the weight exponent, per-synapse delays, thresholds, fixed-point
    exponents and neuron types.
    """
    from engine.lava_compat import import_lava

    weightutils = import_lava("lava.utils.weightutils")
    sdn = import_lava("lava.proc.sdn.process")
    model = plan.model
    name = model.name
    layers = list(network.layers)
    if len(layers) != 1 + len(model.layers):
        raise LoihiExportError(f"{name}: netx built {len(layers)} layers, expected {1 + len(model.layers)}")
    scale = 1 << (NETX_SPIKE_EXP + NETX_STATE_EXP)

    def check_neuron(position: int, neuron, kind: type[Any], threshold_mant: int | None) -> None:
        if type(neuron) is not kind:
            raise LoihiExportError(f"{name}: netx made layer {position} a {type(neuron).__name__} neuron, "
                                   f"expected {kind.__name__}")
        if threshold_mant is None:
            return
        exps = (int(np.asarray(neuron.spike_exp.init).item()), int(np.asarray(neuron.state_exp.init).item()))
        if exps != (NETX_SPIKE_EXP, NETX_STATE_EXP):
            raise LoihiExportError(f"{name}: netx gave layer {position} spike/state exponents {exps}, "
                                   f"SPANDEX computes with {(NETX_SPIKE_EXP, NETX_STATE_EXP)}")
        if int(np.asarray(neuron.vth.init).item()) != threshold_mant * scale:
            raise LoihiExportError(f"{name}: netx threshold of layer {position} differs from the model's")

    check_neuron(0, layers[0].neuron, sdn.Delta, model.encoder.threshold_mant)
    for index, (block, layer) in enumerate(zip(layers[1:], model.layers)):
        position = index + 1
        if layer.sigma_output:
            check_neuron(position, block.neuron, sdn.Sigma, None)
        else:
            check_neuron(position, block.neuron, sdn.SigmaDelta, layer.threshold_mant)
            if block.neuron.proc_params["act_mode"] != sdn.ActivationMode.RELU or np.any(block.neuron.bias.init):
                raise LoihiExportError(f"{name}: netx layer {position} is not a bias-free ReLU sigma-delta")
        synapse = block.synapse
        params = synapse.proc_params
        weights = np.asarray(synapse.weights.init)
        sign_mode = params.get("sign_mode") or weightutils.determine_sign_mode(weights)
        used = weightutils.truncate_weights(weightutils.clip_weights(weights, sign_mode, num_bits=8),
                                            sign_mode, params.get("num_weight_bits", 8)).astype(np.int64)
        weight_exp = int(params.get("weight_exp", 0))
        expected = layer.weight_mant.astype(np.int64)
        exact = (np.array_equal(used, expected << -weight_exp) if weight_exp <= 0
                 else np.array_equal(used << weight_exp, expected))
        if not exact:
            raise LoihiExportError(
                f"{name}: netx would change layer {position}'s weights when fitting them into Loihi's "
                f"synapse format (weight exponent {weight_exp}); the exported network would differ")
        delays = plan.synapse_delays(index)
        netx_has_delays = hasattr(synapse, "delays")
        if (delays is None) == netx_has_delays:
            raise LoihiExportError(f"{name}: netx layer {position} {'has' if netx_has_delays else 'lacks'} "
                                   "synaptic delays, unlike the plan")
        if delays is not None and not np.array_equal(np.asarray(synapse.delays.init), delays):
            raise LoihiExportError(f"{name}: netx would change layer {position}'s delays")
