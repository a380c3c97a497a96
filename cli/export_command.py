"""``spandex export MODEL OUT.net``: a netx file that Lava (and Loihi 2) runs as exactly this model."""

from __future__ import annotations

import argparse

from engine.library.catalog import resolve_model
from engine.loihi.export import export_netx
from engine.snn.compaction import drop_idle_neurons
from engine.snn.model import layout_text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model for Lava / Loihi 2 (netx HDF5)",
        description="Write MODEL as a lava-dl netx file that netx.hdf5.Network builds into the same network, "
                    "bit for bit: delays above 62 are moved exactly onto the next layer, anything netx would "
                    "change is refused. The file is checked by loading it through netx before it is written.")
    parser.add_argument("model", metavar="MODEL", help="library model name or netx/.pt file")
    parser.add_argument("output", metavar="OUT", help="the netx file to write (.net)")
    parser.add_argument("--drop-idle-neurons", action="store_true",
                        help="leave out the hidden neurons that have no nonzero weight in or out (and the synapses "
                             "into them): the same output from a smaller network, fewer NeuronOps and SynOps")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = resolve_model(args.model)
    if args.drop_idle_neurons:
        compact = drop_idle_neurons(model)
        if compact is model:
            print(f"note: {model.name} has no idle hidden neurons ({layout_text(model.neuron_counts)})")
        else:
            print(f"note: dropped {sum(model.neuron_counts) - sum(compact.neuron_counts)} idle hidden neurons: "
                  f"{layout_text(model.neuron_counts)} -> {layout_text(compact.neuron_counts)}")
        model = compact
    plan = export_netx(model, args.output)
    for note in plan.notes:
        print(f"note: {note}")
    print(f"{args.output}: {model.name} exported for Lava / Loihi 2 (netx HDF5), checked through netx")
    return 0
