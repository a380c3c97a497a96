"""Widening a trained graph's hidden layers without changing what it computes (recipe key ``widen``).

A model trained on far more data than this project has (the official N-DNS baseline: 500 h) can be given more
hidden neurons and then fine-tuned: the new neurons learn what the old ones could not hold, and the start is
the parent itself, not a random network. The widened graph computes exactly its parent's output at step 0:

- a new neuron's *incoming* weights are random (drawn like its layer's existing weights: normal with their
  standard deviation, then on the 8-bit grid), so it is active and its outgoing weights get gradients;
- its *outgoing* weights are 0, so nothing downstream hears it yet (a weight from a new neuron into an old
  one, or into the output, is 0 until training moves it past half a grid step);
- its axonal delay is 0 frames; the layer's shared threshold stays the parent's.

A pruning mask the parent carries (``keep_zeros``) keeps its pruned connections pruned; every connection that
touches a new neuron is free to grow.
"""

from __future__ import annotations

import torch

from engine.errors import SpandexError
from engine.training.graph import WEIGHT_STEP, SDNNGraph


def widen(graph: SDNNGraph, hidden_sizes: tuple[int, ...], seed: int = 0) -> SDNNGraph:
    """A graph with ``hidden_sizes`` hidden neurons per layer that computes what ``graph`` computes."""
    old_hidden = graph.sizes[1:-1]
    has, given = ", ".join(map(str, old_hidden)), ", ".join(map(str, hidden_sizes))
    if len(hidden_sizes) != len(old_hidden):
        raise SpandexError(f"widen: [{given}] gives {len(hidden_sizes)} size(s) for a model with {len(old_hidden)} "
                           f"hidden layers ({has} neurons): give one size per hidden layer")
    if any(new < old for new, old in zip(hidden_sizes, old_hidden)):
        raise SpandexError(f"widen: [{given}] is narrower than the model's {has} neurons (widening only adds neurons)")
    if tuple(hidden_sizes) == tuple(old_hidden):
        raise SpandexError(f"widen: [{given}] is the model's own layout: nothing to widen (leave widen out)")
    sizes = (graph.sizes[0], *hidden_sizes, graph.sizes[-1])
    generator = torch.Generator().manual_seed(seed)
    wide = SDNNGraph(sizes, input_offset=graph.input_offset, input_step=graph.input_step,
                     max_delay=graph.max_delay, surrogate=graph.surrogate, seed=seed)
    wide.output_threshold_mant = graph.output_threshold_mant
    wide.input_level = graph.input_level
    wide.decoder = graph.decoder
    wide.backward_dtype = graph.backward_dtype
    with torch.no_grad():
        for index, old in enumerate(graph.weights):
            n_out, n_in = old.shape
            std = float(old.detach().double().std())
            fresh = torch.randn(sizes[index + 1], sizes[index], generator=generator, dtype=torch.float64) * std
            fresh = torch.round(fresh / WEIGHT_STEP) * WEIGHT_STEP  # on the 8-bit grid, as every trained weight is
            fresh[:n_out, :] = 0.0  # old neurons hear no new neuron ...
            fresh[:n_out, :n_in] = old.detach().double()  # ... and what they heard before
            wide.weights[index].copy_(fresh.to(old.dtype))
            mask = torch.ones(sizes[index + 1], sizes[index])
            mask[:n_out, :n_in] = graph.mask(index)
            wide.set_mask(index, mask)
        for index, old in enumerate(graph.delays):
            wide.delays[index].fill_(0.5)  # mid-cell: 0 frames, as from_model places trained delays
            wide.delays[index][:old.numel()] = old.detach()
        for new, old in zip(wide.thresholds, graph.thresholds):
            new.copy_(old.detach())
            new.requires_grad_(old.requires_grad)
    return wide
