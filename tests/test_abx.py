"""Blind ABX bookkeeping: X is A or B at random, the score, the chance of guessing that well."""

from __future__ import annotations

import random

import pytest

from app.panels.abx_session import AbxSession


def test_abx_keeps_score_and_chance_level():
    session = AbxSession(0, 2, rng=random.Random(3))
    xs = set()
    for _ in range(10):
        xs.add(session.x)
        session.guess(session.x_is_a)
    assert xs == {0, 2} and session.correct == 10 and session.p_value == pytest.approx(1 / 1024)
    session.guess(not session.x_is_a)
    assert (session.correct, session.trials) == (10, 11)
    assert AbxSession(0, 1).p_value == 1.0
    with pytest.raises(ValueError):
        AbxSession(1, 1)
