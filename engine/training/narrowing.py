"""Narrowing a trained model's hidden layers (``spandex narrow``): keep, per hidden layer, the neurons whose spikes
carry the most signal forward, and drop the rest with their synapses.

In a sigma-delta network every neuron is updated every frame whether it spikes or not: a NeuronOp, which the power
proxy counts ten times (SynOps + 10 · NeuronOps). In spandex-prune75 its 773 hidden and 257 output neurons are
1.29 of its 3.34 M-Ops/s on validation, and many hidden ones carry little: a neuron's *signal* here is its mean
|graded spike| on training data times the L1 norm of its outgoing weights, what the next layer hears of it. The
narrowed model computes something else than its parent (less of it: what the dropped neurons sent); its card says
how much of each layer's signal it kept, and a fine-tune can recover the rest (the signal is measured on training
data only: the validation split that scores the result stays unseen).

The measurement is fixed (:data:`SIGNAL_BATCHES` batches of fresh mixtures, seeded), so the same model, sizes and
dataset give the same narrowed model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from engine.errors import SpandexError
from engine.snn.compaction import drop_idle_neurons, idle_hidden_neurons
from engine.snn.model import SDNNModel, layout_text

SIGNAL_BATCHES, SIGNAL_ROWS, SIGNAL_SECONDS, SIGNAL_SEED = 4, 8, 4.0, 123
"""What the signal is measured on: 4 batches of 8 fresh 4-second mixtures, drawn with seed 123 (a dataset of
fixed clips: 8 segments of its training clips per batch)."""


@dataclass(frozen=True)
class Narrowed:
    """A narrowed model; per hidden layer the share of its parent's signal the kept neurons carry (None where the
    layer carried none), and the neurons it was asked to keep (more than it kept where a kept neuron lost every
    synapse: its inputs all came from neurons dropped before it)."""

    model: SDNNModel
    kept_signal: tuple[float | None, ...]
    asked: tuple[int, ...]


def check_sizes(model: SDNNModel, hidden_sizes: tuple[int, ...]) -> None:
    """Refuse sizes that do not narrow ``model``: one per hidden layer, each from 1 to the layer's connected neurons
    (an idle one, with no synapse in or out, goes anyway), fewer than it has somewhere."""
    hidden = model.neuron_counts[1:-1]
    connected = [int((~idle).sum()) for idle in idle_hidden_neurons(model)]
    has, given = layout_text(model.neuron_counts), " ".join(map(str, hidden_sizes))
    if len(hidden_sizes) != len(hidden):
        raise SpandexError(f"--hidden {given}: {model.name} ({has}) has {len(hidden)} hidden layer(s): give one size "
                           f"for each")
    if any(size < 1 for size in hidden_sizes):
        raise SpandexError(f"--hidden {given}: every hidden layer keeps at least one neuron")
    for index, (size, old, alive) in enumerate(zip(hidden_sizes, hidden, connected)):
        if size > old:
            raise SpandexError(f"--hidden {given}: wider than {model.name} ({has}); narrowing only drops neurons "
                               f"(a fine-tune with 'widen' adds them)")
        if size > alive:
            raise SpandexError(f"--hidden {given}: hidden layer {index + 1} of {model.name} has {alive} connected "
                               f"neurons of {old} (the others have no synapse in or out and go anyway): keep at "
                               f"most {alive}")
    if list(hidden_sizes) == connected:
        raise SpandexError(f"--hidden {given}: {model.name} keeps every connected neuron at these sizes: nothing to "
                           f"narrow (`spandex export --drop-idle-neurons` drops the idle ones)")


def ranked_on(dataset: str) -> str:
    """What :func:`training_magnitudes` draws from ``dataset``, in words."""
    from engine.training.dataset_layout import fresh_sources

    return "fresh mixtures of its sources" if fresh_sources(dataset) is not None else "segments of its fixed clips"


def training_magnitudes(dataset: str) -> list[torch.Tensor]:
    """The noisy magnitudes the signal is measured on, drawn from ``dataset``'s training split as a run draws
    them (fresh mixtures from its sources, else segments of its fixed clips)."""
    from engine.constants import HOP, SAMPLE_RATE
    from engine.training.config import MixingRecipe
    from engine.training.dataset import PairedClips
    from engine.training.dataset_layout import fresh_sources, split_folder
    from engine.training.fresh_mixtures import FreshMixtures
    from engine.training.loss import batch_spectra

    sources = fresh_sources(dataset)
    clips = (FreshMixtures.load(sources, MixingRecipe(), seed=SIGNAL_SEED) if sources is not None
             else PairedClips.load(split_folder(dataset, "train"), compact=True))
    rng = np.random.default_rng(SIGNAL_SEED)
    samples = int(SIGNAL_SECONDS * SAMPLE_RATE) // HOP * HOP
    return [batch_spectra(clips.batch(rng, SIGNAL_ROWS, samples)).noisy_magnitude for _ in range(SIGNAL_BATCHES)]


def neuron_signal(model: SDNNModel, magnitudes: list[torch.Tensor]) -> list[np.ndarray]:
    """Per hidden layer, per neuron (the model's order): mean |graded spike| over ``magnitudes`` times the L1 norm
    of the neuron's outgoing weight mantissas."""
    from engine.training.graph import SDNNGraph

    graph = SDNNGraph.from_model(model)
    rates: list[np.ndarray] | None = None
    for magnitude in magnitudes:
        with torch.no_grad():
            out = graph(magnitude)
        batch_rates = []
        for spikes, order in zip(out.spikes[1:], out.neuron_order[1:]):
            per_channel = spikes.abs().double().mean((0, 1))
            per_neuron = torch.zeros_like(per_channel)
            per_neuron[order] = per_channel  # the graph works on neurons sorted by delay
            batch_rates.append(per_neuron.numpy())
        rates = batch_rates if rates is None else [a + b for a, b in zip(rates, batch_rates)]
    assert rates is not None
    return [rate * np.abs(model.layers[index + 1].weight_mant).sum(axis=0)
            for index, rate in enumerate(rates)]


def narrow(model: SDNNModel, hidden_sizes: tuple[int, ...], signal: list[np.ndarray], name: str) -> Narrowed:
    """``model`` with only the ``hidden_sizes`` neurons of most ``signal`` in each hidden layer (connected neurons
    before idle ones; kept in their order; ties to the lower index), and any kept neuron left without a synapse
    dropped as well."""
    check_sizes(model, hidden_sizes)
    idle = idle_hidden_neurons(model)
    keep = []
    for strength, size, unused in zip(signal, hidden_sizes, idle):
        ranked = np.where(unused, -1.0, strength)  # an idle neuron never outranks a connected one
        mask = np.zeros(strength.size, bool)
        mask[np.argsort(-ranked, kind="stable")[:size]] = True
        keep.append(mask)
    while True:  # a kept neuron whose inputs (or listeners) were all dropped is idle now: it goes too
        layers = _cut(model, keep)
        now_idle = idle_hidden_neurons(replace(model, layers=layers))
        fewer = [mask & ~unused for mask, unused in zip(keep, now_idle)]
        empty = next((index for index, mask in enumerate(fewer) if not mask.any()), None)
        if empty is not None:
            raise SpandexError(f"--hidden {' '.join(map(str, hidden_sizes))}: no neuron kept in hidden layer "
                               f"{empty + 1} would hear or be heard by another kept one (the network would be cut "
                               f"in two): keep more neurons")
        if all(np.array_equal(a, b) for a, b in zip(fewer, keep)):
            break
        keep = fewer
    kept_signal = tuple(float(strength[mask].sum()) / float(strength.sum()) if strength.sum() > 0 else None
                        for strength, mask in zip(signal, keep))
    narrowed = drop_idle_neurons(replace(model, layers=layers, name=name))
    return Narrowed(narrowed, kept_signal, tuple(hidden_sizes))


def _cut(model: SDNNModel, keep: list[np.ndarray]):
    """``model``'s layers with every synapse into or out of a hidden neuron not in ``keep`` set to 0."""
    layers = list(model.layers)
    for index, mask in enumerate(keep):
        incoming, outgoing = layers[index].weight_mant.copy(), layers[index + 1].weight_mant.copy()
        incoming[~mask, :] = 0
        outgoing[:, ~mask] = 0
        layers[index] = replace(layers[index], weight_mant=incoming)
        layers[index + 1] = replace(layers[index + 1], weight_mant=outgoing)
    return tuple(layers)
