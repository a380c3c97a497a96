"""A greedy model soup (Wortsman et al., ICML 2022): models of one layout, sorted by their validation SI-SNRi, the best
first; each next one joins the soup (the uniform average of its members' weights, engine.snn.blend.average) only if
the soup's validation SI-SNRi rises. Axonal delays, thresholds, the input encoder and the mask's sharpening are the best model's.

Prints each model's score and every try, and writes the final soup as a netx file with the licence notices of its
members' lineage beside it (no card: a soup that ships gets its card from scripts/train_lineup.sh). Where no other
model raises the best one's score there is no soup, and nothing is written.

    PYTHONPATH=. .venv/bin/python scripts/greedy_soup.py MODEL MODEL [MODEL ...] --out soup.net \\
        [--split build/data/debian/validation_set]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.errors import SpandexError  # noqa: E402
from engine.files.netx import load_model, save_netx  # noqa: E402
from engine.library.blending import check_blend_output  # noqa: E402
from engine.library.card import read_card  # noqa: E402
from engine.library.catalog import distinct_model_files  # noqa: E402
from engine.library.licences import check_notices, copy_notices, notices_of_models  # noqa: E402
from engine.snn.blend import average, check_one_layout, greedy_members  # noqa: E402
from engine.training.dataset import PairedClips  # noqa: E402
from engine.training.validation import validate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="MODEL", help="library name or netx file; two or more")
    parser.add_argument("--out", required=True, type=Path, help="the soup's netx file")
    parser.add_argument("--split", default="build/data/debian/validation_set",
                        help="a split folder with noisy/ and clean/ (default: %(default)s)")
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error("give two or more models")
    try:
        return soup(args.models, args.split, args.out)
    except SpandexError as exc:  # a missing model or split, a bad --out, layouts that differ: said in one line
        parser.exit(1, f"greedy_soup.py: error: {exc}\n")


def soup(specs: list[str], split: str, out: Path) -> int:
    files = distinct_model_files(specs)  # a model counts once in a soup
    target = check_blend_output(str(out), sources=tuple(files), example="soup.net", offers_install=False)
    notices = check_notices(notices_of_models((path, read_card(path)[0]) for path in files), target.parent)
    models = {spec: load_model(path) for spec, path in zip(specs, files)}
    check_one_layout(list(models.values()))  # before minutes of scoring
    clips = PairedClips.load(split)
    print(f"{split}: {len(clips)} clips")
    scores = {}
    for spec, model in models.items():
        scores[spec] = validate(model, clips).si_snri
        print(f"| {spec} | alone | {scores[spec]:.3f} |", flush=True)
    ranked = sorted(models, key=scores.__getitem__, reverse=True)

    def tried(spec: str, size: int, score: float, joined: bool) -> None:
        print(f"| + {spec} | {size} members | {score:.3f} | {'joins' if joined else 'left out'} |", flush=True)

    members, best = greedy_members(ranked, scores[ranked[0]],
                                   lambda specs: validate(average([models[m] for m in specs]), clips).si_snri, tried)
    if len(members) == 1:
        print(f"no soup: no other model raised {members[0]}'s {best:.3f} dB; nothing written")
        return 0
    save_netx(average([models[m] for m in members], name=target.stem), target)
    copied = copy_notices(notices, target.parent)
    beside = f" (beside it {', '.join(path.name for path in copied)})" if copied else ""
    print(f"soup of {len(members)}: {', '.join(members)}; validation SI-SNRi {best:.3f} dB -> {target}{beside}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
