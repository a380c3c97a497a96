"""Activity regularisation (Narduzzi et al., ICASSP 2022): ``loss + λ · Σ_l ψ(X_l)`` to cut SynOps.

``X_l`` is the graded spikes encoding layer ``l`` emits (the input encoder and each hidden layer: every one
of them is paid for in SynOps by the synapses it feeds). ψ is

- ``lp``: ``mean(|x|^p)`` over spikes (p = 1 is L1; p → 0 approaches the share of neuron-frames that
  spike, i.e. an event count; silent entries add nothing and get no gradient, which for p < 1 would be
  infinite at 0);
- ``hoyer``: the Hoyer-square measure ``(Σ|x|)² / (N Σx²)`` per sequence, in [1/N, 1] (scale-invariant:
  it rewards concentrating the same activity on fewer events).

Weight sparsity and SynOps are not the same thing: ψ acts on activity, pruning on weights; both can be on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.training.config import RegularizerConfig


@dataclass(frozen=True)
class ActivityRegularizer(RegularizerConfig):
    """``weight · Σ_l ψ(X_l)``; ``kind`` "lp" (with ``p``) or "hoyer" — the settings of
    :class:`RegularizerConfig` (checked there), made computable on spike tensors."""

    def __post_init__(self) -> None:
        # a plain dataclass subclass gets a new __init__ without the schema's checks: run them here
        RegularizerConfig(weight=self.weight, kind=self.kind, p=self.p)

    def psi(self, spikes: torch.Tensor) -> torch.Tensor:
        """ψ of one layer's spikes ``(T, B, C)``."""
        if self.kind == "lp":
            magnitude = spikes.abs()
            if self.p == 1.0:
                return magnitude.mean()
            # |x|^p where x != 0; silent entries contribute 0 and no (infinite) gradient
            active = magnitude > 0
            safe = torch.where(active, magnitude, torch.ones_like(magnitude))
            return torch.where(active, safe**self.p, torch.zeros_like(magnitude)).mean()
        per_sequence = spikes.transpose(0, 1).reshape(spikes.shape[1], -1)  # (B, T·C)
        l1 = per_sequence.abs().sum(dim=1)
        l2 = (per_sequence**2).sum(dim=1)
        return (l1**2 / (per_sequence.shape[1] * l2 + 1e-12)).mean()

    def __call__(self, layers: list[torch.Tensor]) -> torch.Tensor:
        return self.weight * sum(self.psi(x) for x in layers)
