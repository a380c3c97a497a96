"""Training-step speed on CPU, side by side in one run: lava-dl SLAYER's N-DNS graph vs. SPANDEX's SDNNGraph.

One step = STFT, forward, N-DNS loss, backward and RAdam update of the 257-512-512-257 network from
ndns_baseline.net, on random segments of real noisy speech (tests/corpus.py). For each batch x segment
length and torch thread count it prints seconds per step, milliseconds per audio frame and the speed-up.
The graphs compute the same forward values and gradients (tests/test_training_graph.py); SDNNGraph is
timed twice: all products in float32, and with its backward products in bfloat16 (backward_precision).

    .venv/bin/python bench/training_step.py [--repeats 3] [--quick]

The machine is shared and noisy: read the ratios, measured back to back, more than absolute times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import engine.training  # noqa: E402,F401  (first: it sets passive OpenMP waiting before torch loads)
from engine.constants import HOP  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.training.device import backward_dtype  # noqa: E402
from engine.training.graph import SDNNGraph  # noqa: E402
from engine.training.loss import denoise_batch, ndns_loss, stft  # noqa: E402
from tests import corpus  # noqa: E402
from tests.slayer_reference import slayer_network  # noqa: E402

BASELINE = REPO.parent / "shared" / "reference_models" / "ndns_baseline.net"


class SlayerGraph(torch.nn.Module):
    """slayer's network with SDNNGraph's calling convention (magnitudes in, sigma output out)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.net = slayer_network(model, torch.float32)
        for p in self.net.parameters():
            p.requires_grad_(True)

    def forward(self, magnitude):
        return self.net(magnitude + self.net.offset)


def training_step(graph, forward, noisy, clean) -> Callable[[], None]:
    """One full training step of ``graph`` on this batch (RAdam state kept between calls)."""
    optimizer = torch.optim.RAdam([p for p in graph.parameters() if p.requires_grad], lr=1e-3)
    samples = noisy.shape[-1]

    def step() -> None:
        spectrum = stft(noisy)
        noisy_magnitude = spectrum.abs()
        y = forward(noisy_magnitude)
        denoised, magnitude = denoise_batch(torch.relu(y + 1), spectrum, samples, noisy_magnitude)
        loss, _ = ndns_loss(clean, denoised, stft(clean).abs(), magnitude, 0.001)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(graph.parameters(), 10.0)
        optimizer.step()
    return step


def best_seconds(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best wall time of each step, the steps taking turns (load changes hit all alike); one warm-up each."""
    best = dict.fromkeys(steps, np.inf)
    for attempt in range(repeats + 1):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if attempt:
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one configuration per thread count")
    args = parser.parse_args()
    model = load_model(BASELINE)
    speech = corpus.joined_speech(corpus.speech_files(), 60.0)
    noisy_all, clean_all = corpus.typing_noise_mix(speech, corpus.keyboard_files())
    shapes = [(4, 4.0)] if args.quick else [(4, 4.0), (16, 4.0)]
    rng = np.random.default_rng(0)
    bf16 = backward_dtype("bfloat16", torch.device("cpu"))
    native = backward_dtype("auto", torch.device("cpu")) is not None
    print(f"{'threads':>7} {'batch':>5} {'segment':>7} {'frames':>6} {'slayer s/step':>13} {'graph f32':>9} "
          f"{'graph bf16':>10} {'slayer ms/fr':>12} {'graph ms/fr':>11} {'f32 ×':>6} {'bf16 ×':>6}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch, seconds in shapes:
            samples = int(seconds * 16000) // HOP * HOP
            starts = rng.integers(0, noisy_all.size - samples, batch)
            noisy = torch.from_numpy(np.stack([noisy_all[s:s + samples] for s in starts]))
            clean = torch.from_numpy(np.stack([clean_all[s:s + samples] for s in starts]))
            frames = batch * (samples // HOP + 1)
            slayer = SlayerGraph(model)
            exact, mixed = SDNNGraph.from_model(model), SDNNGraph.from_model(model)
            mixed.backward_dtype = bf16
            t = best_seconds({
                "slayer": training_step(slayer, slayer, noisy, clean),
                "f32": training_step(exact, lambda m, g=exact: g(m).y, noisy, clean),
                "bf16": training_step(mixed, lambda m, g=mixed: g(m).y, noisy, clean),
            }, args.repeats)
            fastest = t["bf16"] if native else t["f32"]
            print(f"{threads:7d} {batch:5d} {seconds:6.1f}s {frames:6d} {t['slayer']:13.2f} {t['f32']:9.2f} "
                  f"{t['bf16']:10.2f} {t['slayer'] / frames * 1e3:12.3f} {fastest / frames * 1e3:11.3f} "
                  f"{t['slayer'] / t['f32']:5.1f}x {t['slayer'] / t['bf16']:5.1f}x")
    print(f"\nOne step: STFT, forward, N-DNS loss (100 - SI-SNR + 0.001 MSE), backward, clip, RAdam. Best of "
          f"{args.repeats} after a warm-up, the three taking turns. graph f32: every product in float32; graph "
          f"bf16: backward products in bfloat16 (what backward_precision 'auto' picks on this CPU: "
          f"{'yes' if native else 'no, emulated here'}); graph ms/fr is the one 'auto' picks.")


if __name__ == "__main__":
    main()
