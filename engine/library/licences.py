"""The licence notices (``LICENSE-*.md``) that come with a model, and their copies beside a model written from it:
an export, a narrowed model, a blend carries its parents' licences as the library does."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from engine.errors import SpandexError
from engine.files.atomic import atomic_output
from engine.library.card import read_card
from engine.library.catalog import SHIPPED_DIR, is_user_library, list_models


def lineage_notices(source: Path, card: dict) -> list[Path]:
    """The licence notices that come with a model: those beside its file named for it (``LICENSE-<prefix>.md``
    whose prefix starts its file name, as :func:`engine.library.card.card_model_name` reads them), else every
    notice beside it (the shipped models': the official N-DNS baseline's, which each of them descends from); those
    its card names (a parent "ndns_baseline (MIT License, see LICENSE-ndns.md)"), found beside it or among the
    shipped models; and those of the library models its card names as parent, blended or narrowed model (a model
    fine-tuned from spandex-dense carries the N-DNS notice), theirs in turn, each model once."""
    library = {entry.name: entry for entry in reversed(list_models())}  # (a shipped name is the shipped model's)
    found: dict[str, Path] = {}
    visited: set[Path] = set()
    todo = [(source, card)]
    while todo:
        path, this_card = todo.pop(0)
        if path.resolve() in visited:
            continue
        visited.add(path.resolve())
        for notice in _notices_of(path, this_card):
            found.setdefault(notice.name, notice)  # one notice of a name (the nearest to the model)
        todo.extend((library[name].path, library[name].card) for name in sorted(_named_models(this_card))
                    if name in library)
    return [found[name] for name in sorted(found)]


def notices_of_models(models: Iterable[tuple[Path, dict]]) -> list[Path]:
    """The licence notices of several models' lineages (:func:`lineage_notices` of each (file, card)), one of a
    name: the first model's where two bring a notice of one name (a blend's first model, a soup's best)."""
    found: dict[str, Path] = {}
    for source, card in models:
        for notice in lineage_notices(source, card):
            found.setdefault(notice.name, notice)
    return list(found.values())


def named_with_licences(name: str, spec: str | Path) -> str:
    """How a card names the model file ``spec`` (``name``, from :func:`engine.library.card.card_model_name`), with
    the licence notices of its lineage that ``name`` does not mention: a card names a file by its stem, which the
    library cannot follow later, so a fine-tune of a narrowed file keeps "LICENSE-ndns.md" on its card and carries
    that notice wherever it is exported, and says what the file was made from ("thin (a file made from
    spandex-prune75; its lineage's licence notices: LICENSE-ndns.md)"). A library model's name is returned as it is
    (the library is followed)."""
    path = Path(spec)
    if not path.is_file() or path.resolve() in {entry.path.resolve() for entry in list_models()}:
        return name
    card = read_card(path)[0]
    missing = [notice.name for notice in lineage_notices(path, card) if notice.name not in name]
    if not missing:
        return name
    made = next((str(record["model"]) for record in (card.get("sharpened"), card.get("narrow"), card.get("blend"))
                 if isinstance(record, dict) and record.get("model")), str(card.get("parent") or ""))
    made = made.split(" (")[0]  # its own parenthesis would nest, generation after generation
    origin = f"a file made from {made}; " if made and made != "scratch" else ""
    return f"{name} ({origin}its lineage's licence notices: {', '.join(missing)})"


def _notices_of(path: Path, card: dict) -> list[Path]:
    """A model's own notices: named for its file or else all beside it, and those its card names."""
    beside = sorted(p for p in path.parent.glob("LICENSE-*.md") if p.is_file())
    named = [p for p in beside if path.stem.startswith(p.stem.removeprefix("LICENSE-"))]
    notices = named or beside
    for mentioned in sorted(set(re.findall(r"LICENSE-[\w.-]+?\.md", json.dumps(card)))):
        for folder in (path.parent, SHIPPED_DIR):
            if (folder / mentioned).is_file():
                notices.append(folder / mentioned)
                break
    return notices


def _named_models(card: dict) -> set[str]:
    """The models a card names as its parent, or as blended, narrowed or sharpened."""
    names = {str(card.get("parent", ""))}
    for key in ("blend", "narrow", "sharpened", "earlier_blends", "earlier_narrows"):
        for record in (card[key] if isinstance(card.get(key), list) else [card.get(key)]):
            if isinstance(record, dict):
                names |= {str(record.get("model", "")), str(record.get("other", ""))}
    return names


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
    """Copy each of ``notices`` into ``folder`` (atomically) unless it is there already; the copies' paths. None into
    the user's model library: there every model would carry them (a library model's notices come with its card)."""
    if is_user_library(folder):
        return ()
    copies = []
    for notice in notices:
        copy = folder / notice.name
        if not copy.exists():
            with atomic_output(copy) as tmp:
                tmp.write_bytes(notice.read_bytes())
        copies.append(copy)
    return tuple(copies)
