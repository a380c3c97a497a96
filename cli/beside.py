"""How `spandex blend`, `narrow` and `export` name, on their last line, the files they wrote beside a model."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def beside_it(card: Path, licences: Iterable[Path]) -> str:
    """"beside it NAME.json, LICENSE-….md": the model's card, then the licence notices copied with it."""
    return "beside it " + ", ".join([card.name, *(notice.name for notice in licences)])
