"""A model card — the JSON beside a model file (what it was trained on, how, and what it measured) — as
the lines that ``spandex models NAME`` prints and the app's model list shows.

Cards are written by :mod:`engine.training.trainer` (fields ``name``, ``parent``, ``data``, ``recipe``,
``training``, ``metrics``, ``notes``) and by ``spandex blend`` (the first model's card with ``blend`` added and its
own ``metrics``); every field is optional here, so a hand-written or older card shows what it has.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from engine.constants import HOP_S
from engine.errors import SpandexError
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES
from engine.files.output import check_output
from engine.snn.model import SDNNModel, layout_text, sharpening_problem
from engine.training.config import DEFAULT_TEACHER_WEIGHT, teacher_phrase


@dataclass(frozen=True)
class MeasuredSplit:
    """A card's ``metrics.measured_on`` read back: the dataset folder's name and the split's details ("192 clips, 19.2
    min, audio 5cac179"; the audio fingerprint since 2026-12-07: a dataset built again is another split)."""

    folder: str
    details: str

    @classmethod
    def from_text(cls, text: str) -> MeasuredSplit:
        match = _MEASURED_ON.fullmatch(text)
        if match is None:  # a text some other writer chose: itself
            return cls(text, "")
        return cls(Path(match["dataset"]).name, match["details"])

    @property
    def fingerprint(self) -> str | None:
        found = re.search(r"\baudio ([0-9a-f]+)\b", self.details)
        return found[1] if found else None

    @property
    def key(self) -> str:
        """What tells splits apart: the audio where the card names it (the same split, however its folder was
        typed), else folder and details."""
        return f"audio {self.fingerprint}" if self.fingerprint else f"{self.folder} ({self.details})"

    def __str__(self) -> str:
        return f"{self.folder} validation ({self.details})" if self.details else self.folder


_MEASURED_ON = re.compile(r"validation split of (?P<dataset>.+) \((?P<details>[^()]*)\)")
"""How :func:`engine.evaluation.report.validation_measured_on` writes a card's ``measured_on``."""


def read_card(model_path: str | Path) -> tuple[dict, str | None]:
    """The card beside ``model_path`` (``x.net`` → ``x.json``) and a problem, if it cannot be read.

    No card is ``({}, None)``: a model without a card is fine, a broken card is worth saying.
    """
    path = Path(model_path).with_suffix(".json")
    if not path.is_file():
        return {}, None
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"unreadable model card {path.name}: {exc}"
    if not isinstance(card, dict):
        return {}, f"model card {path.name} is not a JSON object"
    for key, kind in _CARD_FIELDS.items():
        if key in card and card[key] is not None and not isinstance(card[key], kind):
            wanted = {dict: "an object", list: "a list", str: "a text"}[kind]
            return {}, f"model card {path.name}: '{key}' is {_json_kind(card[key])}, not {wanted}"
    return card, None


LIBRARY_SETTINGS = ("default", "ab_with")
"""Card fields that place a model in the shipped lineup: a copy made of it (an export, a sharpened model) is not the
lineup's."""

_CARD_FIELDS = {"name": str, "parent": str, "notes": str, "metrics": dict, "recipe": dict, "training": dict,
                "data": dict, "input_level": dict, "decoder": dict, "sharpened": dict, "blend": dict, "narrow": dict,
                "soup": dict, "export": dict, "stages": list, "earlier_blends": list, "earlier_narrows": list}
"""The card's sections and the JSON type each has: a card with another is said to be broken, not half shown."""


def host_processing(model: SDNNModel) -> dict:
    """A card's account of what runs on the host around ``model``'s network: its input levelling (null: none) and,
    where its mask is sharpened, its output decoder (:mod:`engine.snn.mask`)."""
    level = None if model.encoder.level is None else model.encoder.level.to_dict()
    return {"input_level": level, **({"decoder": model.decoder.to_dict()} if model.decoder.sharpening else {})}


def _json_kind(value: object) -> str:
    return ("a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else
            "a text" if isinstance(value, str) else "a number" if isinstance(value, (int, float)) else "null")


def model_and_card(spec: str, path: Path) -> list[tuple[Path, str]]:
    """A model file and the card beside it, named for a refusal: what a report about the model must not be written
    over (:func:`engine.files.output.check_report_output`)."""
    return [(path, f"the model {spec}"), (path.with_suffix(".json"), f"the card of the model {spec}")]


def check_card_beside(target: Path, what: str, placeholder: str) -> Path:
    """The card to write beside the model file ``target`` (``x.net`` → ``x.json``), checked as an output before any
    work: refused if it is a link, a folder or anything but a regular file (``what`` names the option, e.g.
    ``--out``, ``placeholder`` its value in the help, e.g. ``OUT``)."""
    card = target.with_suffix(".json")
    other = next((target.with_suffix(suffix) for suffix in (*NETX_SUFFIXES, *TORCH_SUFFIXES)
                  if target.with_suffix(suffix) != target and target.with_suffix(suffix).exists()), None)
    if other is not None:  # its card is this one's too: it would describe the new model
        raise SpandexError(f"{what} {target} would share its card {card.name} with {other.name} beside it (a model "
                           f"file of the same name): name {what} otherwise")
    if card.is_symlink() or (card.exists() and not card.is_file()):
        kind = "a symbolic link" if card.is_symlink() else "a folder" if card.is_dir() else "not a regular file"
        raise SpandexError(f"{what}'s card {card} (written beside {placeholder}) is {kind}: remove it, or name "
                           f"{what} otherwise")
    check_output(card, f"{what}'s card", follow_link_option=None)
    return card


def refuse_replacing_a_source(out: str | Path, target: Path, card: Path, sources: Iterable[Path], what: str,
                              made: str) -> None:
    """Refuse (before any work) to write the model file ``target`` or its ``card`` over a model it is ``made`` from
    ("made", "exported") or that model's card; ``what`` names the option (``--out``, ``OUT``)."""
    for source in sources:
        if target.resolve() == source.resolve() or card.resolve() == source.with_suffix(".json").resolve():
            raise SpandexError(f"{what} {out} would replace {source.name} (or its card), which it is {made} from: "
                               f"name {what} otherwise")


def _unsigned_zero(text: str) -> str:
    """A number as formatted, without the minus of one that rounds to zero ("-0.00" → "0.00")."""
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def card_lines(card: dict, brief_stages: bool = False, model: SDNNModel | None = None) -> list[str]:
    """The card as short ``label: value`` lines, most telling first. ``brief_stages``: the stages before the last
    in a few words each (steps, pruning), for the app's card, where room is short; ``spandex models`` shows all.
    A field of an unexpected form (a hand-edited card) gives a line that says so, not an error. With the ``model``
    its file holds, a card whose mask sharpening is not the file's gets a line more, last (an empty card none)."""
    try:
        lines = _card_lines(card, brief_stages)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        lines = [f"the card cannot be shown whole: a field has an unexpected form ({type(exc).__name__}: {exc})"]
    differs = _mask_differs(card, model) if model is not None and card else ""
    return lines + ([differs] if differs else [])


def _card_lines(card: dict, brief_stages: bool) -> list[str]:
    lines = []
    blend = card.get("blend") if isinstance(card.get("blend"), dict) else None
    # a blend or a narrowing trains nothing: its parent, recipe and training are those of the model it was made from
    of_first = " (before narrowing)" if isinstance(card.get("narrow"), dict) else " (before the blend)" if blend else ""
    if "name" in card:
        lines.append(f"model: {card['name']}" + ("  (default)" if card.get("default") else ""))
    narrowed = card.get("narrow") if isinstance(card.get("narrow"), dict) else None
    copied = sharpened_copy_of(card)
    if copied:  # a sharpened copy: the card's history (parent, stages, notes) is the copied model's
        lines.append(f"parent: {_shown(copied)}, sharpened")
    elif narrowed is not None:  # its parent is the model it was narrowed from; the card's history is that one's
        lines.append(f"parent: {_shown(str(narrowed.get('model', '?')))}, narrowed")
    elif "parent" in card:
        parent = str(card["parent"])
        lines.append(f"parent{of_first}: " + ("trained from scratch" if parent == "scratch" else _shown(parent)))
    metrics = card.get("metrics", {})
    if metrics:
        measured = metrics.get("measured_on")
        lines.append(f"measured on: {MeasuredSplit.from_text(measured) if isinstance(measured, str) else 'unknown'}")
        numbers = [(key, label, fmt) for key, label, fmt in METRICS if metrics.get(key) is not None]
        shown = [f"{label}: {_unsigned_zero(format(metrics[key], fmt))}" for key, label, fmt in numbers]
        lines.extend("  " + "; ".join(shown[i:i + 2]) for i in range(0, len(shown), 2))  # two a line: room is short
        size = [format(metrics[key], fmt) + label for key, label, fmt in SIZE_METRICS if metrics.get(key) is not None]
        if size:  # one line: the A/B card has room for few
            lines.append(f"  weight sparsity: {size[0]}" + (f" ({', '.join(size[1:])})" if size[1:] else "")
                         if metrics.get("weight_sparsity") is not None else f"  size: {', '.join(size)}")
        check = metrics.get("card_check")
        if isinstance(check, dict) and all(isinstance(check.get(k), (int, float)) for k in ("si_snri", "power_proxy_mops")):
            clips = len(check["si_snr_in"]) if isinstance(check.get("si_snr_in"), list) else "?"
            which = f"{clips} short clips" + ("" if brief_stages else " that the test suite measures again")
            lines.append(f"  card check ({which}): SI-SNRi "
                         f"{check['si_snri']:.2f} dB at {check['power_proxy_mops']:.2f} M-Ops/s")
        if metrics.get("neurons"):
            lines.append(f"  neurons per layer: {layout_text(metrics['neurons'])}"
                         + (" (its parent's)" if _inherited_layout(card) else ""))
            full = _full_layout(metrics["neurons"], card)
            if full is not None and isinstance(metrics.get("nonzero_params"), int):
                weights = sum(a * b for a, b in zip(full, full[1:]))
                lines.append(f"  idle neurons dropped from {layout_text(full)}: "
                             f"{metrics['nonzero_params']:,} of its {weights:,} weights left "
                             f"({1 - metrics['nonzero_params'] / weights:.1%} zero)")
    level = card.get("input_level")
    if level:  # the app's card (brief) says what it does; `spandex models` gives the settings too
        gain = f"gain {level['min_gain_db']:+g} … {level['max_gain_db']:+g} dB"
        settings = gain if brief_stages else (
            f"frames heard at {level['target_db']:g} dB mean |STFT|² per bin ≈ speech at −25 dBFS; attack "
            f"{level['attack_frames'] * HOP_S:.2g} s, release {level['release_frames'] * HOP_S:.2g} s, {gain}")
        lines.append(f"input: levelled — quiet and loud microphones are denoised alike ({settings})")
    mask = "" if brief_stages else _mask_line(card)  # (the app shows a slot's sharpening, and the model's, above it)
    if mask:
        lines.append(mask)
    earlier_blends = card.get("earlier_blends")
    earlier_blends = earlier_blends if isinstance(earlier_blends, list) else []  # the first model was a blend too
    stages = [stage for stage in card.get("stages", []) if isinstance(stage, dict)]
    earlier_narrows = card.get("earlier_narrows")
    narrows = [f"earlier narrowing: {_narrow_summary(earlier, brief_stages) if isinstance(earlier, dict) else '?'}"
               for earlier in (earlier_narrows if isinstance(earlier_narrows, list) else [])]
    if narrowed is None:  # a model trained after its parent was narrowed: the narrowing came first
        lines += narrows
    soup = card.get("soup")
    placed: set[int] = set()  # a blend that names the stage it followed ("after_stage") is shown in its place
    history = []  # the stages before the last, with the blends and soups between them, in order
    for stage in stages:  # earlier runs of the same model, not shipped on their own
        summary = _recipe_summary(stage.get("recipe", {}), brief_stages)
        history.append(f"{stage.get('name', '?')} ({summary})" if brief_stages else
                       f"stage {stage.get('name', '?')}: {summary}")
        recipe_name = stage["recipe"].get("name") if isinstance(stage.get("recipe"), dict) else None
        names = [name for name in (stage.get("name"), recipe_name) if isinstance(name, str)]
        for earlier in earlier_blends:
            if isinstance(earlier, dict) and earlier.get("after_stage") in names and id(earlier) not in placed:
                history.append(f"blend: {_blend_summary(earlier, brief_stages)}")  # in its place, between the stages
                placed.add(id(earlier))
        if isinstance(soup, dict) and soup.get("after_stage") in names and id(soup) not in placed:
            history.append(f"soup: {_soup_summary(soup, brief_stages)}")  # a later stage trained the soup on
            placed.add(id(soup))
    if brief_stages and history:  # the app's card: one paragraph, where room is short (`spandex models`: a line each)
        lines.append("stages: " + " → ".join(history))
    else:
        lines += history
    recipe = card.get("recipe", {})
    if recipe:  # after its stages, the run that made the model is the last stage, named as the others are
        run_name = recipe.get("name") if stages and isinstance(recipe.get("name"), str) else None
        label = f"last stage {run_name}" if run_name else "last stage" if stages else "recipe"
        lines.append(f"{label}{of_first}: {_recipe_summary(recipe, for_app=brief_stages)}")
    for earlier in earlier_blends:
        if id(earlier) not in placed:
            lines.append(f"earlier blend: {_blend_summary(earlier, brief_stages) if isinstance(earlier, dict) else '?'}")
    if isinstance(soup, dict) and id(soup) not in placed:  # a soup of the stages above; a blend of it comes after
        lines.append(f"soup: {_soup_summary(soup, brief_stages)}")
    if blend:
        lines.append(f"blend: {_blend_summary(blend, brief_stages)}")
    if narrowed is not None:  # narrowed after its history above (and before that, perhaps, its parent too)
        lines += narrows
        lines.append(f"narrowed: {_narrow_summary(narrowed, brief_stages)}")
    training = card.get("training", {})
    if training:
        runs = [training, *(stage.get("training") for stage in stages)]
        whole = stages and all(isinstance(run, dict) and finite_number(run.get("steps"))
                               and finite_number(run.get("wall_time_s")) for run in runs)
        steps = sum(run["steps"] for run in runs) if whole else training.get("steps", "?")
        seconds = sum(run["wall_time_s"] for run in runs) if whole else training.get("wall_time_s", 0)
        took = f"{seconds:.0f} s" if seconds < 59.5 else f"{seconds / 60:.0f} min"  # a short run is not "0 min"
        span = (f"{len(runs)} stages, " if whole else "last stage, " if stages else "")
        machine = str(training.get("machine", "an unknown machine"))
        if brief_stages:  # the app's card: the machine without its torch version, nor the threads
            machine = machine.split(", torch ")[0]
        else:
            machine += f", {training.get('threads', '?')} thread(s)"
        lines.append(f"training{of_first}: {span}{_count(steps)} steps, {took} on {machine}")
    data = card.get("data", {})
    if data:
        sources = data.get("sources", {})
        speech = speech_summary(sources.get("train", {}).get("speech_groups", {}))
        whose = "" if brief_stages else f" ({speech})"  # the app's card: how much; `spandex models`: whose
        lines.append(f"data: {data.get('dataset', '?')} — {_training_amount(data)}{whose}")
        mixing = data.get("train_mixing")
        if not brief_stages and isinstance(mixing, dict) and isinstance(mixing.get("recipe"), dict):  # `spandex models`
            lines.append(f"mixing{' (last stage)' if stages else ''}: fresh every step — "
                         f"{_mixing_summary(mixing['recipe'])}")
    export = card.get("export")
    if isinstance(export, dict):
        lines.append(f"exported: {_export_summary(export)}")
    if card.get("notes"):
        lines.append(f"notes{f' ({_shown(copied)})' if copied else ''}: {card['notes']}")
    return lines


def sharpened_copy_of(card: dict) -> str:
    """The model a card's model is a sharpened copy of (what ``spandex sharpen`` writes), or ""; a model sharpened in
    its own place (the shipped lineup's: ``in_place``) is no copy: its history is its own."""
    made = card.get("sharpened")
    if not isinstance(made, dict) or not made.get("model") or made.get("in_place"):
        return ""
    return str(made["model"])


def card_sharpening(card: dict) -> object:
    """The mask sharpening a card says its model has: its decoder's, else what it was sharpened to, else 0."""
    decoder, made = card.get("decoder"), card.get("sharpened")
    if isinstance(decoder, dict) and "sharpening" in decoder:
        return decoder["sharpening"]
    return made.get("strength", 0.0) if isinstance(made, dict) else 0.0


def _mask_line(card: dict) -> str:
    """The card's "mask:" line: how its mask is sharpened, taken off, or a card's setting no model can have."""
    sharpening = card_sharpening(card)
    made = card.get("sharpened")
    made = made if isinstance(made, dict) else {}
    source = str(made.get("model", ""))
    if sharpening_problem(sharpening):
        return f"mask: the card's sharpening {sharpening!r} is not one a model can have (the model file's is what runs)"
    if sharpening:
        on = f" on {_shown(source)}'s network" if sharpened_copy_of(card) else ""
        return (f"mask: sharpened by {sharpening:g}{on} — frames mostly noise are suppressed harder, clean speech a "
                "little (each frame's mask to the power 1 + s · (1 − its mean))")
    was = made.get("was")
    if isinstance(was, (int, float)) and was:
        return f"mask: the network's own, not sharpened ({_shown(source)}'s {was:g} taken off)"
    return ""


def _mask_differs(card: dict, model: SDNNModel) -> str:
    """A line saying the card's mask sharpening is not its model file's (a hand-edited or stale card; what runs is
    the file's), or ""."""
    said = card_sharpening(card)
    if said == model.decoder.sharpening:
        return ""
    shown = f"{said:g}" if isinstance(said, (int, float)) and not isinstance(said, bool) else json.dumps(said)
    return (f"mask: the model file sharpens by {model.decoder.sharpening:g}, its card says {shown}: what runs is the "
            "file's (the card is out of date or was edited)")


_MIXING_SHARES = (("reverb_share", "rooms"), ("equaliser_share", "EQ"), ("band_limit_share", "band limit"),
                  ("second_noise_share", "a second noise"), ("generated_noise_share", "generated noise"),
                  ("babble_share", "babble"), ("synthetic_share", "synthetic speech"),
                  ("noise_colour_share", "noise coloured"))
"""A mixing recipe's draws as the card names them (engine.training.config.MixingRecipe's fields)."""


def _training_amount(data: dict) -> str:
    """How much training audio: the clean speech fresh mixtures were drawn from, or the fixed clips' length (mixtures,
    not speech: a clip's speaker may recur in many)."""
    hours, clips = data.get("train_hours"), data.get("train_clips")
    amount = "?" if not finite_number(hours) else f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"
    if isinstance(clips, int) and not isinstance(clips, bool):
        return f"{clips} fixed training clips, {amount}"
    return f"{amount} of training speech"


def _mixing_summary(recipe: dict) -> str:
    """How a run's fresh mixtures were drawn, in one line (the fields a card's recipe holds; others left out)."""
    def span(key: str, unit: str) -> str | None:
        value = recipe.get(key)
        if not (isinstance(value, list) and len(value) == 2 and all(finite_number(v) for v in value)):
            return None
        return f"{value[0]:g}…{value[1]:g} {unit}".replace("-", "−")  # the card's minus sign

    parts = []
    if span("snr_db", "dB"):
        high = span("high_snr_db", "dB")
        share = recipe.get("high_snr_share")
        parts.append(f"SNR {span('snr_db', 'dB')}" + (f" ({share:.0%} at {high})" if high and finite_number(share)
                                                      and share else ""))
    if finite_number(recipe.get("clean_share")) and recipe["clean_share"]:
        parts.append(f"{recipe['clean_share']:.0%} clean")
    if span("level_dbfs", "dBFS"):
        parts.append(f"level {span('level_dbfs', 'dBFS')}")
    shares = [f"{label} {recipe[key]:.0%}" for key, label in _MIXING_SHARES
              if finite_number(recipe.get(key)) and recipe[key]]
    if finite_number(recipe.get("speed_share")) and recipe["speed_share"] and span("speed", "×"):
        shares.append(f"speed {span('speed', '×')} {recipe['speed_share']:.0%}")
    if shares:
        parts.append(", ".join(shares))
    drawn = {"uniform": "speakers drawn alike", "sqrt_minutes": "speakers drawn by √(their minutes)"}
    if recipe.get("speaker_weighting") in drawn:
        parts.append(drawn[recipe["speaker_weighting"]])
    return "; ".join(parts) or "?"


def _narrow_summary(narrowed: dict, brief: bool = False) -> str:
    """From which model to which layout; unless ``brief`` (the app's card), how much signal each layer kept."""
    before, after = narrowed.get("from"), narrowed.get("to")
    if not (isinstance(before, list) and isinstance(after, list)):
        return "?"
    return (f"{_shown(str(narrowed.get('model', '?')))}, {layout_text(before)} → {layout_text(after)}"
            + ("" if brief else narrow_detail(narrowed)))


def narrow_detail(narrowed: dict) -> str:
    """How much of each hidden layer's signal a narrowing kept, and fewer neurons than asked where it kept fewer."""
    kept = narrowed.get("kept_signal")
    text = ""
    if isinstance(kept, list) and kept:
        text = ", keeping " + " and ".join("n/a" if share is None else f"{share:.1%}" if finite_number(share) else "?"
                                           for share in kept) + " of each hidden layer's signal"
    asked, after = narrowed.get("asked"), narrowed.get("to")
    if isinstance(asked, list) and isinstance(after, list) and asked != after[1:-1]:
        text += (f" ({' and '.join(map(str, asked))} asked: a kept neuron that heard, or was heard by, dropped ones "
                 f"alone was dropped too)")
    return text


def _export_summary(export: dict) -> str:
    text = f"from {export.get('from', '?')} for Lava / Loihi 2 (netx HDF5, checked through netx)"
    dropped = export.get("dropped_idle_neurons")
    if isinstance(dropped, dict) and isinstance(dropped.get("from"), list) and isinstance(dropped.get("to"), list):
        text += (f"; idle neurons dropped, {layout_text(dropped['from'])} → {layout_text(dropped['to'])}: the same "
                 f"output, and the M-Ops/s above are the larger network's")
    return text


def card_model_name(model: SDNNModel, spec: str) -> str:
    """How a card names a model (the one a run started from, the one a blend mixed in): a library model by its
    name; a file by its stem, with the licence notice that lies beside it (``LICENSE-<prefix>.md`` whose prefix
    starts the stem), e.g. "ndns_baseline (MIT License, see LICENSE-ndns.md)" for the official N-DNS baseline."""
    path = Path(spec)
    if not path.is_file():
        return model.name
    for notice in sorted(path.parent.glob("LICENSE-*.md")):
        prefix = notice.stem.removeprefix("LICENSE-")
        if path.stem.startswith(prefix):
            title = next((line.strip("# ").strip() for line in notice.read_text(encoding="utf-8").splitlines()
                          if line.strip()), "licence")
            return f"{path.stem} ({title}, see {notice.name})"
    return path.stem


def speech_summary(groups: Iterable[str]) -> str:
    """Speech groups (``corpus-language``, ``tts-…`` for a synthetic voice) in a few words, by corpus."""
    corpora: dict[str, list[str]] = {}
    voices = 0
    for name in groups:
        corpus, _, part = name.partition("-")
        if corpus == "tts":
            voices += 1
        else:
            corpora.setdefault(corpus, []).append(part)
    words = [corpus if parts == [""] else f"{corpus} ({', '.join(parts) if len(parts) <= 3 else f'{len(parts)} groups'})"
             for corpus, parts in corpora.items()]
    if voices:
        words.append(f"{voices} synthetic voice{'s' if voices > 1 else ''}")
    return ", ".join(words) or "?"


METRICS = (
    ("si_snr", "SI-SNR dB", ".2f"),
    ("si_snri", "SI-SNRi dB", ".2f"),
    ("synops_per_frame", "SynOps/frame", ",.0f"),
    ("power_proxy_mops", "power proxy M-Ops/s", ".2f"),
    ("clean_in_si_snr", "clean speech in → out dB", ".2f"),
)
"""(card key, label, format) of the metrics shown, two a line, in order (a card shows those it has)."""

SIZE_METRICS = (
    ("weight_sparsity", "", ".1%"),
    ("nonzero_params", " nonzero weights", ",d"),
    ("size_kb", " KB", ".1f"),
)
"""(card key, unit, format) of the size metrics, shown on one line."""


def finite_number(value: object) -> TypeGuard[int | float]:
    """A finite int or float (not a bool): a number a card may be trusted to hold."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _blend_summary(blend: dict, brief: bool = False) -> str:
    share = blend.get("share")
    if not isinstance(share, (int, float)):
        return "?"
    model, other = (str(blend.get(key, "?")) for key in ("model", "other"))
    if brief:  # the app's card: what was mixed, not how (nor the note after a name: which git revision, licence)
        return f"{share:.0%} {_without_note(model)} + {1 - share:.0%} {_without_note(other)}"
    shares = f"{share:.0%} {_shown(model)} + {1 - share:.0%} {_shown(other)}"
    return (shares + ", weight by weight, rounded to 8 bits"
            + ("; the first model's zero weights kept" if blend.get("keep_zeros") else ""))


def _soup_summary(soup: dict, brief: bool = False) -> str:
    members = soup.get("members")
    if not (isinstance(members, list) and members):
        return "?"
    names = [_shown(str(m)) for m in members]
    if brief:  # the app's card, where room is short
        return f"{', '.join(names[:-1])} and {names[-1]} averaged" if len(names) > 1 else f"{names[0]} averaged"
    text = f"the weights of {' and '.join(names)} averaged"
    if isinstance(soup.get("weights"), str):
        text += f" ({soup['weights']})"
    if isinstance(soup.get("kept_from"), str):
        text += f"; the rest from {soup['kept_from']}"
    kept = soup.get("kept_from_model")
    if isinstance(kept, list) and kept:
        text += f", where the others differ: {'; '.join(str(k) for k in kept)}"
    return text + (f"; chosen by a {soup['chosen_by']}" if isinstance(soup.get("chosen_by"), str) else "")


def _count(value) -> str:
    """A whole number as the card writes its other counts (``33,100``; ``3200.0`` too); anything else as it is."""
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return f"{int(value):,}" if whole and not isinstance(value, bool) else str(value)


def _without_note(model: str) -> str:
    """A model as a card names it, without the note a card writes after a name ("x (MIT License, …)"); a model
    file by its name, whatever its name holds."""
    return _shown(model) if _a_model_file(model) else re.sub(r" \([^()]*\)$", "", model)


def _shown(model: str) -> str:
    """A model as a card names it: a model file by its name, anything else as written."""
    return Path(model).stem if _a_model_file(model) else model


def _a_model_file(model: str) -> bool:
    """Whether a card names ``model`` by its file (a model file's suffix) rather than in words."""
    return model.lower().endswith(NETX_SUFFIXES + TORCH_SUFFIXES)


def _trained_layout(card: dict) -> list | None:
    """The layout the run trained: the card's ``trained_layout``; a card from before it was written, its
    recipe's (the sizes it widened its parent to, or its ``hidden_sizes``, which only a run from scratch or of
    an N-DNS-sized parent actually trained)."""
    layout = card.get("trained_layout")
    if isinstance(layout, list):
        return layout
    recipe = card.get("recipe", {})
    hidden = recipe.get("widen") or recipe.get("hidden_sizes")
    neurons = card.get("metrics", {}).get("neurons")
    if not isinstance(hidden, list) or not isinstance(neurons, list) or len(neurons) < 2:
        return None
    return [neurons[0], *hidden, neurons[-1]]


def _inherited_layout(card: dict) -> bool:
    """Whether a fine-tune kept a layout its parent has and its recipe's ``hidden_sizes`` do not say (e.g. a
    fine-tune of a model whose idle neurons were dropped)."""
    recipe, neurons = card.get("recipe", {}), card.get("metrics", {}).get("neurons")
    hidden = recipe.get("hidden_sizes")
    return (card.get("parent", "scratch") != "scratch" and not recipe.get("widen") and "narrow" not in card
            and not card.get("earlier_narrows")  # its layout is that narrowing's, said on its own line
            and isinstance(neurons, list)
            and card.get("trained_layout") == neurons and isinstance(hidden, list) and hidden != neurons[1:-1])


def _full_layout(neurons: list, card: dict) -> list[int] | None:
    """The layout a model with dropped idle neurons came from (the one its run trained), or None."""
    full = _trained_layout(card)
    if not card.get("recipe", {}).get("drop_idle_neurons") or full is None or len(full) != len(neurons):
        return None
    if not all(isinstance(n, int) and n >= kept for n, kept in zip(full, neurons)):
        return None  # not the layout this model was cut from
    return full if full != list(neurons) else None


def _recipe_summary(recipe: dict, brief: bool = False, for_app: bool = False) -> str:
    """What a run did: in ``brief``, its steps and pruning; else its settings, an ensemble of teachers named whole or
    (``for_app``, the app's card, where room is short: also the averaging's decay left out) counted."""
    if brief:  # steps and pruning: what a stage did, not how
        pruning = recipe.get("pruning")
        return f"{_count(recipe.get('steps', '?'))} steps" + (
            f"; GMP to {pruning['final_sparsity']:.0%}" if isinstance(pruning, dict) and
            isinstance(pruning.get("final_sparsity"), (int, float)) else "")
    parts = [f"{_count(recipe.get('steps', '?'))} steps, batch {recipe.get('batch_size', '?')} × "
             f"{recipe.get('segment_seconds', '?')} s, lr {recipe.get('learning_rate', '?')}"]
    widened = recipe.get("widen")
    if widened:
        parts.append(f"widened to {'-'.join(map(str, widened))} hidden neurons")
    pruning = recipe.get("pruning")
    if pruning:
        parts.append(f"GMP to {pruning['final_sparsity']:.0%} ({pruning.get('scope', 'global')}, "
                     f"{pruning.get('n_prunes', '?')} prunes every {pruning.get('frequency', '?')} steps)")
    regularizer = recipe.get("regularizer")
    if regularizer:
        kind = "Hoyer" if regularizer.get("kind") == "hoyer" else f"L{regularizer.get('p', 1):g}"
        parts.append(f"activity regularisation {kind}, λ = {regularizer.get('weight', '?'):g}")
    if recipe.get("intelligibility_weight"):
        parts.append(f"intelligibility term (STOI stand-in) × {recipe['intelligibility_weight']:g}")
    if recipe.get("train_thresholds"):
        parts.append("learned thresholds")
    if recipe.get("drop_idle_neurons"):
        parts.append("idle neurons dropped")
    if recipe.get("weight_average"):
        parts.append("weights averaged" + ("" if for_app else f" (decay {recipe['weight_average']:g})"))
    if recipe.get("teacher"):
        weight = recipe.get("teacher_weight") or DEFAULT_TEACHER_WEIGHT  # a recipe without one ran at the default
        ensemble = recipe.get("teacher_ensemble") or ()
        parts.append(f"distilled from {teacher_phrase(recipe['teacher'], weight, ensemble, counted=for_app)}")
    return "; ".join(parts)
