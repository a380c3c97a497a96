"""A narrowed model (:mod:`engine.training.narrowing`) made, scored on a validation split and written with its card:
what ``spandex narrow`` runs."""

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
from engine.library.blending import CARD_FIELDS_KEPT, check_blend_output, join_library
from engine.library.card import card_model_name, host_processing, read_card
from engine.library.catalog import model_file
from engine.library.licences import check_notices, copy_notices, lineage_notices, named_with_licences

NARROW_SIGNAL = "the signal its spikes carry forward: mean |spike| x L1 of outgoing weights, on 4 seeded batches"


@dataclass(frozen=True)
class NarrowOutcome:
    """A written narrowed model: its file, its card, per hidden layer the share of the parent's signal it kept, the
    validation scores of it and of its parent (in that order, by name), and where it joined the library."""

    path: Path
    card: dict
    kept_signal: tuple[float | None, ...]
    scores: Sequence[tuple[str, ValidationScores]]
    clips: int
    seconds: float
    installed: Path | None = None
    licences: tuple[Path, ...] = ()
    """The licence notices written beside it."""


def make_narrow(model_spec: str, hidden_sizes: tuple[int, ...], dataset: str, out: str, install: bool = False,
                scored: Callable[[str, ValidationScores], None] | None = None) -> NarrowOutcome:
    """Narrow ``model_spec`` to ``hidden_sizes`` hidden neurons (measured on ``dataset``'s training split), score it
    and its parent on the validation split, and write it to ``out`` with its card; with ``install``, also into the
    user's model library."""
    source = model_file(model_spec)
    # a model file and its card beside it, as a blend is written
    target = check_blend_output(out, install, sources=(source,), example="narrow.net")
    from engine.training.dataset import PairedClips  # torch: only once the arguments are good
    from engine.training.dataset_layout import dataset_summary, split_folder
    from engine.training.narrowing import check_sizes, narrow, neuron_signal, ranked_on, training_magnitudes
    from engine.training.validation import validate

    model = load_model(source)
    check_sizes(model, hidden_sizes)
    card, problem = read_card(source)
    if problem:
        raise SpandexError(f"{model_spec}: {problem} (the narrowed model's card would lose where it came from)")
    notices = check_notices(lineage_notices(source, card), target.parent)
    dataset_summary(dataset)
    validation = PairedClips.load(split_folder(dataset, "validation"))
    narrowed = narrow(model, hidden_sizes, neuron_signal(model, training_magnitudes(dataset)), name=target.stem)
    scores = []
    for label, candidate in ((f"{target.stem} (narrowed)", narrowed.model), (model.name, model)):
        scores.append((label, validate(candidate, validation)))
        if scored is not None:
            scored(*scores[-1])
    parent = named_with_licences(card_model_name(model, model_spec), model_spec)
    record = {"model": parent, "from": list(model.neuron_counts), "asked": list(hidden_sizes),
              "to": list(narrowed.model.neuron_counts),
              "kept_signal": [None if share is None else round(share, 4) for share in narrowed.kept_signal],
              "ranked_by": f"{NARROW_SIGNAL} of {dataset}'s training split ({ranked_on(dataset)})"}
    measured_on = validation_measured_on(dataset, validation)
    new_card = {
        "name": target.stem,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **{key: card[key] for key in (*CARD_FIELDS_KEPT, "earlier_blends", "blend") if key in card},
        "parent": parent,  # the model it was narrowed from; the history above (stages, recipe, training) is that one's
        **({"earlier_narrows": [*(n for n in card.get("earlier_narrows", []) if isinstance(n, dict)), card["narrow"]]}
           if isinstance(card.get("narrow"), dict) else {}),
        "narrow": record,
        "trained_layout": record["to"],  # (not a layout with idle neurons dropped: the narrow line says what it is)
        **host_processing(model),
        "metrics": {**card_metrics(scores[0][1], narrowed.model, measured_on), "dataset": dataset,
                    "clips": len(validation)},
    }
    save_netx(narrowed.model, target)
    write_text_atomic(target.with_suffix(".json"), json.dumps(new_card, indent=2) + "\n")
    licences = copy_notices(notices, target.parent)  # (none into the user's library)
    installed = join_library(target) if install else None
    return NarrowOutcome(target, new_card, narrowed.kept_signal, scores, len(validation), validation.seconds,
                         installed, licences)
