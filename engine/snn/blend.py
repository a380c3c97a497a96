"""Blend two SDNNs of one layout weight by weight: ``share`` of one model's weights plus the rest of the other's.

A fine-tuned model and the model it was fine-tuned from can be averaged in weight space (a "model soup"; WiSE-FT,
Wortsman et al., CVPR 2022): the blend often keeps most of what fine-tuning gained on data like the fine-tuning
data while keeping more of what the parent learned from far more varied data. ``spandex blend`` makes and scores
one; the shipped default is one (docs/training.md).

The blend is an SDNN like any other: weight mantissas are rounded to the 8-bit grid (even mantissas, half to
even, as slayer's ``quantize_8bit``), so every backend runs it bit-exactly and netx exports it. Only weights are
blended, so the two models must have the same layout; everything else is ``model``'s: its axonal delays, its
thresholds, its input encoder (levelling included) and its output decoder. :func:`kept_from_model` says where ``other`` differs
there (fine-tuning moves a few delays by a frame: spandex-prune50's GMP run moved 53 of 512 in its second layer).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from engine.errors import SpandexError
from engine.snn.model import SDNNModel, layout_text

T = TypeVar("T")

WEIGHT_GRID = 2
"""Weight mantissas are multiples of 2 (slayer's 8-bit weights: steps of 2/64)."""


class BlendError(SpandexError):
    """Two models of different layouts, or a share outside [0, 1]."""


def blend(model: SDNNModel, other: SDNNModel, share: float, keep_zeros: bool = False,
          name: str | None = None) -> SDNNModel:
    """``share`` × ``model``'s weights + (1 − ``share``) × ``other``'s, on the 8-bit weight grid; the rest is
    ``model``'s.

    ``keep_zeros``: a weight that is zero in ``model`` stays zero (a pruned model keeps its weight sparsity and
    its SynOps budget); otherwise a weight is zero where the rounded blend is.
    """
    check_share(share)
    _check_blendable(model, other)
    layers = []
    for mine, theirs in zip(model.layers, other.layers):
        weight = _on_grid(share * mine.weight_mant.astype(np.float64) + (1.0 - share) * theirs.weight_mant)
        if keep_zeros:
            weight[mine.weight_mant == 0] = 0
        layers.append(dataclasses.replace(mine, weight_mant=weight.astype(mine.weight_mant.dtype)))
    return dataclasses.replace(model, layers=tuple(layers), name=name or model.name, source=None)  # validated


def average(models: Sequence[SDNNModel], name: str | None = None) -> SDNNModel:
    """The uniform average of ``models``' weights (a uniform "model soup"), rounded once to the 8-bit grid; the
    rest (delays, thresholds, input encoder, output decoder) is the first model's, as in :func:`blend`. All must
    share one layout."""
    check_one_layout(models)
    first = models[0]
    layers = []
    for index, mine in enumerate(first.layers):
        mean = np.mean([model.layers[index].weight_mant.astype(np.float64) for model in models], axis=0)
        layers.append(dataclasses.replace(mine, weight_mant=_on_grid(mean).astype(mine.weight_mant.dtype)))
    return dataclasses.replace(first, layers=tuple(layers), name=name or first.name, source=None)


def check_one_layout(models: Sequence[SDNNModel]) -> None:
    """Refuse (:class:`BlendError`) no models, or models whose layouts differ from the first's."""
    if not models:
        raise BlendError("average: no models given")
    for other in models[1:]:
        _check_blendable(models[0], other)


def greedy_members(ranked: Sequence[T], best: float, soup_score: Callable[[list[T]], float],
                   tried: Callable[[T, int, float, bool], None] | None = None) -> tuple[list[T], float]:
    """A greedy soup's members (Wortsman et al., ICML 2022): ``ranked`` best first, the first scoring ``best``
    alone; each next one joins if the soup with it scores higher than the soup so far (``soup_score(members)``).
    ``tried(candidate, members_with_it, score, joined)`` hears every try. Returns the members and their score."""
    members = [ranked[0]]
    for candidate in ranked[1:]:
        score = soup_score([*members, candidate])
        joined = score > best
        if tried is not None:
            tried(candidate, len(members) + 1, score, joined)
        if joined:
            members, best = [*members, candidate], score
    return members, best


def _on_grid(mixed: np.ndarray) -> np.ndarray:
    """Weights mixed in float, rounded to the 8-bit grid (ties to even, as torch.round). Float arithmetic lands a
    hair off exact ties (0.9 × 2 + 0.1 × 12 = 2.9999999999999996): mantissas are at most 256, so for shares of up
    to 9 decimals, 9 decimals give back the exact value before rounding."""
    return WEIGHT_GRID * np.round(np.round(mixed, 9) / WEIGHT_GRID)


def check_share(share: float) -> None:
    """Refuse a share outside [0, 1] (NaN included), with the fraction meant where it looks like a percentage."""
    if not 0.0 <= share <= 1.0:
        percent = f" ({share / 100:g} for {share:g} %)" if 1.0 < share <= 100.0 else ""
        raise BlendError(f"share {share:g}: give the first model's share of the weights, from 0 to 1{percent}")


def kept_from_model(model: SDNNModel, other: SDNNModel) -> list[str]:
    """Where ``other`` differs from ``model`` in what a blend takes from ``model`` alone, in words (empty: nowhere)."""
    notes = []
    mine, theirs = model.encoder, other.encoder
    for what, ours, other_value in (("input threshold", f"{mine.threshold_mant}/64", f"{theirs.threshold_mant}/64"),
                                    ("input offset", f"{mine.offset:g}", f"{theirs.offset:g}"),
                                    ("input step", f"{mine.step:g}", f"{theirs.step:g}"),
                                    ("input levelling", "on" if mine.level else "off", "on" if theirs.level else "off")):
        if ours != other_value:
            notes.append(f"{what} {ours} ({other.name}: {other_value})")
    if mine.level is not None and theirs.level is not None and mine.level != theirs.level:
        notes.append(f"input levelling settings ({other.name} levels its input otherwise)")
    if model.decoder != other.decoder:
        notes.append(f"mask sharpening {model.decoder.sharpening:g} ({other.name}: {other.decoder.sharpening:g})")
    for index, (a, b) in enumerate(zip(model.layers, other.layers), start=1):
        if a.threshold_mant != b.threshold_mant:
            notes.append(f"layer {index}'s threshold {a.threshold_mant}/64 ({other.name}: {b.threshold_mant}/64)")
        if a.delays is None or b.delays is None:
            if (a.delays is None) != (b.delays is None):
                notes.append(f"layer {index}'s axonal delays ({'none' if a.delays is None else 'some'}; "
                             f"{other.name}: {'none' if b.delays is None else 'some'})")
        elif (moved := int(np.count_nonzero(a.delays != b.delays))):
            notes.append(f"layer {index}'s axonal delays ({moved} of {a.delays.size} neurons differ in {other.name})")
    return notes


def _check_blendable(model: SDNNModel, other: SDNNModel) -> None:
    if model.neuron_counts != other.neuron_counts:
        raise BlendError(f"{model.name} and {other.name} cannot be blended: their layouts differ "
                         f"({layout_text(model.neuron_counts)} against {layout_text(other.neuron_counts)})")
