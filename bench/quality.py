"""Denoising quality and cost of every system, one table from one run over a held-out set.

Every noisy/clean pair of the set (folders paired like ``spandex eval``) goes through every system: the
shipped SPANDEX models, the reference networks in ../shared/reference_models (the official N-DNS baseline
and SPANDEX's published pruned nets), the non-spiking baselines of bench/baselines.py (Wiener, RNNoise,
DeepFilterNet3) and the noisy input itself. Columns, all measured in this run:

- SI-SNRi (dB): overall, then by input-SNR band; a clip's input SNR is measured from its own pair
  (clean energy over the energy of noisy − clean), not read from its name;
- PESQ (wide-band), STOI, DNSMOS P.835 SIG / BAK / OVRL (bench/dnsmos.py, offline);
- M-Ops/s: the N-DNS power proxy, (SynOps + 10·NeuronOps) per 8 ms frame from the engine's telemetry
  (real events × real nonzero fan-out), averaged over every frame of the noisy inputs;
- quiet mic: SI-SNRi of the same noisy clips played at −45 dBFS (a quiet microphone; the test split's
  clips sit at −35 … −17 dBFS);
- clean in → out (dB): the clean speech itself is denoised and the output scored against it (SI-SNR):
  how much a system harms speech that needs no help.

Then the issue's targets, judged from the numbers above ("goal | measured | met").

    nice -n 10 .venv/bin/python bench/quality.py [--noisy DIR --clean DIR] [--limit N] [--out report.md]
        [--model NAME|PATH ...] [--backend dense|sparse]

Without ``--noisy``/``--clean``: the held-out test split of build/data/debian. ``--limit N`` scores N pairs,
from each input-SNR band in turn, for quick runs. ``--model`` replaces the default SDNN rows (shipped
models + reference networks).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.baselines import available_baselines  # noqa: E402
from bench.dnsmos import DNSMOS  # noqa: E402
from engine.backends import prepare  # noqa: E402
from engine.constants import SAMPLE_RATE  # noqa: E402
from engine.denoiser import denoise  # noqa: E402
from engine.errors import SpandexError  # noqa: E402
from engine.evaluation.metrics import SNR_BANDS, pesq_wb, si_snr, snr_band, stoi  # noqa: E402
from engine.files.atomic import write_text_atomic  # noqa: E402
from engine.files.audio import load_audio  # noqa: E402
from engine.files.pairing import Pair, pair_files  # noqa: E402
from engine.library.catalog import default_model, list_models, resolve_model  # noqa: E402
from engine.snn.telemetry import RunTotals  # noqa: E402
from engine.training.dataset_layout import check_pair_folders  # noqa: E402

REFERENCE_DIR = REPO.parent / "shared" / "reference_models"
HELD_OUT = REPO / "build" / "data" / "debian" / "test_set"
REFERENCE_NETS = ("ndns_baseline", "spandex_prune50", "spandex_prune75")
OFFICIAL = "ndns_baseline"

Run = Callable[[np.ndarray], tuple[np.ndarray, RunTotals | None]]


def input_snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR of a noisy clip in dB, measured from its pair: clean energy over (noisy − clean) energy."""
    noise = np.sum((noisy.astype(np.float64) - clean) ** 2)
    return float(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / max(noise, 1e-20)))


@dataclass
class Row:
    """One system's per-clip scores in this run."""

    name: str
    run: Run | None  # None: the noisy input itself
    si_snri: list[float] = field(default_factory=list)
    bands: list[str] = field(default_factory=list)
    pesq: list[float] = field(default_factory=list)
    stoi: list[float] = field(default_factory=list)
    mos: list[tuple[float, float, float]] = field(default_factory=list)
    clean_in: list[float] = field(default_factory=list)
    quiet: list[float] = field(default_factory=list)
    totals: RunTotals | None = None
    seconds: float = 0.0

    def mean_si_snri(self, band: str | None = None) -> float | None:
        values = [v for v, b in zip(self.si_snri, self.bands) if band is None or b == band]
        return float(np.mean(values)) if values else None

    @property
    def mops(self) -> float | None:
        return self.totals.power_proxy_mops if self.totals is not None and self.totals.frames else None

    def mean(self, values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None


def sdnn_run(model, backend: str) -> tuple[Run, RunTotals]:
    """A model's denoiser for :class:`Row` and the totals it accumulates (noisy inputs only)."""
    runner = prepare(model, backend)
    totals = RunTotals(layer_sizes=model.neuron_counts[:-1])

    def run(audio: np.ndarray) -> tuple[np.ndarray, RunTotals | None]:
        result = denoise(audio, runner)
        return result.audio, result.totals

    return run, totals


def score_clip(row: Row, clean: np.ndarray, noisy: np.ndarray, band: str, mos: DNSMOS) -> None:
    """Run one system on one pair (noisy in, then clean in) and add its scores to its row."""
    if row.run is None:
        out = noisy
    else:
        start = time.perf_counter()
        out, totals = row.run(noisy)
        row.seconds += time.perf_counter() - start
        if totals is not None and row.totals is not None:
            row.totals.merge(totals)
        clean_out, _ = row.run(clean)  # its totals are not the cost on noisy input: left out
        row.clean_in.append(float(si_snr(clean, clean_out)))
        quiet_out, _ = row.run(noisy * quiet_gain(noisy))
        row.quiet.append(float(si_snr(clean, quiet_out)) - float(si_snr(clean, noisy)))
    row.si_snri.append(float(si_snr(clean, out)) - float(si_snr(clean, noisy)))
    row.bands.append(band)
    for values, metric in ((row.pesq, pesq_wb), (row.stoi, stoi)):
        value = metric(clean, out)
        if value is not None:
            values.append(value)
    p835 = mos(out)
    row.mos.append((p835.sig, p835.bak, p835.ovrl))


QUIET_DBFS = -45.0
"""The level of the "quiet mic" column."""


def quiet_gain(noisy: np.ndarray) -> float:
    """The factor that plays ``noisy`` at :data:`QUIET_DBFS` (RMS)."""
    rms = float(np.sqrt(np.mean(np.square(noisy, dtype=np.float64))))
    return 10 ** (QUIET_DBFS / 20) / max(rms, 1e-12)


def load_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) of a pair, cut to their common length."""
    noisy, clean = load_audio(pair.noisy), load_audio(pair.clean)
    n = min(len(noisy), len(clean))
    return noisy[:n], clean[:n]


def pick(pairs: list[Pair], limit: int | None) -> list[Pair]:
    """``limit`` pairs taken from the input-SNR bands in turn, evenly spaced within each band, so a quick
    run sees every band; all pairs without a limit."""
    if limit is None or limit >= len(pairs):
        return pairs
    by_band: dict[str, list[Pair]] = {name: [] for name, _, _ in SNR_BANDS}
    for pair in pairs:
        noisy, clean = load_pair(pair)
        by_band[snr_band(input_snr(clean, noisy))].append(pair)
    quota = dict.fromkeys(by_band, 0)
    while sum(quota.values()) < limit:
        for name, members in by_band.items():
            if quota[name] < len(members) and sum(quota.values()) < limit:
                quota[name] += 1
    chosen = {id(members[i]) for name, members in by_band.items() if quota[name]
              for i in np.linspace(0, len(members) - 1, quota[name]).round().astype(int)}
    return [pair for pair in pairs if id(pair) in chosen]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def results_table(rows: list[Row]) -> list[str]:
    band_heads = " | ".join(f"{name} dB" for name, _, _ in SNR_BANDS)
    lines = [
        f"| system | SI-SNRi dB | {band_heads} | quiet mic | PESQ | STOI | SIG | BAK | OVRL | M-Ops/s | "
        "clean in → out dB |",
        "| --- |" + " ---: |" * (len(SNR_BANDS) + 9),
    ]
    for row in rows:
        bands = " | ".join(_fmt(row.mean_si_snri(name)) for name, _, _ in SNR_BANDS)
        mos = " | ".join(_fmt(row.mean([m[i] for m in row.mos])) for i in range(3))
        quiet = _fmt(row.mean(row.quiet)) if row.run is not None else _fmt(0.0)
        lines.append(f"| {row.name} | {_fmt(row.mean_si_snri())} | {bands} | {quiet} | {_fmt(row.mean(row.pesq))} | "
                     f"{_fmt(row.mean(row.stoi), 3)} | {mos} | {_fmt(row.mops)} | {_fmt(row.mean(row.clean_in))} |")
    return lines


@dataclass(frozen=True)
class Goal:
    goal: str
    measured: str
    met: bool | None  # None: a row it needs was not measured


def versus(a: float, b: float, digits: int = 2) -> str:
    """"a vs b", with as many more decimals as it takes for a real difference not to print as a tie."""
    while f"{a:.{digits}f}" == f"{b:.{digits}f}" and a != b and digits < 6:
        digits += 1
    return f"{a:.{digits}f} vs {b:.{digits}f}"


def goals(rows: dict[str, Row], dense: str, pruned: str, frugal: str, noisy: str = "noisy input") -> list[Goal]:
    """The issue's targets, judged from this run's numbers only."""
    def value(name: str, what: Callable[[Row], float | None]) -> float | None:
        return what(rows[name]) if name in rows else None

    si = lambda r: r.mean_si_snri()  # noqa: E731
    d, official, rnnoise = value(dense, si), value(OFFICIAL, si), value("RNNoise", si)
    d_high = value(dense, lambda r: r.mean_si_snri("≥12"))
    d_clean = value(dense, lambda r: r.mean(r.clean_in))
    d_stoi, n_stoi = value(dense, lambda r: r.mean(r.stoi)), value(noisy, lambda r: r.mean(r.stoi))
    p, p_mops, o_mops = value(pruned, si), value(pruned, lambda r: r.mops), value(OFFICIAL, lambda r: r.mops)
    f, f_mops = value(frugal, si), value(frugal, lambda r: r.mops)

    def judged(goal: str, needed: list[float | None], measured: Callable[[], str],
               met: Callable[[], bool]) -> Goal:
        if any(v is None for v in needed):
            return Goal(goal, "not measured", None)
        return Goal(goal, measured(), met())

    return [
        judged(f"{dense} SI-SNRi ≥ official baseline + 1.0 dB", [d, official],
               lambda: f"{d:.2f} vs {official:.2f} + 1.0", lambda: d >= official + 1.0),
        judged(f"{dense} SI-SNRi ≥ RNNoise", [d, rnnoise], lambda: versus(d, rnnoise),
               lambda: d >= rnnoise),
        judged(f"{dense} at input SNR ≥ 12 dB: SI-SNRi ≥ −1 dB", [d_high], lambda: f"{d_high:.2f}",
               lambda: d_high >= -1.0),
        judged(f"{dense} clean speech in → ≥ 25 dB SI-SNR out", [d_clean], lambda: f"{d_clean:.2f}",
               lambda: d_clean >= 25.0),
        judged(f"{dense} STOI ≥ noisy input's", [d_stoi, n_stoi], lambda: versus(d_stoi, n_stoi, 3),
               lambda: d_stoi >= n_stoi),
        judged(f"{pruned} SI-SNRi ≥ official at ≤ ⅓ of its M-Ops/s", [p, official, p_mops, o_mops],
               lambda: f"{versus(p, official)} dB; {p_mops:.2f} vs {o_mops:.2f}/3 = {o_mops / 3:.2f} M-Ops/s",
               lambda: p >= official and p_mops <= o_mops / 3),
        judged(f"{frugal} ≤ 3 M-Ops/s within 0.5 dB of {dense}", [f, d, f_mops],
               lambda: f"{f_mops:.2f} M-Ops/s; {f:.2f} vs {d:.2f} dB ({f - d:+.2f})",
               lambda: f_mops <= 3.0 and f >= d - 0.5),
    ]


def goals_table(found: list[Goal]) -> list[str]:
    lines = ["| goal | measured | met |", "| --- | --- | --- |"]
    for g in found:
        lines.append(f"| {g.goal} | {g.measured} | {'–' if g.met is None else 'yes' if g.met else 'NO'} |")
    return lines


def default_specs() -> list[str]:
    shipped = sorted((e for e in list_models() if e.origin == "shipped"),  # dense first, cheapest last
                     key=lambda e: (not e.is_default, -(e.measured or (0.0, 0.0))[1], e.name))
    shipped = [str(e.path) for e in shipped]
    refs = [str(REFERENCE_DIR / f"{name}.net") for name in REFERENCE_NETS if (REFERENCE_DIR / f"{name}.net").is_file()]
    return shipped + refs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noisy", type=Path, default=HELD_OUT / "noisy", help=f"default: {HELD_OUT}/noisy")
    parser.add_argument("--clean", type=Path, default=HELD_OUT / "clean", help=f"default: {HELD_OUT}/clean")
    parser.add_argument("--model", action="append", help="library name or netx file (repeatable)")
    parser.add_argument("--backend", default="dense", choices=("dense", "sparse"),
                        help="SDNN backend (the same numbers; sparse is faster)")
    parser.add_argument("--limit", type=int, help="score only N pairs, spread over the set")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        models = [resolve_model(spec) for spec in (args.model or default_specs())]
    except SpandexError as exc:  # a model that is not there or not a model: one line, as the CLI says it
        parser.error(str(exc))
    for folder in (args.noisy, args.clean):
        if not folder.is_dir():
            parser.error(f"{folder} is not a folder: pass --noisy/--clean, or build the dataset (its test_set) "
                         "with scripts/build_training_data.sh")
    try:
        check_pair_folders(args.noisy, args.clean)  # a split its dataset's last build did not finish (the held-out)
        all_pairs = pair_files(args.noisy, args.clean)
    except SpandexError as exc:
        parser.error(str(exc))
    pairs = pick(all_pairs, args.limit)
    missing_references = [] if args.model else [name for name in REFERENCE_NETS
                                                if not (REFERENCE_DIR / f"{name}.net").is_file()]
    rows: list[Row] = [Row("noisy input", None)]
    for model in models:
        run, totals = sdnn_run(model, args.backend)
        rows.append(Row(model.name, run, totals=totals))
    baselines = available_baselines()
    for name, baseline in baselines.items():
        if callable(baseline):
            rows.append(Row(name, lambda audio, b=baseline: (b(audio), None)))
    mos = DNSMOS()

    band_counts = dict.fromkeys((name for name, _, _ in SNR_BANDS), 0)
    audio_seconds = 0.0
    started = time.perf_counter()
    for index, pair in enumerate(pairs):
        noisy, clean = load_pair(pair)
        n = len(noisy)
        band = snr_band(input_snr(clean, noisy))
        band_counts[band] += 1
        audio_seconds += n / SAMPLE_RATE
        for row in rows:
            score_clip(row, clean, noisy, band, mos)
        print(f"{index + 1}/{len(pairs)} {pair.noisy.name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    by_name = {row.name: row for row in rows}
    entry = default_model()
    dense = entry.name if entry is not None else "spandex-dense"
    bands = ", ".join(f"{name} dB: {count}" for name, count in band_counts.items())
    lines = [
        f"Held-out set {args.noisy}: {len(pairs)} of {len(all_pairs)} pairs, {audio_seconds / 60:.1f} min "
        f"(clips by input SNR — {bands}). SDNN backend: {args.backend}. All numbers measured in this run.",
        "",
        *results_table(rows),
        "",
        *([f"{OFFICIAL}: the official Intel N-DNS baseline SDNN; spandex_prune50/75: the SPANDEX write-up's "
           "pruned networks (both from ../shared/reference_models)."] if OFFICIAL in by_name else []),
        "SI-SNRi by band: clips whose measured input SNR falls in the band. Quiet mic: SI-SNRi of the same clips at "
        f"{QUIET_DBFS:g} dBFS. PESQ, STOI and DNSMOS (SIG speech, BAK background, OVRL overall; 1-5): of the output "
        "on noisy input. M-Ops/s: the N-DNS power proxy (SynOps + 10 NeuronOps a frame) as counted in this run. "
        "Clean in → out: SI-SNR of the output when the clean speech alone goes in (how much the model harms it).",
        "",
        "Targets (issue 11), judged from the table above:",
        "",
        *goals_table(goals(by_name, dense, "spandex-prune75", "spandex-frugal")),
    ]
    unavailable = [f"{name}: {why}" for name, why in baselines.items() if not callable(why)]
    unavailable += [f"{name}: no {REFERENCE_DIR / (name + '.net')} (the reference networks are read from "
                    f"../shared/reference_models beside the repository)" for name in missing_references]
    if unavailable:
        lines += ["", "Not run: " + "; ".join(unavailable)]
    report = "\n".join(lines)
    print(report)
    if args.out:
        write_text_atomic(args.out, report + "\n")


if __name__ == "__main__":
    main()
