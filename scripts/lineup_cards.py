"""What the card steps of scripts/train_lineup.sh share: a finished run's card with its teachers named as what they are.

A run's card names each teacher by the file it was given (``build/runs/x/spandex-dense-long.net``); a shipped card
names it as the lineup knows it ("spandex-dense-long (a stage of spandex-dense)").
"""

from __future__ import annotations

import json
from pathlib import Path

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
