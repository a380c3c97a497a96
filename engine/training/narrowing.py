"""Narrowing a trained model's hidden layers (``spandex narrow``): keep, per hidden layer, the neurons whose spikes
carry the most signal forward, and drop the rest with their synapses.

In a sigma-delta network every neuron is updated every frame whether it spikes or not: a NeuronOp, which the power
proxy counts ten times (SynOps + 10 · NeuronOps). In a pruned model the neurons cost more than the synapses they
keep — spandex-prune75's 1,030 neurons are 1.29 of its 3.34 M-Ops/s — and many of them carry little: a neuron's
*signal* here is its mean |graded spike| on fresh training mixtures times the L1 norm of its outgoing weights,
what the next layer hears of it. The narrowed model computes something else than its parent (less of it: what
the dropped neurons sent); its card says how much of each layer's signal it kept, and a fine-tune recovers the
rest (the importance is measured on training data only: the validation split that scores it stays unseen).

The measurement is fixed (:data:`SIGNAL_BATCHES` batches of fresh mixtures, seeded), so the same model, sizes and
dataset give the same narrowed model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from engine.errors import SpandexError
from engine.snn.compaction import drop_idle_neurons
from engine.snn.model import SDNNModel, layout_text

SIGNAL_BATCHES, SIGNAL_ROWS, SIGNAL_SECONDS, SIGNAL_SEED = 4, 8, 4.0, 123
"""What the signal is measured on: 4 batches of 8 fresh 4-second mixtures, drawn with seed 123 (a dataset of
fixed clips: 8 segments of its training clips per batch)."""


@dataclass(frozen=True)
class Narrowed:
    """A narrowed model and, per hidden layer, the share of its parent's signal the kept neurons carry."""

    model: SDNNModel
    kept_signal: tuple[float, ...]


def check_sizes(model: SDNNModel, hidden_sizes: tuple[int, ...]) -> None:
    """Refuse sizes that do not narrow ``model``: one per hidden layer, each at least 1 and at most what it has."""
    hidden = model.neuron_counts[1:-1]
    has, given = layout_text(model.neuron_counts), " ".join(map(str, hidden_sizes))
    if len(hidden_sizes) != len(hidden):
        raise SpandexError(f"--hidden {given}: {model.name} ({has}) has {len(hidden)} hidden layer(s): give one size "
                           f"for each")
    if any(size < 1 for size in hidden_sizes):
        raise SpandexError(f"--hidden {given}: every hidden layer keeps at least one neuron")
    if any(size > old for size, old in zip(hidden_sizes, hidden)):
        raise SpandexError(f"--hidden {given}: wider than {model.name} ({has}); narrowing only drops neurons "
                           f"(a fine-tune with 'widen' adds them)")


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
    """``model`` with only the ``hidden_sizes`` neurons of most ``signal`` in each hidden layer (kept in their
    order; ties to the lower index)."""
    check_sizes(model, hidden_sizes)
    layers = list(model.layers)
    kept_signal = []
    for index, (strength, size) in enumerate(zip(signal, hidden_sizes)):
        keep = np.zeros(strength.size, bool)
        keep[np.argsort(-strength, kind="stable")[:size]] = True
        total = float(strength.sum())
        kept_signal.append(float(strength[keep].sum()) / total if total > 0 else 1.0)
        incoming, outgoing = layers[index].weight_mant.copy(), layers[index + 1].weight_mant.copy()
        incoming[~keep, :] = 0
        outgoing[:, ~keep] = 0
        layers[index] = replace(layers[index], weight_mant=incoming)
        layers[index + 1] = replace(layers[index + 1], weight_mant=outgoing)
    narrowed = drop_idle_neurons(replace(model, layers=tuple(layers), name=name))
    return Narrowed(narrowed, tuple(kept_signal))
