"""Denoising quality and cost, side by side: SDNN models next to classic and neural non-spiking baselines.

For every noisy/clean pair of a held-out set (folders paired like ``spandex eval``), every system denoises
the noisy file; the table gives mean SI-SNR, SI-SNRi, PESQ, STOI, the power proxy (SDNNs), parameters and
real-time factor (processing seconds per second of audio, on this machine, measured in this run).

    .venv/bin/python bench/quality.py --noisy DIR --clean DIR [--model NAME|PATH ...] [--out report.md]

Without ``--model``: every model in the library plus the reference networks in ../shared/reference_models
(the official N-DNS baseline and SPANDEX's pruned nets). The Markdown table is printed and, with
``--out``, written to a file.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.baselines import available_baselines  # noqa: E402
from engine.backends import prepare  # noqa: E402
from engine.constants import SAMPLE_RATE  # noqa: E402
from engine.denoiser import denoise  # noqa: E402
from engine.evaluation.metrics import pesq_wb, si_snr, stoi  # noqa: E402
from engine.evaluation.report import model_report  # noqa: E402
from engine.files.atomic import write_text_atomic  # noqa: E402
from engine.files.audio import load_audio  # noqa: E402
from engine.files.pairing import pair_files  # noqa: E402
from engine.library.catalog import list_models, resolve_model  # noqa: E402
from engine.snn.telemetry import RunTotals  # noqa: E402

REFERENCE_DIR = REPO.parent / "shared" / "reference_models"
REFERENCE_NETS = ("ndns_baseline", "spandex_prune50", "spandex_prune75")


@dataclass
class Scores:
    """Per-file scores of one system, and its processing time."""

    si_snr: list[float] = field(default_factory=list)
    si_snri: list[float] = field(default_factory=list)
    pesq: list[float] = field(default_factory=list)
    stoi: list[float] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0

    def add(self, clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, seconds: float) -> None:
        score = float(si_snr(clean, denoised))
        self.si_snr.append(score)
        self.si_snri.append(score - float(si_snr(clean, noisy)))
        for values, metric in ((self.pesq, pesq_wb), (self.stoi, stoi)):
            value = metric(clean, denoised)
            if value is not None:
                values.append(value)
        self.seconds += seconds
        self.audio_seconds += len(noisy) / SAMPLE_RATE


def _mean(values: list[float], digits: int = 2) -> str:
    return f"{np.mean(values):.{digits}f}" if values else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noisy", required=True, type=Path)
    parser.add_argument("--clean", required=True, type=Path)
    parser.add_argument("--model", action="append", help="library name or netx file (repeatable)")
    parser.add_argument("--backend", default="dense")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()

    pairs = pair_files(args.noisy, args.clean)
    specs = args.model or [str(e.path) for e in list_models()] + [
        str(REFERENCE_DIR / f"{name}.net") for name in REFERENCE_NETS if (REFERENCE_DIR / f"{name}.net").is_file()]
    models = [resolve_model(spec) for spec in specs]
    baselines = available_baselines()
    rows: dict[str, Scores] = {name: Scores() for name in ["noisy input", *(m.name for m in models),
                                                              *(n for n, b in baselines.items() if callable(b))]}
    totals = {m.name: RunTotals(layer_sizes=m.neuron_counts[:-1]) for m in models}
    runners = {m.name: prepare(m, args.backend) for m in models}
    for index, pair in enumerate(pairs):
        noisy, clean = load_audio(pair.noisy), load_audio(pair.clean)
        n = min(len(noisy), len(clean))
        noisy, clean = noisy[:n], clean[:n]
        rows["noisy input"].add(clean, noisy, noisy, 0.0)
        for name, runner in runners.items():
            start = time.perf_counter()
            result = denoise(noisy, runner)
            rows[name].add(clean, noisy, result.audio, time.perf_counter() - start)
            totals[name].merge(result.totals)
        for name, baseline in baselines.items():
            if callable(baseline):
                start = time.perf_counter()
                out = baseline(noisy)
                rows[name].add(clean, noisy, out, time.perf_counter() - start)
        print(f"{index + 1}/{len(pairs)} {pair.key}", file=sys.stderr)

    facts = {m.name: model_report(m) for m in models}
    lines = [
        f"Held-out set: {len(pairs)} files, {rows['noisy input'].audio_seconds / 60:.1f} min "
        f"({args.noisy}). Real-time factor measured on this machine in this run.",
        "",
        "| system | SI-SNR dB | SI-SNRi dB | PESQ | STOI | M-Ops/s | weight sparsity | params | real-time factor |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, scores in rows.items():
        if name in facts:
            cost = (f"{totals[name].power_proxy_mops:.2f} | {facts[name]['weight_sparsity']:.0%} | "
                    f"{facts[name]['params']:,}")
        else:
            cost = "— | — | —"
        rtf = f"{scores.seconds / scores.audio_seconds:.3f}" if scores.seconds else "—"
        lines.append(f"| {name} | {_mean(scores.si_snr)} | {_mean(scores.si_snri)} | {_mean(scores.pesq)} | "
                     f"{_mean(scores.stoi, 3)} | {cost} | {rtf} |")
    unavailable = [f"{name}: {why}" for name, why in baselines.items() if not callable(why)]
    if unavailable:
        lines += ["", "Not run: " + "; ".join(unavailable)]
    table = "\n".join(lines)
    print(table)
    if args.out:
        write_text_atomic(args.out, table + "\n")


if __name__ == "__main__":
    main()
