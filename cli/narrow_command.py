"""``spandex narrow MODEL --hidden H1 H2 --dataset DIR --out OUT.net``: the model with fewer hidden neurons, those
whose spikes carry the most signal forward, scored on a validation split and written with its card
(:mod:`engine.library.narrow_model`)."""

from __future__ import annotations

import argparse

from cli.beside import beside_it
from cli.score_rows import score_printer
from engine.library.card import narrow_detail
from engine.library.narrow_model import make_narrow
from engine.snn.model import layout_text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "narrow", help="keep fewer hidden neurons (those that carry most), scored on validation",
        description="Every hidden neuron costs a NeuronOp each frame (10 ops in the power proxy) whether it spikes "
                    "or not; in a pruned model many carry little. This keeps, per hidden layer, the given number of "
                    "neurons whose spikes carry the most signal forward (mean |spike| times the L1 norm of their "
                    "outgoing weights, on fresh mixtures of --dataset's training split) and drops the rest with "
                    "their synapses. The output changes by what the dropped neurons sent: the narrowed model and "
                    "MODEL are scored on the validation split, and a fine-tune (spandex finetune OUT) recovers "
                    "the rest. Written to OUT with its card (OUT.json).")
    parser.add_argument("model", metavar="MODEL", help="library name or netx/.pt file")
    parser.add_argument("--hidden", type=int, nargs="+", required=True, metavar="N",
                        help="neurons to keep in each hidden layer, e.g. --hidden 320 180")
    parser.add_argument("--dataset", metavar="DIR", required=True,
                        help="dataset folder: its training split ranks the neurons, its validation split scores")
    parser.add_argument("--out", metavar="OUT", required=True, help="the netx file to write (.net)")
    parser.add_argument("--install", action="store_true",
                        help="also add it to your model library, named by OUT's file name")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    scored = score_printer(f"scored on the validation split of {args.dataset}")
    outcome = make_narrow(args.model, tuple(args.hidden), args.dataset, args.out, args.install, scored)
    record = outcome.card["narrow"]
    print(f"({outcome.clips} clips, {outcome.seconds / 60:.1f} min)")
    print(f"{outcome.path}: {outcome.scores[1][0]} narrowed from {layout_text(record['from'])} to "
          f"{layout_text(record['to'])}{narrow_detail(record)}; "
          f"{beside_it(outcome.path.with_suffix('.json'), outcome.licences)}")
    if outcome.installed is not None:
        print(f"joined the model library as {outcome.path.stem} ({outcome.installed})")
    return 0
