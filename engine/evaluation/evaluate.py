"""Evaluate a model on pairs of noisy and clean files: quality (SI-SNR, PESQ, STOI) and cost."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from engine.backends import prepare
from engine.constants import SAMPLE_RATE
from engine.denoiser import AlignedDenoiser
from engine.errors import AudioInputError
from engine.evaluation.metrics import SISNRSums, pesq_wb, si_snr, stoi
from engine.evaluation.report import run_report
from engine.files.audio import AudioFileWarning, AudioSource, open_audio
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
    noisy: str = ""
    """The noisy file's name (``key`` is what paired it with its clean reference: an N-DNS file id, or the name)."""

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


WHOLE_FILE_SECONDS = 60.0
"""Pairs up to this long are scored on the whole signals at once (N-DNS clips are 30 s). Longer ones stream:
SI-SNR from running sums (:class:`engine.evaluation.metrics.SISNRSums`), PESQ and STOI as the length-weighted mean over
consecutive segments this long (both are defined for utterances of seconds), so memory stays bounded."""


def evaluate(
    model: SDNNModel,
    pairs: list[Pair],
    backend: str = "dense",
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Denoise every pair's noisy file (fresh state per file) and score it against its clean file.

    Files stream from disk in blocks (:class:`engine.denoiser.AlignedDenoiser`): memory does not grow with
    their length. ``progress(done, total)`` counts 16 kHz samples of all the pairs.
    """
    totals = RunTotals(layer_sizes=model.neuron_counts[:-1])
    scores = []
    sources = [(open_audio(pair.noisy), open_audio(pair.clean)) for pair in pairs]  # bad files: before any work
    for pair, (_, clean) in zip(pairs, sources):
        if clean.varying_dbfs == -math.inf:  # (SI-SNR removes the mean: nothing would be left to measure against)
            what = "digital silence" if clean.level_dbfs == -math.inf else "a constant offset (DC) with no sound"
            raise AudioInputError(f"{pair.clean}: the clean reference is {what}: no SI-SNR can be measured "
                                  f"against it; leave the pair ({pair.noisy.name}) out")
    for problem in (p for both in sources for source in both for p in source.problems):
        warnings.warn(problem, AudioFileWarning, stacklevel=2)
    converted = [(role, source) for both in sources for role, source in zip(("noisy", "clean"), both)
                 if (source.rate, source.channels) != (SAMPLE_RATE, 1)]
    if converted:  # scored after conversion, as denoise says too: a reference at another rate is worth a word
        role, first = converted[0]
        warnings.warn(f"{len(converted)} of the {2 * len(sources)} files were converted to {SAMPLE_RATE} Hz mono "
                      f"before scoring (e.g. the {role} {first.path.name}: {first.rate} Hz, {first.channels} "
                      f"channel(s))", AudioFileWarning, stacklevel=2)
    total = sum(min(noisy.samples, clean.samples) for noisy, clean in sources)
    done = 0
    with contextlib.closing(prepare(model, backend)) as runner:  # the Lava backend owns processes
        for pair, (noisy, clean) in zip(pairs, sources):
            n = min(noisy.samples, clean.samples)
            note = "" if noisy.samples == clean.samples else (
                f"lengths differ ({noisy.samples} vs {clean.samples} samples): scored on the common part")
            denoised, encdec = AlignedDenoiser(runner), AlignedDenoiser(None)
            scorer, aligned = _PairScorer(), _Aligned(4)  # clean, noisy, denoised, encdec
            for noisy_block, clean_block in _paired_blocks(noisy, clean, n):
                aligned.add(clean_block, noisy_block, denoised.push(noisy_block), encdec.push(noisy_block))
                scorer.add(*aligned.take())
                done += noisy_block.size
                if progress is not None:
                    progress(done, total)
            none = np.zeros(0, np.float32)
            aligned.add(none, none, denoised.finish(), encdec.finish())
            scorer.add(*aligned.take())
            totals.merge(denoised.run_totals())
            scores.append(replace(scorer.score(pair.key, denoised.run_totals(), note), noisy=pair.noisy.name))
        latency_frames = runner.latency_frames
    return Evaluation(model, backend, scores, run_report(model, totals, latency_frames))


def _paired_blocks(noisy: AudioSource, clean: AudioSource, n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The first ``n`` samples of both files in blocks of equal length."""
    clean_blocks = clean.blocks(limit=n)
    spare = np.zeros(0, np.float32)
    for block in noisy.blocks(limit=n):
        while spare.size < block.size:
            spare = np.concatenate((spare, next(clean_blocks)))
        yield block, spare[:block.size]
        spare = spare[block.size:]


class _Aligned:
    """Signals that arrive at different paces (the outputs lag their input); ``take`` gives the part all have."""

    def __init__(self, count: int) -> None:
        self.queues = [np.zeros(0, np.float32) for _ in range(count)]

    def add(self, *blocks: np.ndarray) -> None:
        self.queues = [np.concatenate((q, b)) for q, b in zip(self.queues, blocks)]

    def take(self) -> list[np.ndarray]:
        ready = min(q.size for q in self.queues)
        taken = [q[:ready] for q in self.queues]
        self.queues = [q[ready:] for q in self.queues]
        return taken


class _PairScorer:
    """Scores of one pair from consecutive aligned blocks of clean, noisy, denoised and encoded+decoded audio."""

    def __init__(self) -> None:
        self.segment: list[list[np.ndarray]] = [[], [], [], []]  # clean, noisy, denoised, encdec
        self.held = 0
        self.sums = {"si_snr": SISNRSums(), "si_snr_noisy": SISNRSums(), "si_snr_encdec": SISNRSums()}
        self.weighted: dict[str, list[tuple[float, int]]] = {"pesq": [], "stoi": []}
        self.streamed = False

    def add(self, clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, encdec: np.ndarray) -> None:
        limit = int(WHOLE_FILE_SECONDS * SAMPLE_RATE)
        while clean.size:
            take = min(clean.size, limit - self.held)
            for parts, block in zip(self.segment, (clean, noisy, denoised, encdec)):
                parts.append(block[:take])
            self.held += take
            clean, noisy, denoised, encdec = clean[take:], noisy[take:], denoised[take:], encdec[take:]
            if self.held == limit and clean.size:
                self._flush()

    def _flush(self) -> None:
        clean, noisy, denoised, encdec = (np.concatenate(p) for p in self.segment)
        self.segment, self.held, self.streamed = [[], [], [], []], 0, True
        for key, estimate in (("si_snr", denoised), ("si_snr_noisy", noisy), ("si_snr_encdec", encdec)):
            self.sums[key].add(clean, estimate)
        for key, metric in (("pesq", pesq_wb), ("stoi", stoi)):
            value = metric(clean, denoised)
            if value is not None:
                self.weighted[key].append((value, clean.size))

    def score(self, key: str, totals: RunTotals, note: str) -> FileScore:
        if not self.streamed:  # the whole pair is here: scored at once, as always
            clean, noisy, denoised, encdec = (np.concatenate(p) for p in self.segment)
            return FileScore(key=key, si_snr=float(si_snr(clean, denoised)), si_snr_noisy=float(si_snr(clean, noisy)),
                             si_snr_encdec=float(si_snr(clean, encdec)), pesq=pesq_wb(clean, denoised),
                             stoi=stoi(clean, denoised), synops_per_frame=totals.synops_per_frame,
                             power_proxy_mops=totals.power_proxy_mops, note=note)
        if self.held:
            self._flush()
        mean = {k: (sum(v * w for v, w in values) / sum(w for _, w in values) if values else None)
                for k, values in self.weighted.items()}
        segments = f"PESQ and STOI: mean over {WHOLE_FILE_SECONDS:.0f} s segments"
        return FileScore(key=key, si_snr=self.sums["si_snr"].value(), si_snr_noisy=self.sums["si_snr_noisy"].value(),
                         si_snr_encdec=self.sums["si_snr_encdec"].value(), pesq=mean["pesq"], stoi=mean["stoi"],
                         synops_per_frame=totals.synops_per_frame, power_proxy_mops=totals.power_proxy_mops,
                         note="; ".join(filter(None, (note, segments))))
