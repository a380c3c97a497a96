"""A moving average of a network's weights over the steps of a run (Polyak averaging, an EMA).

An 8-bit model is its latent weights rounded: one step's noise moves some of them across a rounding boundary
and back, so two validations a few hundred steps apart differ by more than the steps gain. The average of the
recent steps' latent weights is a smoother point of the same path, and rounding it is what a run configured with
``weight_average`` (:class:`engine.training.config.TrainConfig`) validates and exports.

After step ``t`` the average moves towards the network by ``1 − d_t``, ``d_t = min(decay, (1 + t) / (10 + t))``:
the first steps weigh more (the average does not sit on the starting point for ``1 / (1 − decay)`` steps), later
ones ``1 − decay`` each. Masks (pruning) and every other buffer are the network's own, copied at each update.
"""

from __future__ import annotations

import copy

import torch

from engine.training.graph import SDNNGraph


def averaging_decay(decay: float, step: int) -> float:
    """The weight the average keeps at update ``step`` (1, 2, ...): ``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1.0 + step) / (10.0 + step))


class WeightAverage:
    """The averaged copy of a graph: :meth:`update` after each optimiser step, :attr:`graph` to export."""

    def __init__(self, graph: SDNNGraph, decay: float) -> None:
        self.decay = float(decay)
        self.updates = 0
        self.graph = copy.deepcopy(graph)
        self.graph.requires_grad_(False)

    def update(self, graph: SDNNGraph) -> None:
        """Move the average towards ``graph``'s parameters as they are now; take its buffers (masks) as they are."""
        self.updates += 1
        keep = averaging_decay(self.decay, self.updates)
        with torch.no_grad():
            for mine, theirs in zip(self.graph.parameters(), graph.parameters(), strict=True):
                mine.lerp_(theirs.detach(), 1.0 - keep)
            for mine, theirs in zip(self.graph.buffers(), graph.buffers(), strict=True):
                mine.copy_(theirs)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "graph": self.graph.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        self.graph.load_state_dict(state["graph"])
