"""A model exported for Lava / Loihi 2 (``spandex export``, the app's Loihi panel): the netx file, checked through
netx (:func:`engine.loihi.export.export_netx`), with its card and the licence notices that came with the model
beside it — an exported model says where it came from and carries its parent's licence, as the library does."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SpandexError
from engine.files.atomic import atomic_output, write_text_atomic
from engine.files.netx import NETX_SUFFIXES, load_model
from engine.files.output import check_output
from engine.library.card import card_model_name, check_card_beside, read_card
from engine.library.catalog import model_file
from engine.loihi.export import NetxExport, export_netx
from engine.snn.compaction import drop_idle_neurons

LIBRARY_SETTINGS = ("default", "ab_with")
"""Card fields that place a model in the shipped lineup: an exported copy is not the lineup's."""


@dataclass(frozen=True)
class ExportOutcome:
    """A written export: the netx file, its card, what netx needed changed (``plan.notes``), the layouts before and
    after dropping idle neurons (None if none were dropped or none asked for), the licence notices copied beside
    it, and whether the model had a card of its own."""

    path: Path
    card_path: Path
    plan: NetxExport
    dropped: tuple[list[int], list[int]] | None
    licences: tuple[Path, ...]
    had_card: bool


def check_export_output(out: str | Path) -> Path:
    """The netx file to write, and its card beside it, checked before any work (:class:`SpandexError` if not)."""
    target = check_output(out, "OUT", follow_link_option=None, example="model.net").path
    if target.suffix.lower() not in NETX_SUFFIXES:
        raise SpandexError(f"OUT {out}: an exported model is a netx file; name it .net")
    check_card_beside(target, "OUT", "OUT")
    return target


def export_model(spec: str | Path, out: str | Path, drop_idle: bool = False) -> ExportOutcome:
    """Export the model ``spec`` (library name or file) to ``out`` as a netx file Lava runs as the same network,
    with its card (``out`` with ``.json``: the model's own, its ``export`` added) and the ``LICENSE-*.md`` notices
    that lie beside the model's file; ``drop_idle``: without its idle hidden neurons (the same output)."""
    target = check_export_output(out)
    source = model_file(spec)
    model = load_model(source)
    card, problem = read_card(source)
    if problem:
        raise SpandexError(f"{spec}: {problem} (the export's card would lose where the model came from)")
    licences = _licences_to_copy(source, target)
    origin = card_model_name(model, str(spec))
    dropped = None
    if drop_idle:
        compact = drop_idle_neurons(model)
        if compact is not model:
            dropped = (list(model.neuron_counts), list(compact.neuron_counts))
        model = compact
    plan = export_netx(model, target)
    record = {"from": origin, "exported": _now(), "notes": list(plan.notes),
              "dropped_idle_neurons": None if dropped is None else {"from": dropped[0], "to": dropped[1]},
              "licences": [notice.name for notice in licences]}
    exported = {**{k: v for k, v in card.items() if k not in LIBRARY_SETTINGS}, "name": target.stem, "export": record}
    card_path = write_text_atomic(target.with_suffix(".json"), json.dumps(exported, indent=2) + "\n")
    copied = []
    for notice in licences:
        copy = target.parent / notice.name
        if not copy.exists():
            with atomic_output(copy) as tmp:
                tmp.write_bytes(notice.read_bytes())
        copied.append(copy)
    return ExportOutcome(target, Path(card_path), plan, dropped, tuple(copied), bool(card))


def _licences_to_copy(source: Path, target: Path) -> list[Path]:
    """The licence notices that come with the model's file: those named for it (``LICENSE-<prefix>.md`` whose
    prefix starts its file name, as :func:`engine.library.card.card_model_name` reads them), else every notice
    beside it (the shipped models': the official N-DNS baseline's, which each of them descends from). Refuses
    before any work a file of that name beside ``target`` that is not the same notice."""
    beside = sorted(p for p in source.parent.glob("LICENSE-*.md") if p.is_file())
    named = [p for p in beside if source.stem.startswith(p.stem.removeprefix("LICENSE-"))]
    notices = named or beside
    for notice in notices:
        copy = target.parent / notice.name
        if copy.is_symlink() or (copy.exists() and (not copy.is_file() or copy.read_bytes() != notice.read_bytes())):
            raise SpandexError(f"{copy} is not the licence notice {notice.name} that comes with the model (it would "
                               f"be written beside OUT): remove it, or write OUT elsewhere")
    return notices


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
