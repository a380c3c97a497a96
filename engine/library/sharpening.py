"""A model with its mask sharpened (:mod:`engine.snn.mask`), scored on a validation split and written with its card:
what ``spandex sharpen`` runs. The network is the model's own, bit for bit; only what the host makes of its output
changes, so the choice is a trade between noise suppressed and clean speech kept, which the scores show side by side.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SpandexError
from engine.evaluation.metrics import SNR_BANDS
from engine.evaluation.report import card_metrics, validation_measured_on
from engine.files.atomic import write_text_atomic
from engine.files.netx import load_model, save_netx
from engine.library.blending import check_blend_output, join_library
from engine.library.card import LIBRARY_SETTINGS, card_model_name, host_processing, read_card
from engine.library.catalog import model_file
from engine.library.licences import check_notices, copy_notices, lineage_notices
from engine.snn.model import MAX_SHARPENING, SDNNModel, sharpening_problem

SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
"""The strengths ``spandex sharpen --sweep`` scores."""

CARD_FIELDS_REPLACED = ("name", "created", "metrics", "input_level", "decoder", "export", "sharpened",
                        *LIBRARY_SETTINGS)
"""What a sharpened model's card does not take from its model's card: everything else (parent, data, stages,
recipe, training, blends, narrowings, notes) is that model's history, which sharpening adds to. (Not the library's
settings either: a copy of the default is not the default.)"""


@dataclass(frozen=True)
class SharpenedScores:
    """One strength's validation scores: SI-SNRi (dB) over the noisy clips and by input-SNR band (``SNR_BANDS``;
    None where no clip falls in a band), M-Ops/s, and the SI-SNR (dB) of the output when the clean speech alone goes
    in (how much the model harms it)."""

    strength: float
    si_snr: float
    si_snri: float
    si_snri_by_band: tuple[float | None, ...]
    clean_in_si_snr: float
    synops_per_frame: float
    power_proxy_mops: float
    activity_sparsity: tuple[float, ...]


@dataclass(frozen=True)
class SharpenOutcome:
    """A written sharpened model (``path`` None for a sweep, which writes nothing), its card and the scores: the
    sharpened model's, then the model as it was (or every strength of a sweep)."""

    path: Path | None
    card: dict
    scores: Sequence[tuple[str, SharpenedScores]]
    clips: int
    seconds: float
    installed: Path | None = None
    licences: tuple[Path, ...] = ()


def check_request(strength: float | None, out: str | None, install: bool) -> None:
    """Refuse (:class:`SpandexError`) what ``spandex sharpen`` cannot do: a strength outside 0 … MAX_SHARPENING
    (NaN included), a strength without a file to write, a sweep asked to write."""
    if strength is None:
        if out is not None or install:
            raise SpandexError("sharpen --sweep writes nothing: give --strength S with --out OUT.net to write a model")
        return
    if sharpening_problem(strength):
        raise SpandexError(f"--strength {strength!r}: give a sharpening from 0 (the N-DNS mask, relu(y + 1)) to "
                           f"{MAX_SHARPENING:g}; 0.5 to 1 suppresses noise more at a cost of about 1 dB of clean "
                           "speech (spandex sharpen MODEL --sweep shows the trade)")
    if out is None:
        raise SpandexError("sharpen --strength writes a model: give --out OUT.net (or --sweep for the table alone)")


def score(model: SDNNModel, clips, clean_in) -> SharpenedScores:
    """``model`` on the noisy ``clips`` and on their clean speech alone (``clean_in``), through the validation graph."""
    import numpy as np

    from engine.training.validation import validate

    noisy = validate(model, clips)
    improvement = np.array(noisy.per_clip_si_snr) - np.array(noisy.per_clip_si_snr_noisy)
    input_snr = np.array(noisy.per_clip_si_snr_noisy)
    bands = []
    for _, low, high in SNR_BANDS:
        inside = (input_snr >= low) & (input_snr < high)
        bands.append(float(improvement[inside].mean()) if inside.any() else None)
    clean = validate(model, clean_in)
    return SharpenedScores(float(model.decoder.sharpening), noisy.si_snr, noisy.si_snri, tuple(bands), clean.si_snr,
                           noisy.synops_per_frame, noisy.power_proxy_mops, tuple(noisy.activity_sparsity))


def make_sharpened(model_spec: str, strength: float | None, dataset: str, out: str | None, install: bool = False,
                   scored: Callable[[str, SharpenedScores], None] | None = None) -> SharpenOutcome:
    """Score ``model_spec`` sharpened by ``strength`` and as it is on ``dataset``'s validation split (noisy clips and
    their clean speech), and write the sharpened model to ``out`` with its card (``out`` with ``.json``; with
    ``install``, also into the user's model library). With ``strength`` None, a sweep: every strength of
    :data:`SWEEP` scored, nothing written. ``scored(label, scores)`` is called as each is scored."""
    check_request(strength, out, install)
    source = model_file(model_spec)
    target = None if out is None else check_blend_output(out, install, sources=(source,), example="sharpened.net")
    from engine.training.dataset import PairedClips  # torch: only once the arguments are good
    from engine.training.dataset_layout import split_folder

    model = load_model(source)
    card, problem = read_card(source)
    if problem:
        raise SpandexError(f"{model_spec}: {problem} (the sharpened model's card would lose where it came from)")
    notices = [] if target is None else check_notices(lineage_notices(source, card), target.parent)
    validation = split_folder(dataset, "validation")
    clips = PairedClips.load(validation)
    clean_in = clips.clean_as_input()
    own = model.decoder.sharpening
    if target is None:
        candidates = [(f"{s:g}" + (" (as it is)" if s == own else ""), model.sharpened_by(s))
                      for s in sorted({*SWEEP, own})]
    else:
        assert strength is not None
        made = dataclasses.replace(model.sharpened_by(strength), name=target.stem, source=None)
        candidates = [(f"{target.stem} (sharpened {made.decoder.sharpening:g})", made),
                      (f"{model.name} (as it is{f', {own:g}' if own else ''})", model)]
    scores: list[tuple[str, SharpenedScores]] = []
    for label, candidate in candidates:
        # one network: a strength scored already (the model's own, asked for again) scores the same
        again = next((done for (_, other), (_, done) in zip(candidates, scores) if other.decoder == candidate.decoder),
                     None)
        scores.append((label, again if again is not None else score(candidate, clips, clean_in)))
        if scored is not None:
            scored(*scores[-1])
    if target is None:
        return SharpenOutcome(None, {}, scores, len(clips), clips.seconds)
    made, mine = candidates[0][1], scores[0][1]
    new_card = {
        "name": target.stem,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **{key: value for key, value in card.items() if key not in CARD_FIELDS_REPLACED},
        "sharpened": {"model": card_model_name(model, model_spec), "strength": made.decoder.sharpening, "was": own},
        **host_processing(made),
        "metrics": {**card_metrics(mine, made, validation_measured_on(dataset, clips)), "dataset": dataset,
                    "clips": len(clips), "clean_in_si_snr": mine.clean_in_si_snr},
    }
    save_netx(made, target)
    write_text_atomic(target.with_suffix(".json"), json.dumps(new_card, indent=2) + "\n")
    licences = copy_notices(notices, target.parent)  # (none into the user's library)
    installed = join_library(target) if install else None
    return SharpenOutcome(target, new_card, scores, len(clips), clips.seconds, installed, licences)
