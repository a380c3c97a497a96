"""``spandex export MODEL OUT.net``: a netx file that Lava (and Loihi 2) runs as exactly this model, with its card."""

from __future__ import annotations

import argparse

from cli.beside import beside_it
from engine.library.exporting import export_model
from engine.snn.model import layout_text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model for Lava / Loihi 2 (netx HDF5)",
        description="Write MODEL as a lava-dl netx file that netx.hdf5.Network builds into the same network, "
                    "bit for bit: delays above 62 are moved exactly onto the next layer, anything netx would "
                    "change is refused. The file is checked by loading it through netx before it is written. "
                    "Beside it go its card (OUT.json: the model's card, where it was exported from) and the "
                    "licence notices that come with the model (a shipped model's: LICENSE-ndns.md).")
    parser.add_argument("model", metavar="MODEL", help="library model name or netx/.pt file")
    parser.add_argument("output", metavar="OUT", help="the netx file to write (.net)")
    parser.add_argument("--drop-idle-neurons", action="store_true",
                        help="leave out the hidden neurons that have no nonzero weight in or out (and the synapses "
                             "into them): the same output from a smaller network, fewer NeuronOps and SynOps")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    outcome = export_model(args.model, args.output, drop_idle=args.drop_idle_neurons)
    model = outcome.plan.model
    if outcome.dropped is not None:
        before, after = outcome.dropped
        print(f"note: dropped {sum(before) - sum(after)} idle hidden neurons: {layout_text(before)} -> "
              f"{layout_text(after)}")
    elif args.drop_idle_neurons:
        print(f"note: {model.name} has no idle hidden neurons ({layout_text(model.neuron_counts)})")
    for note in (*outcome.plan.notes, *outcome.host_notes):
        print(f"note: {note}")
    if not outcome.had_card:
        print(f"note: {args.model} has no card: {outcome.card_path.name} says only where it was exported from")
    print(f"{args.output}: {model.name} exported for Lava / Loihi 2 (netx HDF5), checked through netx; "
          f"{beside_it(outcome.card_path, outcome.licences)}")
    return 0
