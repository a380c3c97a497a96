"""A blend of two models (:mod:`engine.snn.blend`) made, scored on a validation split and written with its card:
what ``spandex blend`` runs, and what a GUI panel would call."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SpandexError
from engine.evaluation.report import ValidationScores, card_metrics, validation_measured_on
from engine.files.atomic import write_text_atomic
from engine.files.netx import load_model, save_netx
from engine.files.output import check_output
from engine.library.card import (
    card_model_name,
    check_card_beside,
    host_processing,
    read_card,
    refuse_replacing_a_source,
)
from engine.library.catalog import (
    SHIPPED_DIR,
    check_name_free,
    install_model,
    is_shipped_folder,
    is_user_library,
    model_file,
)
from engine.library.licences import check_notices, copy_notices, named_with_licences, notices_of_models
from engine.snn.blend import blend, check_share, kept_from_model
from engine.snn.model import SDNNModel
from engine.training.config import model_name_problem

CARD_FIELDS_KEPT = ("parent", "data", "stages", "recipe", "training", "soup", "narrow", "earlier_narrows")
"""What a blend's card keeps of its first model's card: where that model came from and how it was trained (a soup
included: the first model may be the average of its stages)."""


@dataclass(frozen=True)
class BlendOutcome:
    """A written blend: its file, its card, where it keeps its first model's settings against the other's, and
    the validation scores of the blend, the first model and the other (in that order, by name)."""

    path: Path
    card: dict
    kept: list[str]
    scores: Sequence[tuple[str, ValidationScores]]
    clips: int
    seconds: float
    installed: Path | None = None
    """Where it joined the user's library (``install``), or None."""
    licences: tuple[Path, ...] = ()
    """The licence notices written beside it."""


def check_blend_output(out: str, install: bool = False, sources: tuple[Path, ...] = (),
                       example: str = "blend.net", offers_install: bool = True) -> Path:
    """The netx file to write and its card beside it (and, with ``install``, its place in the user's library),
    checked before any work (:class:`SpandexError` if not): not one of the ``sources`` it is made from, nor beside
    one under its name (its card would be replaced), nor among the shipped models."""
    if Path(out).suffix.lower() != ".net":
        raise SpandexError(f"--out {out}: a model is written as a netx file; name it .net")
    target = check_output(out, "--out", follow_link_option=None, example=example).path
    if is_shipped_folder(target.parent):
        raise SpandexError(f"--out {out} is among the shipped models ({SHIPPED_DIR}): write it elsewhere"
                           + (" (your models join the library with --install)" if offers_install else ""))
    refuse_replacing_a_source(out, target, target.with_suffix(".json"), sources, "--out", "made")  # (said first)
    check_card_beside(target, "--out", "OUT")
    if install or is_user_library(target.parent):  # written into the library, by --install or straight there: a free name
        problem = model_name_problem(target.stem)
        if problem:
            raise SpandexError(f"--out {out}: as a library model, its {problem}")
        check_name_free(target.stem, rename_advice="name --out otherwise")
    return target


def join_library(target: Path) -> Path:
    """``target`` (a model written with its card) in the user's library: itself where it was written straight
    there, else its copy there (refused under a name the library holds)."""
    return target if is_user_library(target.parent) else install_model(
        target, target.with_suffix(".json"), rename_advice="name --out otherwise")


def make_blend(model_spec: str, other_spec: str, share: float, keep_zeros: bool, dataset: str,
               out: str, install: bool = False,
               scored: Callable[[str, ValidationScores], None] | None = None) -> BlendOutcome:
    """Blend ``model_spec`` and ``other_spec`` (library names or files), score the blend and both on ``dataset``'s
    validation split, and write the blend to ``out`` with its card (``out`` with ``.json``); with ``install``, also
    into the user's model library (where the app and ``spandex models`` list it). ``scored(label, scores)`` is
    called as each of the three is scored."""
    check_share(share)
    first_file, other_file = model_file(model_spec), model_file(other_spec)  # the library is listed once for each
    if first_file.resolve() == other_file.resolve():
        raise SpandexError(f"{model_spec} and {other_spec} are the same model file: a blend with itself is that "
                           "model again; give two models of one layout")
    target = check_blend_output(out, install, sources=(first_file, other_file))
    from engine.training.dataset import PairedClips  # torch: only once the arguments are good
    from engine.training.dataset_layout import split_folder
    from engine.training.validation import validate

    validation = split_folder(dataset, "validation")
    model, other = load_model(first_file), load_model(other_file)
    first_card, problem = read_card(first_file)
    if problem:
        raise SpandexError(f"{model_spec}: {problem} (the blend's card would lose where the model came from)")
    notices = check_notices(notices_of_models([(first_file, first_card), (other_file, read_card(other_file)[0])]),
                            target.parent)
    blended = blend(model, other, share, keep_zeros=keep_zeros, name=target.stem)
    clips = PairedClips.load(validation)
    scores = []
    for label, candidate in ((f"{blended.name} (the blend)", blended), (model.name, model), (other.name, other)):
        scores.append((label, validate(candidate, clips)))
        if scored is not None:
            scored(*scores[-1])
    kept = kept_from_model(model, other)
    # the run the blend follows (not when a narrowing came after that run: the card would misplace the blend)
    last_run = first_card["recipe"].get("name") if isinstance(first_card.get("recipe"), dict) and \
        "narrow" not in first_card else None
    card = blend_card(blended, first_card, scores[0][1],
                      blend={"model": named_with_licences(card_model_name(model, model_spec), model_spec),
                             "other": named_with_licences(card_model_name(other, other_spec), other_spec),
                             "share": share, "keep_zeros": keep_zeros, "kept_from_model": kept,
                             # the run it follows, so that a card whose later training makes that run a stage
                             # shows the blend in its place
                             **({"after_stage": last_run} if isinstance(last_run, str) else {})},
                      measured_on=validation_measured_on(dataset, clips),
                      dataset=dataset, clips=len(clips))
    save_netx(blended, target)
    write_text_atomic(target.with_suffix(".json"), json.dumps(card, indent=2) + "\n")
    licences = copy_notices(notices, target.parent)  # (none into the user's library)
    installed = join_library(target) if install else None
    return BlendOutcome(target, card, kept, scores, len(clips), clips.seconds, installed, licences)


def blend_card(blended: SDNNModel, first_card: dict, scores: ValidationScores, blend: dict, measured_on: str,
               dataset: str, clips: int) -> dict:
    """The blend's card: its first model's card (its parent, data, stages, recipe and training: the blend adds no
    training; where the first model was a blend itself, its blends as ``earlier_blends``), the ``blend``, and the
    blend's own ``metrics`` on ``dataset``."""
    earlier = [b for b in first_card.get("earlier_blends", []) if isinstance(b, dict)]
    if isinstance(first_card.get("blend"), dict):
        earlier.append(first_card["blend"])
    return {
        "name": blended.name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **{key: first_card[key] for key in CARD_FIELDS_KEPT if key in first_card},
        **({"earlier_blends": earlier} if earlier else {}),
        "blend": blend,
        **host_processing(blended),
        "metrics": {**card_metrics(scores, blended, measured_on), "dataset": dataset, "clips": clips},
    }
