"""``spandex loihi-report MODEL...``: what each model needs on Loihi 2, and how pruning changes it."""

from __future__ import annotations

import argparse
import json

from engine.files.atomic import write_text_atomic
from engine.files.netx import load_model
from engine.files.output import check_report_output
from engine.library.card import model_and_card
from engine.library.catalog import distinct_model_files
from engine.loihi.export import plan_export
from engine.loihi.hardware import loihi2_hardware
from engine.loihi.resources import LoihiResourceReport, loihi_resource_report


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "loihi-report", help="estimate Loihi 2 neurons, synapses, memory and neuro-cores",
        description="Per layer: neurons, synapses (and how many are nonzero), synaptic memory stored densely "
                    "and stored sparsely, neuro-cores; with several models, a side-by-side comparison. An "
                    "estimate from published Loihi 2 limits (printed below the tables), not a compiler mapping.")
    parser.add_argument("models", nargs="+", metavar="MODEL", help="library model names or netx/.pt files")
    parser.add_argument("--json", metavar="FILE", help="also write the reports as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    paths = distinct_model_files(args.models)  # a model given twice: refused, not reported twice
    inputs = [named for spec, path in zip(args.models, paths, strict=True) for named in model_and_card(spec, path)]
    output = None if args.json is None else check_report_output(args.json, "--json", "loihi.json", inputs)  # first
    reports: list[LoihiResourceReport] = []
    notes: list[str] = []
    for path in paths:
        model = load_model(path)
        reports.append(loihi_resource_report(model))
        notes.extend(f"{model.name}: {note}" for note in plan_export(model).notes)
    for report in reports:
        print(format_layers(report), end="\n\n")
    if len(reports) > 1:
        print(format_comparison(reports), end="\n\n")
    for note in notes:
        print(f"note: {note}")
    print(f"Loihi 2 hardware: {loihi2_hardware().reason}.")
    print("Estimate from published figures, not Intel's compiler:")
    for source in reports[0].figures.sources:
        print(f"  - {source}")
    if output is not None:
        write_text_atomic(output.path, json.dumps([r.as_dict() for r in reports], indent=2))
    return 0


def _kib(n_bytes: int) -> str:
    return f"{n_bytes / 1024:.1f}"


def format_layers(report: LoihiResourceReport) -> str:
    header = (f"{'layer':<22} {'neurons':>7} {'synapses':>9} {'nonzero':>8} {'delay':>5} "
              f"{'dense KiB':>9} {'sparse KiB':>10} {'state KiB':>9} {'cores':>5} {'cores sp.':>9}")
    lines = [f"Loihi 2 estimate for {report.model}", header, "-" * len(header)]
    for l in report.layers:
        lines.append(f"{l.name:<22} {l.neurons:7d} {l.synapses:9d} {l.nonzero_synapses:8d} {l.max_delay:5d} "
                     f"{_kib(l.dense_synapse_bytes):>9} {_kib(l.sparse_synapse_bytes):>10} "
                     f"{_kib(l.neuron_bytes):>9} {l.cores_dense:5d} {l.cores_sparse:9d}")
    lines.append("-" * len(header))
    lines.append(f"{'total':<22} {report.neurons:7d} {report.synapses:9d} {report.nonzero_synapses:8d} {'':>5} "
                 f"{'':>9} {'':>10} {'':>9} {report.cores_dense:5d} {report.cores_sparse:9d}")
    lines.append(f"memory with state: {_kib(report.dense_bytes)} KiB dense, {_kib(report.sparse_bytes)} KiB "
                 f"exploiting sparsity; {report.chips} chip(s) of {report.figures.cores_per_chip} neuro-cores")
    return "\n".join(lines)


def format_comparison(reports: list[LoihiResourceReport]) -> str:
    first = reports[0]
    header = (f"{'model':<24} {'weights=0':>9} {'nonzero syn.':>12} {'dense KiB':>9} {'sparse KiB':>10} "
              f"{'vs first':>8} {'cores':>5} {'cores sp.':>9}")
    lines = ["How the models compare (memory includes neuron state)", header, "-" * len(header)]
    for r in reports:
        sparsity = 1 - r.nonzero_synapses / r.synapses if r.synapses else 0.0
        lines.append(f"{r.model[:24]:<24} {sparsity:9.1%} {r.nonzero_synapses:12d} {_kib(r.dense_bytes):>9} "
                     f"{_kib(r.sparse_bytes):>10} {r.sparse_bytes / first.sparse_bytes:8.2f} "
                     f"{r.cores_dense:5d} {r.cores_sparse:9d}")
    return "\n".join(lines)
