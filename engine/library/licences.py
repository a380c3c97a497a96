"""The licence notices (``LICENSE-*.md``) that come with a model, and their copies beside a model written from it:
an export, a narrowed model, a blend carries its parents' licences as the library does."""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.errors import SpandexError
from engine.files.atomic import atomic_output
from engine.library.catalog import SHIPPED_DIR, list_models


def lineage_notices(source: Path, card: dict, depth: int = 0) -> list[Path]:
    """The licence notices that come with a model: those beside its file named for it (``LICENSE-<prefix>.md``
    whose prefix starts its file name, as :func:`engine.library.card.card_model_name` reads them), else every
    notice beside it (the shipped models': the official N-DNS baseline's, which each of them descends from); those
    its card names (a parent "ndns_baseline (MIT License, see LICENSE-ndns.md)"), found beside it or among the
    shipped models; and those of the library models its card names as parent, blended or narrowed model (a model
    fine-tuned from spandex-dense carries the N-DNS notice), theirs in turn."""
    beside = sorted(p for p in source.parent.glob("LICENSE-*.md") if p.is_file())
    named = [p for p in beside if source.stem.startswith(p.stem.removeprefix("LICENSE-"))]
    notices = named or beside
    for mentioned in sorted(set(re.findall(r"LICENSE-[\w.-]+?\.md", json.dumps(card)))):
        found = next((folder / mentioned for folder in (source.parent, SHIPPED_DIR) if (folder / mentioned).is_file()),
                     None)
        if found is not None:
            notices.append(found)
    if depth < 8:
        named_models = {str(card.get("parent", ""))}
        for key in ("blend", "narrow", "earlier_blends", "earlier_narrows"):
            for record in (card[key] if isinstance(card.get(key), list) else [card.get(key)]):
                if isinstance(record, dict):
                    named_models |= {str(record.get("model", "")), str(record.get("other", ""))}
        for entry in list_models():
            if entry.name in named_models and entry.path.resolve() != source.resolve():
                notices.extend(lineage_notices(entry.path, entry.card, depth + 1))
    unique: dict[str, Path] = {}
    for notice in notices:
        unique.setdefault(notice.name, notice)  # one notice of a name (the nearest to the model)
    return [unique[name] for name in sorted(unique)]


def check_notices(notices: list[Path], folder: Path) -> list[Path]:
    """``notices``, refusing before any work a file of a notice's name in ``folder`` that is not that notice (a link
    to the same text is the same notice)."""
    for notice in notices:
        copy = folder / notice.name
        if copy.exists() or copy.is_symlink():
            if not copy.is_file() or copy.read_bytes() != notice.read_bytes():
                raise SpandexError(f"{copy} is not the licence notice {notice.name} that comes with the model (it "
                                   f"would be written beside OUT): remove it, or write OUT elsewhere")
    return notices


def copy_notices(notices: list[Path], folder: Path) -> tuple[Path, ...]:
    """Copy each of ``notices`` into ``folder`` (atomically) unless it is there already; the copies' paths."""
    copies = []
    for notice in notices:
        copy = folder / notice.name
        if not copy.exists():
            with atomic_output(copy) as tmp:
                tmp.write_bytes(notice.read_bytes())
        copies.append(copy)
    return tuple(copies)
