"""Measure every shipped model on the card-check set and store the numbers in its card.

tests/test_card_numbers.py re-measures them; run this after changing a shipped model (or the engine's
numbers on purpose) and commit the cards. Nothing else in a card changes, unless ``--validation SPLIT`` is
given: then the card's headline numbers (``metrics``: SI-SNR, SI-SNRi, SynOps, M-Ops/s, activity) are measured
again on that validation split, for when the preset's split has changed, and the numbers they replace are kept
under ``metrics.earlier``. See tests/card_check.py for why a card carries the card check beside its headline
validation numbers.

    PYTHONPATH=. .venv/bin/python scripts/measure_card_check.py [NAME ...] [--validation build/data/debian/validation_set]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from engine.errors import SpandexError  # noqa: E402
from engine.evaluation.report import card_metrics, validation_measured_on  # noqa: E402
from engine.files.atomic import write_text_atomic  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.library.catalog import list_models  # noqa: E402
from engine.training.dataset import PairedClips  # noqa: E402
from engine.training.validation import validate  # noqa: E402
from tests.card_check import corpus_clips, measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="shipped model names (default: all)")
    parser.add_argument("--validation", metavar="SPLIT", type=Path,
                        help="also measure the headline numbers again on this validation split folder")
    args = parser.parse_args()
    entries = [e for e in list_models() if e.origin == "shipped" and (not args.names or e.name in args.names)]
    missing = set(args.names) - {e.name for e in entries}
    if missing:
        parser.error(f"no shipped model called {', '.join(sorted(missing))}")
    if args.validation and not args.validation.is_dir():
        parser.error(f"--validation {args.validation}: no such folder")
    if args.validation and args.validation.name != "validation_set":
        parser.error(f"--validation {args.validation}: give a dataset's validation_set folder (a card's headline "
                     "numbers are its validation split's)")
    try:
        validation = PairedClips.load(args.validation) if args.validation else None
    except SpandexError as exc:  # a folder without noisy/ and clean/ clips: said in one line
        parser.exit(1, f"measure_card_check.py: error: {exc}\n")
    clips = corpus_clips()
    for entry in entries:
        card_path = entry.path.with_suffix(".json")
        card = json.loads(card_path.read_text())
        model = load_model(entry.path)
        if validation is not None:
            card["metrics"] = headline_again(card["metrics"], model, validation, args.validation)
            print(f"{entry.name}: validation SI-SNRi {card['metrics']['si_snri']:.3f} dB, "
                  f"{card['metrics']['power_proxy_mops']:.2f} M-Ops/s ({card['metrics']['measured_on']})")
        check = measure(model, clips)
        card["metrics"]["card_check"] = check.to_card()
        write_text_atomic(card_path, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
        print(f"{entry.name}: SI-SNRi {check.si_snri:.2f} dB, {check.power_proxy_mops:.2f} M-Ops/s -> {card_path}")


HEADLINE = ("measured_on", "si_snr", "si_snri", "synops_per_frame", "power_proxy_mops", "activity_sparsity",
            "clean_in_si_snr")
"""The numbers measured again (clean speech in -> out where a card has it: a sharpened model's)."""


def headline_again(metrics: dict, model, validation: PairedClips, split: Path) -> dict:
    """``metrics`` with its headline numbers (and clip count) measured on ``validation``. Where they were measured
    on another split, the numbers replaced go into ``earlier`` (a list, oldest first). The dataset is named as the
    cards name it: relative to the repository where it lies inside it."""
    dataset = split.resolve().parent
    named = dataset.relative_to(REPO) if dataset.is_relative_to(REPO) else dataset
    measured_on = validation_measured_on(named, validation)
    earlier = list(metrics.get("earlier", []))
    if metrics.get("measured_on") != measured_on:
        earlier.append({key: metrics[key] for key in (*HEADLINE, "clips") if key in metrics})
    again = card_metrics(validate(model, validation), model, measured_on)
    if "clean_in_si_snr" in metrics:
        again["clean_in_si_snr"] = validate(model, validation.clean_as_input()).si_snr
    return {**metrics, **again, "clips": len(validation), **({"earlier": earlier} if earlier else {})}


if __name__ == "__main__":
    main()
