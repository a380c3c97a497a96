"""Training-step speed on CPU, side by side in one run: lava-dl SLAYER's N-DNS graph vs. SPANDEX's SDNNGraph.

One step = forward, N-DNS loss, backward and RAdam update of the 257-512-512-257 network from
ndns_baseline.net, on random segments of real noisy speech (tests/corpus.py). For each batch x segment
length and torch thread count it prints seconds per step, milliseconds per audio frame and the speed-up.
The two graphs compute the same forward values and gradients (tests/test_training_graph.py).

    .venv/bin/python bench/training_step.py [--repeats 3] [--quick]

The machine is shared and noisy: read the ratios, measured back to back, more than absolute times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import engine.training  # noqa: E402,F401  (first: it sets passive OpenMP waiting before torch loads)
from engine.constants import HOP  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
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


def step_seconds(graph, forward, noisy, clean, repeats: int) -> float:
    optimizer = torch.optim.RAdam([p for p in graph.parameters() if p.requires_grad], lr=1e-3)
    samples = noisy.shape[-1]
    best = np.inf
    for attempt in range(repeats + 1):  # the first is a warm-up
        start = time.perf_counter()
        spectrum, clean_spectrum = stft(noisy), stft(clean)
        y = forward(spectrum.abs())
        denoised, magnitude = denoise_batch(torch.relu(y + 1), spectrum, samples)
        loss, _ = ndns_loss(clean, denoised, clean_spectrum.abs(), magnitude, 0.001)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(graph.parameters(), 10.0)
        optimizer.step()
        if attempt:
            best = min(best, time.perf_counter() - start)
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
    print(f"{'threads':>7} {'batch':>5} {'segment':>7} {'frames':>6} {'slayer s/step':>13} {'graph s/step':>12} "
          f"{'slayer ms/fr':>12} {'graph ms/fr':>11} {'speed-up':>8}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch, seconds in shapes:
            samples = int(seconds * 16000) // HOP * HOP
            starts = rng.integers(0, noisy_all.size - samples, batch)
            noisy = torch.from_numpy(np.stack([noisy_all[s:s + samples] for s in starts]))
            clean = torch.from_numpy(np.stack([clean_all[s:s + samples] for s in starts]))
            frames = batch * (samples // HOP + 1)
            slayer = SlayerGraph(model)
            graph = SDNNGraph.from_model(model)
            t_slayer = step_seconds(slayer, slayer, noisy, clean, args.repeats)
            t_graph = step_seconds(graph, lambda m, graph=graph: graph(m).y, noisy, clean, args.repeats)
            print(f"{threads:7d} {batch:5d} {seconds:6.1f}s {frames:6d} {t_slayer:13.2f} {t_graph:12.2f} "
                  f"{t_slayer / frames * 1e3:12.3f} {t_graph / frames * 1e3:11.3f} {t_slayer / t_graph:7.1f}x")
    print("\nOne step: STFT, forward, N-DNS loss (100 - SI-SNR + 0.001 MSE), backward, clip, RAdam. Best of "
          f"{args.repeats} after a warm-up.")


if __name__ == "__main__":
    main()
