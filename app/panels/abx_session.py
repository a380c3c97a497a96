"""Blind ABX listening between two models: X is A or B at random, the listener guesses, the score is kept.

Plain logic, no Qt: :class:`app.panels.abx_panel.AbxPanel` drives it and hides which model plays.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


@dataclass
class AbxSession:
    """Trials between model slots ``a`` and ``b``. ``rng`` is injectable for tests."""

    a: int
    b: int
    rng: random.Random = field(default_factory=random.Random)
    results: list[bool] = field(default_factory=list)
    x_is_a: bool = True

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError("ABX needs two different models")
        self.new_trial()

    def new_trial(self) -> None:
        self.x_is_a = self.rng.random() < 0.5

    @property
    def x(self) -> int:
        """The slot X stands for in this trial (never shown to the listener)."""
        return self.a if self.x_is_a else self.b

    def guess(self, x_is_a: bool) -> bool:
        """Record the listener's answer; returns whether it was right and starts the next trial."""
        correct = x_is_a == self.x_is_a
        self.results.append(correct)
        self.new_trial()
        return correct

    @property
    def correct(self) -> int:
        return sum(self.results)

    @property
    def trials(self) -> int:
        return len(self.results)

    @property
    def p_value(self) -> float:
        """Chance of scoring at least this well by guessing (one-sided binomial, p = 1/2)."""
        n, k = self.trials, self.correct
        return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n if n else 1.0
