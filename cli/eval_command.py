"""``spandex eval``: score a model on folders of noisy and clean files, N-DNS style."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import warnings

import yaml

from cli.progress import ProgressBar
from cli.sharpening_option import add_option, sharpened_as_asked
from engine.backends import BACKEND_NAMES
from engine.errors import SpandexError
from engine.evaluation.evaluate import Evaluation, evaluate
from engine.files.atomic import write_text_atomic
from engine.files.audio import AudioFileWarning
from engine.files.netx import load_model
from engine.files.output import check_report_output
from engine.files.pairing import UnpairedFilesWarning, pair_files
from engine.library.card import model_and_card
from engine.library.catalog import model_file, required_default
from engine.training.dataset_layout import check_pair_folders


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate a model on noisy/clean folders",
        description="Pair NOISY and CLEAN files by name (or N-DNS '_fileid_N'), denoise, and print "
                    "per-file and mean SI-SNR, SI-SNRi, PESQ, STOI and the cost of the network.")
    parser.add_argument("--model", metavar="NAME|PATH", help="library model name or netx/.pt file")
    parser.add_argument("--noisy", required=True, metavar="DIR")
    parser.add_argument("--clean", required=True, metavar="DIR")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="dense",
                        help="how the network is computed; every backend gives the same result "
                             "(sparse: event-driven, fastest on CPU; lava: Loihi 2's fixed-point "
                             "simulation through Lava, 8 ms more latency)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="score only the first N pairs, in the order they pair (N-DNS file ids by number, "
                             "other names alphabetically): a quick look at a large set")
    add_option(parser)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--yaml", metavar="FILE", help="also write an N-DNS metricsboard-style YAML entry")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    default = None if args.model is not None else required_default()  # (--model "" is refused, not the default)
    model_path = model_file(args.model) if default is None else default.path
    inputs = model_and_card(args.model if default is None else default.name, model_path)
    outputs = {option: check_report_output(path, f"--{option}", f"results.{option}", inputs)
               for option, path in (("json", args.json), ("yaml", args.yaml)) if path is not None}  # before the work
    if len({t.path.resolve() for t in outputs.values()}) < len(outputs):
        raise SpandexError("--json and --yaml name the same file: give each its own")
    if args.limit is not None and args.limit < 1:
        raise SpandexError(f"--limit {args.limit}: give at least 1 pair to score")
    check_pair_folders(args.noisy, args.clean)  # a split its dataset's last build did not finish: refused
    model = sharpened_as_asked(load_model(model_path), args.sharpening)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpairedFilesWarning)
        warnings.simplefilter("always", AudioFileWarning)
        pairs = pair_files(args.noisy, args.clean)
        if args.limit is not None and args.limit < len(pairs):
            print(f"note: scoring the first {args.limit} of {len(pairs)} pairs (--limit)", file=sys.stderr)
            pairs = pairs[:args.limit]
        bar = ProgressBar(f"evaluating {model.name} on {len(pairs)} files")
        evaluation = evaluate(model, pairs, args.backend, progress=bar.update)
        bar.close()
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(format_table(evaluation))
    if "json" in outputs:
        write_text_atomic(outputs["json"].path, json.dumps(as_json(evaluation), indent=2))
    if "yaml" in outputs:
        write_text_atomic(outputs["yaml"].path, yaml.safe_dump([metricsboard_entry(evaluation)], sort_keys=False))
    return 0


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _file_cell(name: str, width: int = 28) -> str:
    """A file's name in the table's first column: whole, or its end (where N-DNS names keep the SNR and the file id)
    after an ellipsis."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def format_table(evaluation: Evaluation) -> str:
    header = f"{'file':<28} {'SI-SNR':>7} {'SI-SNRi':>8} {'PESQ':>5} {'STOI':>5} {'SynOps/fr':>10} {'M-Ops/s':>8}"
    r = evaluation.report
    sharpening = evaluation.model.decoder.sharpening
    lines = [f"model {evaluation.model.name} ({evaluation.backend} backend"
             + (f", mask sharpened by {sharpening:g})" if sharpening else ", the network's own mask)"),
             header, "-" * len(header)]
    for f in evaluation.files:
        lines.append(f"{_file_cell(f.noisy or f.key):<28} {f.si_snr:7.2f} {f.si_snri:8.2f} {_fmt(f.pesq):>5} {_fmt(f.stoi):>5} "
                     f"{f.synops_per_frame:10.0f} {f.power_proxy_mops:8.2f}" + (f"  ({f.note})" if f.note else ""))
    lines.append("-" * len(header))
    lines.append(f"{'mean':<28} {evaluation.mean('si_snr'):7.2f} {evaluation.mean('si_snri'):8.2f} "
                 f"{_fmt(evaluation.mean('pesq')):>5} {_fmt(evaluation.mean('stoi')):>5} "
                 f"{r['synops_per_frame']:10.0f} {r['power_proxy_mops']:8.2f}")
    lines.append(
        f"params {r['params']:,} ({r['nonzero_params']:,} nonzero, weight sparsity {r['weight_sparsity']:.1%}), "
        f"size {r['size_kb']:.1f} KB, latency {r['latency_ms']:.3f} ms, PDP {r['pdp_proxy_mops']:.3f} M-Ops, "
        f"noisy SI-SNR {evaluation.mean('si_snr_noisy'):.2f} dB")
    return "\n".join(lines)


def as_json(evaluation: Evaluation) -> dict:
    return {
        "model": evaluation.model.name, "model_source": evaluation.model.source, "backend": evaluation.backend,
        "sharpening": evaluation.model.decoder.sharpening, "files": [{**vars(f), "si_snri": f.si_snri} for f in evaluation.files],
        "mean": {k: evaluation.mean(k) for k in ("si_snr", "si_snri", "si_snr_noisy", "pesq", "stoi")},
        **evaluation.report,
    }


def _scored_mean(evaluation: Evaluation, attribute: str) -> float:
    """The mean of a score every file has (None only for an evaluation of no files)."""
    value = evaluation.mean(attribute)
    if value is None:
        raise ValueError(f"no {attribute} to report: the evaluation scored no files")
    return value


def metricsboard_entry(evaluation: Evaluation) -> dict:
    """One entry in the layout of the N-DNS challenge's metricsboard YAML (MOS columns not measured)."""
    r = evaluation.report
    si_snr = _scored_mean(evaluation, "si_snr")
    return {
        "team": "SPANDEX",
        "model": evaluation.model.name,
        "date": datetime.date.today().isoformat(),
        "SI-SNR": round(si_snr, 2),
        "SI-SNRi_data": round(si_snr - _scored_mean(evaluation, "si_snr_noisy"), 2),
        "SI-SNRi_enc+dec": round(si_snr - _scored_mean(evaluation, "si_snr_encdec"), 2),
        "latency_total_ms": round(r["latency_ms"], 3),
        "power_proxy_Ops/s": round(r["power_proxy_mops"] * 1e6),
        "PDP_proxy_Ops": round(r["pdp_proxy_mops"] * 1e6),
        "params": r["params"],
        "size_kilobytes": round(r["size_kb"], 1),
    }
