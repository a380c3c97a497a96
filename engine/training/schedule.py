"""The cubic GMP sparsity schedule (Zhu & Gupta 2017; SPANDEX), plain Python: the GUI draws it without torch.

Pruning starts at step ``t0`` and happens every ``Δt`` steps, ``n`` times; at step ``t``

    s_t = s_f + (s_i − s_f) · (1 − (t − t0) / (n Δt))³        for t0 ≤ t ≤ t0 + n Δt

(``s_i`` before, ``s_f`` after). :mod:`engine.training.pruning` applies it to the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.errors import SpandexError

Scope = Literal["global", "layer"]
"""Where one magnitude threshold applies: over all synapse layers at once, or within each layer."""


@dataclass(frozen=True)
class GMPSchedule:
    """The cubic schedule: target ``final_sparsity`` reached after ``n_prunes`` prunes ``frequency`` apart."""

    final_sparsity: float
    initial_sparsity: float = 0.0
    start_step: int = 0
    frequency: int = 10
    n_prunes: int = 10

    def __post_init__(self) -> None:
        if not 0.0 <= self.initial_sparsity <= self.final_sparsity < 1.0:
            raise SpandexError(
                f"sparsities must satisfy 0 <= initial ({self.initial_sparsity}) <= final "
                f"({self.final_sparsity}) < 1")
        if self.frequency < 1 or self.n_prunes < 1 or self.start_step < 0:
            raise SpandexError("pruning frequency and count must be at least 1, the start step at least 0")

    @property
    def end_step(self) -> int:
        return self.start_step + self.n_prunes * self.frequency

    def sparsity_at(self, step: int) -> float:
        """The target sparsity s_t at ``step`` (held at s_i before t0 and at s_f after the last prune)."""
        progress = min(max(step - self.start_step, 0), self.n_prunes * self.frequency)
        fraction = 1.0 - progress / (self.n_prunes * self.frequency)
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * fraction**3

    def is_pruning_step(self, step: int) -> bool:
        """True at t0 + Δt, t0 + 2Δt, ..., t0 + nΔt (at t0 itself the target is still s_i)."""
        offset = step - self.start_step
        return 0 < offset <= self.n_prunes * self.frequency and offset % self.frequency == 0
