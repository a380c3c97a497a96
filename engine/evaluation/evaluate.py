"""Evaluate a model on pairs of noisy and clean files: quality (SI-SNR, PESQ, STOI) and cost."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.backends import prepare
from engine.denoiser import denoise
from engine.evaluation.metrics import pesq_wb, si_snr, stoi
from engine.evaluation.report import run_report
from engine.files.audio import load_audio
from engine.files.pairing import Pair
from engine.snn.model import SDNNModel
from engine.snn.telemetry import RunTotals


@dataclass(frozen=True)
class FileScore:
    """One noisy/clean pair: quality of the noisy input, of encode+decode alone, and of the output."""

    key: str
    si_snr: float
    si_snr_noisy: float
    si_snr_encdec: float
    pesq: float | None
    stoi: float | None
    synops_per_frame: float
    power_proxy_mops: float
    note: str = ""

    @property
    def si_snri(self) -> float:
        return self.si_snr - self.si_snr_noisy


@dataclass
class Evaluation:
    model: SDNNModel
    backend: str
    files: list[FileScore]
    report: dict

    def mean(self, attribute: str) -> float | None:
        values = [getattr(f, attribute) for f in self.files if getattr(f, attribute) is not None]
        return float(np.mean(values)) if values else None


def evaluate(
    model: SDNNModel,
    pairs: list[Pair],
    backend: str = "dense",
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Denoise every pair's noisy file (fresh state per file) and score it against its clean file."""
    totals = RunTotals(layer_sizes=model.neuron_counts[:-1])
    scores = []
    with contextlib.closing(prepare(model, backend)) as runner:  # the Lava backend owns processes
        for done, pair in enumerate(pairs):
            noisy, clean = load_audio(pair.noisy), load_audio(pair.clean)
            note = ""
            if len(noisy) != len(clean):
                note = f"lengths differ ({len(noisy)} vs {len(clean)} samples): scored on the common part"
                n = min(len(noisy), len(clean))
                noisy, clean = noisy[:n], clean[:n]
            result = denoise(noisy, runner)
            encdec = denoise(noisy, None).audio
            totals.merge(result.totals)
            scores.append(FileScore(
                key=pair.key,
                si_snr=float(si_snr(clean, result.audio)),
                si_snr_noisy=float(si_snr(clean, noisy)),
                si_snr_encdec=float(si_snr(clean, encdec)),
                pesq=pesq_wb(clean, result.audio),
                stoi=stoi(clean, result.audio),
                synops_per_frame=result.totals.synops_per_frame,
                power_proxy_mops=result.totals.power_proxy_mops,
                note=note,
            ))
            if progress is not None:
                progress(done + 1, len(pairs))
        latency_frames = runner.latency_frames
    return Evaluation(model, backend, scores, run_report(model, totals, latency_frames))

