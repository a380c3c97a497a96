"""A model exported for Lava / Loihi 2 (``spandex export``, the app's Loihi panel): the netx file, checked through
netx (:func:`engine.loihi.export.export_netx`), with its card and the licence notices that came with the model
beside it — an exported model says where it came from and carries its parent's licence, as the library does."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SpandexError
from engine.evaluation.report import model_report
from engine.files.atomic import atomic_output, write_text_atomic
from engine.files.netx import NETX_SUFFIXES, load_model
from engine.files.output import check_output
from engine.library.card import card_model_name, check_card_beside, read_card
from engine.library.catalog import SHIPPED_DIR, list_models, model_file, user_models_dir
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


def check_export_output(out: str | Path, source: Path | None = None) -> Path:
    """The netx file to write, and its card beside it, checked before any work (:class:`SpandexError` if not):
    not in the model library (an export is for Lava; models join the library with ``spandex models --install``),
    and not beside ``source`` under its name (its card would be replaced)."""
    target = check_output(out, "OUT", follow_link_option=None, example="model.net").path
    if target.suffix.lower() not in NETX_SUFFIXES:
        raise SpandexError(f"OUT {out}: an exported model is a netx file; name it .net")
    folder = target.parent.resolve()
    if folder in (user_models_dir().resolve(), SHIPPED_DIR.resolve()):
        raise SpandexError(f"OUT {out} is in the model library ({folder}): an export is a file for Lava, which the "
                           f"library would list beside its models; write it elsewhere (a model joins the library "
                           f"with spandex models --install)")
    if source is not None and target.resolve() == source.resolve():
        raise SpandexError("the output is the model's own file: choose another name so the original is kept")
    card = check_card_beside(target, "OUT", "OUT")
    if source is not None and card.resolve() == source.with_suffix(".json").resolve():
        raise SpandexError(f"OUT {out}: its card {card} would replace the model's own card (the model file differs "
                           f"only in its suffix): choose another name so the original is kept")
    return target


def export_model(spec: str | Path, out: str | Path, drop_idle: bool = False) -> ExportOutcome:
    """Export the model ``spec`` (library name or file) to ``out`` as a netx file Lava runs as the same network,
    with its card (``out`` with ``.json``: the model's own, its ``export`` added) and the ``LICENSE-*.md`` notices
    that lie beside the model's file; ``drop_idle``: without its idle hidden neurons (the same output)."""
    source = model_file(spec)
    target = check_export_output(out, source)
    model = load_model(source)
    card, problem = read_card(source)
    if problem:
        raise SpandexError(f"{spec}: {problem} (the export's card would lose where the model came from)")
    licences = _licences_to_copy(_notices(source, card), target)
    record: dict[str, object] = {"from": card_model_name(model, str(spec)), "file": str(source.resolve()),
              "sha256": hashlib.sha256(source.read_bytes()).hexdigest(), "exported": _now()}
    exported = {k: v for k, v in card.items() if k not in (*LIBRARY_SETTINGS, "export")}
    if isinstance(card.get("export"), dict):  # an export exported again: the earlier record is kept
        exported["earlier_exports"] = [*card.get("earlier_exports", []), card["export"]]
    dropped = None
    if drop_idle:
        compact = drop_idle_neurons(model)
        if compact is not model:
            dropped = (list(model.neuron_counts), list(compact.neuron_counts))
            # the file's own layout and sparsity; the measured M-Ops/s stay the larger network's (said on the card)
            metrics = exported.get("metrics")
            if isinstance(metrics, dict):
                exported["metrics"] = {**metrics, **{k: v for k, v in model_report(compact).items() if k in metrics}}
            exported.setdefault("trained_layout", dropped[0])
        model = compact
    plan = export_netx(model, target)
    record.update({"notes": list(plan.notes), "licences": [notice.name for notice in licences],
                   "dropped_idle_neurons": None if dropped is None else {"from": dropped[0], "to": dropped[1]}})
    exported.update({"name": target.stem, "export": record})
    card_path = write_text_atomic(target.with_suffix(".json"), json.dumps(exported, indent=2) + "\n")
    copied = []
    for notice in licences:
        copy = target.parent / notice.name
        if not copy.exists():
            with atomic_output(copy) as tmp:
                tmp.write_bytes(notice.read_bytes())
        copied.append(copy)
    return ExportOutcome(target, Path(card_path), plan, dropped, tuple(copied), bool(card))


def _notices(source: Path, card: dict, depth: int = 0) -> list[Path]:
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
        for key in ("blend", "narrow", *(["earlier_blends"] if isinstance(card.get("earlier_blends"), list) else [])):
            for record in (card[key] if key == "earlier_blends" else [card.get(key)]):
                if isinstance(record, dict):
                    named_models |= {str(record.get("model", "")), str(record.get("other", ""))}
        for entry in list_models():
            if entry.name in named_models and entry.path.resolve() != source.resolve():
                notices.extend(_notices(entry.path, entry.card, depth + 1))
    unique: dict[str, Path] = {}
    for notice in notices:
        unique.setdefault(notice.name, notice)  # one notice of a name (the nearest to the model)
    return [unique[name] for name in sorted(unique)]


def _licences_to_copy(notices: list[Path], target: Path) -> list[Path]:
    """``notices``, refusing before any work a file of a notice's name beside ``target`` that is not that notice
    (a link to the same text is the same notice)."""
    for notice in notices:
        copy = target.parent / notice.name
        if copy.exists() or copy.is_symlink():
            if not copy.is_file() or copy.read_bytes() != notice.read_bytes():
                raise SpandexError(f"{copy} is not the licence notice {notice.name} that comes with the model (it "
                                   f"would be written beside OUT): remove it, or write OUT elsewhere")
    return notices


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
