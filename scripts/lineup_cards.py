"""What the card steps of scripts/train_lineup.sh share: a finished run's card with its teachers named as what they
are, the part of a card kept for each earlier stage, and shipping a model with its card.

A run's card names each teacher by the file it was given (``build/runs/x/spandex-dense-long.net``); a shipped card
names it as the lineup knows it ("spandex-dense-long (a stage of spandex-dense)").
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from engine.files.atomic import atomic_output, write_text_atomic

SHIPPED = Path("assets/models")
"""Where the lineup's models and cards are shipped (relative to the repository, where the script runs)."""

STAGE_KEYS = ("name", "parent", "recipe", "metrics", "training")
"""What a card keeps of each stage before its last."""


def run_card(runs: Path, name: str, names: dict[str, str]) -> dict:
    """The card of the finished run ``runs/name``, each teacher as ``names`` calls its file's stem (or the stem);
    a run without a teacher, or with one alone, as its card has it."""
    card = json.loads((Path(runs) / name / f"{name}.json").read_text())
    recipe = card["recipe"]

    def named(spec: str) -> str:
        return names.get(Path(spec).stem, Path(spec).stem)

    if recipe.get("teacher"):
        recipe["teacher"] = named(recipe["teacher"])
    if recipe.get("teacher_ensemble"):
        recipe["teacher_ensemble"] = [named(spec) for spec in recipe["teacher_ensemble"]]
    return card


def stage_of(card: dict) -> dict:
    """What a later card keeps of this one, a stage before it (the keys of :data:`STAGE_KEYS` it has)."""
    return {key: card[key] for key in STAGE_KEYS if key in card}


def shipped_card(model: str, shipped: str | os.PathLike = SHIPPED) -> dict:
    return json.loads((Path(shipped) / f"{model}.json").read_text(encoding="utf-8"))


def write_card(model: str, card: dict, shipped: str | os.PathLike = SHIPPED) -> Path:
    """Write ``card`` as the shipped card of ``model``, atomically."""
    return write_text_atomic(Path(shipped) / f"{model}.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def install(model: str, net: str | os.PathLike, card: dict, shipped: str | os.PathLike = SHIPPED) -> None:
    """Ship the network file ``net`` as ``model``, then its card; each file is replaced whole or not at all."""
    with atomic_output(Path(shipped) / f"{model}.net") as tmp:
        shutil.copyfile(net, tmp)
    write_card(model, card, shipped)
