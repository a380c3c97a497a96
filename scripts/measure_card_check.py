"""Measure every shipped model on the card-check set and store the numbers in its card.

tests/test_card_numbers.py re-measures them; run this after changing a shipped model (or the engine's
numbers on purpose) and commit the cards. Nothing else in a card changes. See tests/card_check.py for why a
card carries these beside its headline validation numbers.

    PYTHONPATH=. .venv/bin/python scripts/measure_card_check.py [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.files.atomic import write_text_atomic  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.library.catalog import list_models  # noqa: E402
from tests.card_check import corpus_clips, measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="shipped model names (default: all)")
    args = parser.parse_args()
    entries = [e for e in list_models() if e.origin == "shipped" and (not args.names or e.name in args.names)]
    missing = set(args.names) - {e.name for e in entries}
    if missing:
        parser.error(f"no shipped model called {', '.join(sorted(missing))}")
    clips = corpus_clips()
    for entry in entries:
        card_path = entry.path.with_suffix(".json")
        card = json.loads(card_path.read_text())
        check = measure(load_model(entry.path), clips)
        card["metrics"]["card_check"] = check.to_card()
        write_text_atomic(card_path, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
        print(f"{entry.name}: SI-SNRi {check.si_snri:.2f} dB, {check.power_proxy_mops:.2f} M-Ops/s -> {card_path}")


if __name__ == "__main__":
    main()
