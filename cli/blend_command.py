"""``spandex blend MODEL OTHER --share S``: a weight-space blend of two models of one layout, scored on a
validation split and written with its card (:mod:`engine.library.blending`)."""

from __future__ import annotations

import argparse

from cli.beside import beside_it
from cli.score_rows import score_printer
from engine.library.blending import make_blend


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "blend", help="blend two models of one layout weight by weight, scored on validation",
        description="SHARE of MODEL's weights plus the rest of OTHER's, rounded to 8 bits: e.g. a fine-tuned "
                    "model blended with the model it was fine-tuned from keeps more of what the parent learnt from "
                    "more varied data (a 'model soup', WiSE-FT). The models must share their layout; the blend "
                    "keeps MODEL's delays, thresholds and input encoder (a note says where OTHER's differ). The "
                    "blend, MODEL and OTHER are scored on the validation split of --dataset, and the blend is written "
                    "to OUT with its card (OUT.json), named by OUT's file name.")
    parser.add_argument("model", metavar="MODEL", help="library name or netx/.pt file: the first model")
    parser.add_argument("other", metavar="OTHER", help="library name or netx/.pt file: the model blended in")
    parser.add_argument("--share", type=float, required=True,
                        help="MODEL's share of each weight, from 0 to 1 (e.g. 0.8: 80 %% MODEL, 20 %% OTHER)")
    parser.add_argument("--keep-zeros", action="store_true",
                        help="weights that are zero in MODEL stay zero (a pruned model keeps its sparsity)")
    parser.add_argument("--dataset", metavar="DIR", required=True,
                        help="dataset folder whose validation split scores the blend and both models")
    parser.add_argument("--out", metavar="OUT", required=True, help="the netx file to write (.net)")
    parser.add_argument("--install", action="store_true",
                        help="also add the blend to your model library, named by OUT's file name, where `spandex "
                             "models` and the app list it (prune and finetune do so unless --no-install)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    scored = score_printer(f"scored the blend, {args.model} and {args.other} on the validation split of {args.dataset}")
    outcome = make_blend(args.model, args.other, args.share, args.keep_zeros, args.dataset, args.out, args.install,
                         scored)
    first, other = outcome.scores[1][0], outcome.scores[2][0]
    print(f"({outcome.clips} clips, {outcome.seconds / 60:.1f} min)")
    for note in outcome.kept:
        print(f"note: the blend keeps {first}'s {note}")
    print(f"{outcome.path}: {args.share:.0%} {first} + {1 - args.share:.0%} {other}; "
          f"{beside_it(outcome.path.with_suffix('.json'), outcome.licences)}")
    if outcome.installed is not None:
        print(f"joined the model library as {outcome.path.stem} ({outcome.installed})")
    return 0
