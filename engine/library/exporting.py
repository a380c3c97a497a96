"""A model exported for Lava / Loihi 2 (``spandex export``, the app's Loihi panel): the netx file, checked through
netx (:func:`engine.loihi.export.export_netx`), with its card and the licence notices that came with the model
beside it — an exported model says where it came from and carries its parent's licence, as the library does."""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from engine.dsp.level import LevelParams
from engine.errors import SpandexError
from engine.evaluation.report import model_report
from engine.files.atomic import write_text_atomic
from engine.files.netx import NETX_SUFFIXES, load_model
from engine.files.output import check_output
from engine.library.card import (
    LIBRARY_SETTINGS,
    card_model_name,
    check_card_beside,
    read_card,
    refuse_replacing_a_source,
)
from engine.library.catalog import is_shipped_folder, is_user_library, model_file
from engine.library.licences import check_notices, copy_notices, lineage_notices
from engine.loihi.export import NetxExport, export_netx
from engine.snn.compaction import drop_idle_neurons
from engine.snn.model import SDNNModel


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
    host_notes: tuple[str, ...] = ()
    """What a Lava pipeline other than SPANDEX's must do on the host around the network (input levelling, mask
    sharpening)."""


def check_export_output(out: str | Path, source: Path | None = None) -> Path:
    """The netx file to write, and its card beside it, checked before any work (:class:`SpandexError` if not):
    not in the model library (an export is for Lava; models join the library with ``spandex models --install``),
    and not beside ``source`` under its name (its card would be replaced)."""
    target = check_output(out, "OUT", follow_link_option=None, example="model.net").path
    if target.suffix.lower() not in NETX_SUFFIXES:
        raise SpandexError(f"OUT {out}: an exported model is a netx file; name it .net")
    if is_user_library(target.parent) or is_shipped_folder(target.parent):
        raise SpandexError(f"OUT {out} is in the model library ({target.parent.resolve()}): an export is a file for Lava, which the "
                           f"library would list beside its models; write it elsewhere (a model joins the library "
                           f"with spandex models --install)")
    refuse_replacing_a_source(out, target, target.with_suffix(".json"), [] if source is None else [source], "OUT",
                              "exported")  # (first: said as what it is, not as a card shared with the source)
    check_card_beside(target, "OUT", "OUT")
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
    licences = check_notices(lineage_notices(source, card), target.parent)
    record: dict[str, object] = {"from": card_model_name(model, str(spec)), "file": str(source.resolve()),
              "sha256": hashlib.sha256(source.read_bytes()).hexdigest(), "exported": _now()}
    exported = {k: v for k, v in card.items() if k not in (*LIBRARY_SETTINGS, "export")}
    if isinstance(card.get("export"), dict):  # an export exported again: the earlier record is kept
        earlier = card.get("earlier_exports")
        exported["earlier_exports"] = [*(earlier if isinstance(earlier, list) else []), card["export"]]
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
    host = host_notes(model)
    record.update({"notes": [*plan.notes, *host], "licences": [notice.name for notice in licences],
                   "dropped_idle_neurons": None if dropped is None else {"from": dropped[0], "to": dropped[1]}})
    exported.update({"name": target.stem, "export": record})
    card_path = write_text_atomic(target.with_suffix(".json"), json.dumps(exported, indent=2) + "\n")
    copied = copy_notices(licences, target.parent)
    return ExportOutcome(target, Path(card_path), plan, dropped, copied, bool(card), host)


def host_notes(model: SDNNModel) -> tuple[str, ...]:
    """What a Lava pipeline other than SPANDEX's must do on the host around ``model``'s network (none: nothing)."""
    notes = [level_note(model.encoder.level)] if model.encoder.level is not None else []
    if model.decoder.sharpening:
        notes.append(f"the model sharpens its mask on the host (engine/snn/mask.py: each frame's relu(y + 1) raised to "
                     f"1 + {model.decoder.sharpening:g} · (1 − its mean, bins capped at 1)); netx does not, so a Lava "
                     f"pipeline other than SPANDEX's must sharpen the same way after the network (the setting is in the "
                     f"file: the output layer's 'spandex_decoder' attribute)")
    return tuple(notes)


def level_note(level: LevelParams) -> str:
    """What levelling a model's input takes, said for whoever runs its export outside SPANDEX: netx does not level."""
    return (f"the model levels its input before the network, on the host (engine/dsp/level.py: |STFT| scaled toward "
            f"{level.target_db:g} dB, by {level.min_gain_db:+g} to {level.max_gain_db:+g} dB, attack "
            f"{level.attack_frames:g} and release {level.release_frames:g} frames); netx does not, so a Lava pipeline "
            f"other than SPANDEX's must level the same way first (the settings are in the file: the input layer's "
            f"'spandex_level' attribute)")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
