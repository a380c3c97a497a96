"""Gradual Magnitude Pruning (Zhu & Gupta 2017; SPANDEX): masks that never regrow.

At each pruning step of the cubic schedule (:class:`engine.training.schedule.GMPSchedule`) the smallest-magnitude
*alive* weights are masked until the target is reached — over all synapse layers at once (global, SPANDEX's
choice: it strips the output layer to ~98 %) or within each layer (layer-wise). A weight once masked stays
masked: a new mask is always the old mask with more zeros. Ties between equal magnitudes (common right after loading 8-bit weights) are broken at
random, reproducibly (seeded by the step), so no row or column is favoured.
"""

from __future__ import annotations

import math

import torch

from engine.errors import SpandexError
from engine.training.schedule import Scope


def mask_sparsity(masks: list[torch.Tensor]) -> float:
    total = sum(m.numel() for m in masks)
    return 1.0 - sum(float(m.sum()) for m in masks) / total


def prune_masks(weights: list[torch.Tensor], masks: list[torch.Tensor], sparsity: float, scope: Scope,
                seed: int = 0) -> list[torch.Tensor]:
    """New masks with at least ``sparsity`` of the synapses masked (globally or per layer), old zeros kept.

    Within the alive weights the smallest ``|w|`` go first. If the masks already prune more than asked,
    they are returned unchanged: pruning never regrows.
    """
    if scope not in ("global", "layer"):
        raise SpandexError(f"pruning scope must be 'global' or 'layer', got {scope!r}")
    if not 0.0 <= sparsity < 1.0:
        raise SpandexError(f"sparsity must be in [0, 1), got {sparsity}")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        # magnitude plus a jitter far below any weight step: only breaks ties
        scores = [w.detach().abs().double()
                  + torch.rand(w.shape, generator=generator, dtype=torch.float64).to(w.device) * 1e-12
                  for w in weights]
        if scope == "layer":
            return [_prune(s.flatten(), m.flatten(), sparsity).reshape(m.shape) for s, m in zip(scores, masks)]
        flat = _prune(torch.cat([s.flatten() for s in scores]), torch.cat([m.flatten() for m in masks]),
                      sparsity)
        out, offset = [], 0
        for m in masks:
            out.append(flat[offset:offset + m.numel()].reshape(m.shape))
            offset += m.numel()
        return out


def _prune(scores: torch.Tensor, mask: torch.Tensor, sparsity: float) -> torch.Tensor:
    alive = mask > 0
    target_pruned = math.ceil(sparsity * mask.numel() - 1e-9)
    extra = target_pruned - int((~alive).sum())
    new = mask.clone()
    if extra <= 0:
        return new
    alive_index = torch.nonzero(alive).flatten()
    order = torch.argsort(scores[alive_index])
    new[alive_index[order[:extra]]] = 0.0
    return new
