"""Engine speed, side by side in one run: the streaming dense engine vs. lava-dl SLAYER's batch forward.

For each reference network, on the same real noisy speech (tests/corpus.py), it prints µs per frame
(median and p99 of the streaming step; SLAYER's whole-sequence forward divided by its frames), SynOps
per frame, and the ratio. Run: ``.venv/bin/python bench/engine.py [--seconds 20]``.

The reference networks are read from ../shared/reference_models (never copied into the repository).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.backends import prepare  # noqa: E402
from engine.netx_io import load_model  # noqa: E402
from engine.stft import HOP, StreamingSTFT  # noqa: E402
from engine.telemetry import RunTotals  # noqa: E402
from tests import corpus  # noqa: E402
from tests.slayer_reference import slayer_masks, slayer_network  # noqa: E402

REFERENCE_DIR = REPO.parent / "shared" / "reference_models"
NETS = ("ndns_baseline", "spandex_prune50", "spandex_prune75")


def magnitudes(audio: np.ndarray) -> np.ndarray:
    """(frames, bins) |STFT| exactly as the streaming denoiser computes it."""
    stft, frames = StreamingSTFT(), []
    for hop in audio[: len(audio) // HOP * HOP].reshape(-1, HOP):
        spectrum = stft.push(hop)
        if spectrum is not None:
            frames.append(np.abs(spectrum))
    return np.array(frames)


def time_streaming(model, frames: np.ndarray) -> tuple[np.ndarray, RunTotals]:
    runner = prepare(model, "dense")
    for frame in frames[:50]:  # warm up caches and BLAS
        runner.step(frame)
    runner.reset()
    times, totals = np.empty(len(frames)), RunTotals(layer_sizes=model.neuron_counts[:-1])
    for i, frame in enumerate(frames):
        start = time.perf_counter_ns()
        _, telemetry = runner.step(frame)
        times[i] = time.perf_counter_ns() - start
        totals.add(telemetry)
    return times / 1e3, totals


def time_slayer(model, frames: np.ndarray, repeats: int = 3) -> float:
    network = slayer_network(model, torch.float32)
    magnitude = frames.T.astype(np.float32)
    slayer_masks(network, magnitude[:, :50], torch.float32)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        slayer_masks(network, magnitude, torch.float32)
        best = min(best, time.perf_counter() - start)
    return best / len(frames) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of noisy speech to run")
    args = parser.parse_args()
    speech = corpus.joined_speech(corpus.speech_files(), args.seconds)
    noisy, _ = corpus.typing_noise_mix(speech, corpus.keyboard_files())
    frames = magnitudes(noisy)
    print(f"{len(frames)} frames of real noisy speech; torch threads {torch.get_num_threads()}\n")
    header = (f"{'network':<18} {'weights=0':>9} {'SynOps/frame':>12} {'dense-style':>11} {'M-Ops/s':>7} "
              f"{'dense median µs':>15} {'dense p99 µs':>12} {'slayer batch µs':>15} {'dense/slayer':>12}")
    print(header)
    print("-" * len(header))
    for name in NETS:
        model = load_model(REFERENCE_DIR / f"{name}.net")
        times, totals = time_streaming(model, frames)
        slayer_us = time_slayer(model, frames)
        median, p99 = np.median(times), np.percentile(times, 99)
        print(f"{name:<18} {model.weight_sparsity:9.1%} {totals.synops_per_frame:12.0f} "
              f"{totals.synops_dense_per_frame:11.0f} {totals.power_proxy_mops:7.2f} {median:15.1f} {p99:12.1f} "
              f"{slayer_us:15.1f} {median / slayer_us:12.2f}")
    print("\nSynOps = events x nonzero fan-out; dense-style = events x full fan-out (N-DNS count); "
          "M-Ops/s = (SynOps + 10 NeuronOps) / 8 ms.")
    print("dense = the streaming engine, one frame per call (what live audio needs); slayer batch = lava-dl's "
          "forward over the whole sequence at once, per frame (offline only).")


if __name__ == "__main__":
    main()
