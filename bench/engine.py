"""Engine speed, side by side in one run: lava-dl SLAYER batch, the dense and the sparse streaming backends.

On the same real noisy speech (tests/corpus.py) and for each network — the official N-DNS baseline,
SPANDEX's 50% and 75% pruned nets, and the baseline pruned here by global weight magnitude to 90% and
95% (no fine-tuning: real sparse nets, not good denoisers) — it prints per frame: SynOps, the streaming
step's median and p99 µs for dense and sparse (``runner.step`` timed from outside, telemetry included),
SLAYER's whole-sequence forward divided by its frames, ns per SynOp, the dense/sparse ratio and the
memory each streaming runner allocates for the model. Then it shows that the sparse step's time follows
the SynOps each frame performs, and the dense step's does not.

Both streaming backends run every frame through in turns (``--passes`` times each), so a machine that
gets busier affects both alike. Then, in the same run, the Lava backend (bench/lava_backend.py's
measurement) on the first ``--lava-frames`` frames — lava-nc's stock DelayDense process model on the
baseline (``--lava-stock-frames``), SPANDEX's on the three reference nets — in ms per step beside the
dense and sparse backends' ms per step on the same nets. Run: ``.venv/bin/python bench/engine.py
[--seconds 20] [--passes 3] [--lava-frames 100] [--lava-stock-frames 10]`` (``--lava-frames 0``: no Lava).
The reference networks are read from ../shared/reference_models (never copied into the repository).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.lava_backend import HOP_MS, LAVA_NETWORKS, lava_rows  # noqa: E402
from engine.backends import prepare  # noqa: E402
from engine.dsp.stft import streamed_magnitudes  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.snn.model import DenseLayer, SDNNModel  # noqa: E402
from tests import corpus  # noqa: E402
from tests.slayer_reference import slayer_masks, slayer_network  # noqa: E402

REFERENCE_DIR = REPO.parent / "shared" / "reference_models"
BACKENDS = ("dense", "sparse")


def magnitude_pruned(model: SDNNModel, sparsity: float) -> SDNNModel:
    """``model`` with its smallest-magnitude weights, over all layers together, set to zero until a
    ``sparsity`` fraction of all weights is zero (global unstructured magnitude pruning, one shot)."""
    flat = np.concatenate([np.abs(layer.weight_mant).ravel() for layer in model.layers])
    prune = np.zeros(flat.size, dtype=bool)
    prune[np.argsort(flat, kind="stable")[: int(round(sparsity * flat.size))]] = True
    layers, start = [], 0
    for layer in model.layers:
        weight = layer.weight_mant.copy()
        weight[prune[start:start + weight.size].reshape(weight.shape)] = 0
        start += weight.size
        layers.append(DenseLayer(weight, layer.threshold_mant, layer.delays, layer.sigma_output))
    return SDNNModel(model.encoder, tuple(layers), name=f"baseline pruned {sparsity:.0%}")


def networks() -> list[tuple[str, SDNNModel]]:
    baseline = load_model(REFERENCE_DIR / "ndns_baseline.net")
    return [
        ("ndns_baseline", baseline),
        ("spandex_prune50", load_model(REFERENCE_DIR / "spandex_prune50.net")),
        ("spandex_prune75", load_model(REFERENCE_DIR / "spandex_prune75.net")),
        ("baseline_prune90", magnitude_pruned(baseline, 0.90)),
        ("baseline_prune95", magnitude_pruned(baseline, 0.95)),
    ]


def runner_bytes(model: SDNNModel, backend: str) -> int:
    """Bytes a runner allocates and keeps for ``model`` (weights as it stores them, state, buffers).

    Measured with tracemalloc, which sees numpy's allocations; the first ``prepare`` compiles or loads
    numba's code, so only a second one is measured.
    """
    prepare(model, backend)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    runner = prepare(model, backend)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del runner
    return kept


def step_times(runner, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One pass from a reset: each frame's ``runner.step`` time (µs) and SynOps."""
    runner.reset()
    us, synops = np.empty(len(frames)), np.empty(len(frames), dtype=np.int64)
    for i, frame in enumerate(frames):
        start = time.perf_counter_ns()
        _, telemetry = runner.step(frame)
        us[i] = (time.perf_counter_ns() - start) / 1e3
        synops[i] = telemetry.synops
    return us, synops


def slayer_us_per_frame(network: torch.nn.Module, magnitude: np.ndarray) -> float:
    """µs per frame of SLAYER's forward over a whole (bins, frames) float32 sequence at once."""
    start = time.perf_counter()
    slayer_masks(network, magnitude, torch.float32)
    return (time.perf_counter() - start) / magnitude.shape[1] * 1e6


def measure(nets: list[tuple[str, SDNNModel]], frames: np.ndarray, passes: int) -> dict[str, dict]:
    """Per network: step times and SynOps per streaming backend, SLAYER's best batch time.

    Every pass runs every network on every backend in turn, so that a machine getting busier or quieter
    during the run affects all rows alike.
    """
    runners = {name: {b: prepare(model, b) for b in BACKENDS} for name, model in nets}
    slayers = {name: slayer_network(model, torch.float32) for name, model in nets}
    magnitude = frames.T.astype(np.float32)
    results = {name: {"us": {b: [] for b in BACKENDS}, "synops": None, "slayer_us": np.inf} for name, _ in nets}
    for name, _ in nets:  # warm up caches, BLAS, the JIT and torch
        for runner in runners[name].values():
            step_times(runner, frames[:50])
        slayer_masks(slayers[name], magnitude[:, :50], torch.float32)
    for _ in range(passes):
        for name, _ in nets:
            for backend, runner in runners[name].items():
                us, synops = step_times(runner, frames)
                results[name]["us"][backend].append(us)
                if results[name]["synops"] is None:
                    results[name]["synops"] = synops
                assert np.array_equal(synops, results[name]["synops"]), "backends disagree on SynOps"
            slayer_us = slayer_us_per_frame(slayers[name], magnitude)
            results[name]["slayer_us"] = min(results[name]["slayer_us"], slayer_us)
    for result in results.values():
        result["us"] = {b: np.concatenate(times) for b, times in result["us"].items()}
        result["synops"] = np.tile(result["synops"], passes)
    return results


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """A Markdown table, aligned for the terminal too."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("| " + " | ".join(h.rjust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |")


def print_synops_scaling(results: list[dict]) -> None:
    """Time per frame against SynOps per frame, all networks' frames pooled, in SynOps deciles.

    The line is fitted to the deciles' medians and the correlation is Spearman's (ranks): both robust
    to the few frames a busy machine stretches by milliseconds.
    """
    synops = np.concatenate([r["synops"] for r in results])
    edges = np.unique(np.percentile(synops, np.linspace(0, 100, 11)))
    bins = np.clip(np.searchsorted(edges, synops, side="right") - 1, 0, len(edges) - 2)
    us = {name: np.concatenate([r["us"][name] for r in results]) for name in BACKENDS}
    rows, medians = [], {name: [] for name in ("synops", *BACKENDS)}
    for b in range(len(edges) - 1):
        inside = bins == b
        medians["synops"].append(np.median(synops[inside]))
        row = [f"{edges[b]:.0f}–{edges[b + 1]:.0f}", f"{inside.sum()}"]
        for name in BACKENDS:
            medians[name].append(np.median(us[name][inside]))
            row.append(f"{medians[name][-1]:.1f}")
        rows.append(row)
    print_table(["SynOps/frame", "frames", "dense median µs", "sparse median µs"], rows)
    print()
    for name in BACKENDS:
        slope, intercept = np.polyfit(medians["synops"], medians[name], 1)
        rho = spearmanr(synops, us[name]).statistic
        print(f"{name:>6}: median µs/frame ≈ {intercept:.1f} + {slope * 1e3:.2f} ns × SynOps; "
              f"Spearman ρ(SynOps, µs) = {rho:.2f} over {synops.size} frames")


def print_lava_table(nets: list[tuple[str, SDNNModel]], results: dict[str, dict], frames: np.ndarray,
                     lava_frames: int, stock_frames: int) -> None:
    """ms per step of the Lava backend (both DelayDense process models) beside dense and sparse, all on the
    same first ``lava_frames`` frames (dense and sparse: their steps on those frames in every pass above)."""
    models = {name: model for name, model in nets if name in LAVA_NETWORKS}
    lava = lava_rows(models, frames, lava_frames, stock_frames)
    rows = []
    for name in models:
        for backend in BACKENDS:
            per_pass = results[name]["us"][backend].reshape(-1, len(frames))
            rows.append((name, backend, per_pass[:, :lava_frames].ravel() / 1e3, "—"))
        rows.extend((r.network, f"lava ({r.label} DelayDense)", r.step_ms, f"{r.cpu_ms:.1f}")
                    for r in lava if r.network == name)
    print_table(["network", "backend", "steps", "median ms/step", "p90 ms", "CPU ms/step", "× real time"],
                [[name, backend, f"{ms.size}", f"{np.median(ms):.2f}", f"{np.percentile(ms, 90):.2f}", cpu,
                  f"{HOP_MS / np.median(ms):.2g}"] for name, backend, ms, cpu in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of noisy speech to run")
    parser.add_argument("--passes", type=int, default=3, help="passes over the speech per streaming backend")
    parser.add_argument("--lava-frames", type=int, default=100,
                        help="frames per network on the Lava backend with SPANDEX's DelayDense (0: no Lava rows)")
    parser.add_argument("--lava-stock-frames", type=int, default=10,
                        help="frames on lava-nc's stock DelayDense (~0.3 s each; 0: leave it out)")
    args = parser.parse_args()
    speech = corpus.joined_speech(corpus.speech_files(), args.seconds)
    noisy, _ = corpus.typing_noise_mix(speech, corpus.keyboard_files())
    frames = streamed_magnitudes(noisy)
    print(f"{len(frames)} frames ({args.seconds:g} s) of real noisy speech, {args.passes} passes per streaming "
          f"backend; {cpu_name()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"torch threads {torch.get_num_threads()}\n")
    header = ["network", "weights=0", "SynOps/frame", "slayer batch µs", "dense median µs", "dense p99 µs",
              "sparse median µs", "sparse p99 µs", "dense/sparse", "dense ns/SynOp", "sparse ns/SynOp",
              "dense MB", "sparse MB"]
    nets = networks()
    results = measure(nets, frames, args.passes)
    rows = []
    for name, model in nets:
        result = results[name]
        synops = result["synops"].mean()
        dense, sparse = result["us"]["dense"], result["us"]["sparse"]
        rows.append([
            name, f"{model.weight_sparsity:.1%}", f"{synops:.0f}", f"{result['slayer_us']:.1f}",
            f"{np.median(dense):.1f}", f"{np.percentile(dense, 99):.1f}",
            f"{np.median(sparse):.1f}", f"{np.percentile(sparse, 99):.1f}",
            f"{np.median(dense) / np.median(sparse):.2f}",
            f"{dense.mean() * 1e3 / synops:.2f}", f"{sparse.mean() * 1e3 / synops:.2f}",
            f"{runner_bytes(model, 'dense') / 2**20:.2f}", f"{runner_bytes(model, 'sparse') / 2**20:.2f}",
        ])
    print_table(header, rows)
    print(f"\nload average {os.getloadavg()[0]:.2f} at end. µs = per frame; dense/sparse = ratio of medians; "
          "ns/SynOp = mean step time / mean SynOps (fixed per-frame costs included); MB = what the runner "
          "allocates for the model (tracemalloc); slayer batch = lava-dl's forward over the whole sequence "
          "at once, per frame (offline only, float32, no p99: one call). dense and sparse give identical "
          "masks and telemetry (tests/test_sparse_backend.py).\n")
    print("Time per frame against the SynOps that frame performed (all networks' frames pooled):\n")
    print_synops_scaling(list(results.values()))
    if args.lava_frames > 0:
        print(f"\nThe Lava backend beside them (Loihi 2 fixed-point simulation on this CPU; load average "
              f"{os.getloadavg()[0]:.2f}): one step = one 8 ms hop; dense and sparse rows are this run's "
              "steps on the same first frames above; CPU ms/step counts all of Lava's processes (— : the "
              "step runs in this process only, CPU ≈ wall).\n")
        print_lava_table(nets, results, frames, args.lava_frames, args.lava_stock_frames)


if __name__ == "__main__":
    main()
