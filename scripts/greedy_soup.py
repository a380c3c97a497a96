"""A greedy model soup (Wortsman et al., ICML 2022): models of one layout, sorted by their validation SI-SNRi, the best
first; each next one joins the soup (the uniform average of its members' weights, engine.snn.blend.average) only if
the soup's validation SI-SNRi rises. Axonal delays, thresholds and the input encoder are the best model's.

Prints each model's score and every try, and writes the final soup as a netx file (no card: a soup that ships gets
its card from scripts/train_lineup.sh).

    PYTHONPATH=. .venv/bin/python scripts/greedy_soup.py MODEL MODEL [MODEL ...] --out soup.net \\
        [--split build/data/debian/validation_set]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.files.netx import save_netx  # noqa: E402
from engine.library.catalog import resolve_model  # noqa: E402
from engine.snn.blend import average  # noqa: E402
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
    clips = PairedClips.load(args.split)
    print(f"{args.split}: {len(clips)} clips")
    models = {spec: resolve_model(spec) for spec in args.models}
    scores = {}
    for spec, model in models.items():
        scores[spec] = validate(model, clips).si_snri
        print(f"| {spec} | alone | {scores[spec]:.3f} |", flush=True)
    ranked = sorted(models, key=scores.__getitem__, reverse=True)
    members, best = [ranked[0]], scores[ranked[0]]
    for spec in ranked[1:]:
        trial = validate(average([models[m] for m in [*members, spec]]), clips).si_snri
        joined = trial > best
        print(f"| + {spec} | {len(members) + 1} members | {trial:.3f} | {'joins' if joined else 'left out'} |",
              flush=True)
        if joined:
            members, best = [*members, spec], trial
    soup = average([models[m] for m in members], name=args.out.stem)
    save_netx(soup, args.out)
    print(f"soup of {len(members)}: {', '.join(members)}; validation SI-SNRi {best:.3f} dB -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
