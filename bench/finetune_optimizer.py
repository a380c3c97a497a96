"""Which optimiser and learning rate make a short fine-tune of an 8-bit model do something.

An 8-bit weight changes only when its latent float value moves half a quantisation step (1/64) away from
the grid point it starts on. This runs N steps of the real trainer (:class:`engine.training.trainer._Run`)
from a pruned model for each (optimiser, learning rate) and prints, side by side in one run: how many
quantised weights changed, the loss on a fixed held-back batch before and after, and the seconds taken.

    python bench/finetune_optimizer.py [--model spandex-prune75] [--dataset build/data/small] [--steps 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.training.config import TrainConfig  # noqa: E402
from engine.training.dataset import PairedClips  # noqa: E402
from engine.training.dataset_layout import split_folder  # noqa: E402
from engine.training.loss import denoise_batch, ndns_loss, stft  # noqa: E402
from engine.training.trainer import _Run  # noqa: E402

CANDIDATES = [("radam", 1e-3), ("adam", 1e-3), ("adam", 3e-3), ("adam", 1e-2), ("adam", 3e-2)]


def fixed_batch_loss(run: _Run, noisy: torch.Tensor, clean: torch.Tensor) -> float:
    with torch.no_grad():
        spectrum = stft(noisy)
        out = run.graph(spectrum.abs())
        denoised, magnitude = denoise_batch(out.mask, spectrum, noisy.shape[-1])
        loss, _ = ndns_loss(clean, denoised, stft(clean).abs(), magnitude, run.config.mse_weight)
    return float(loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="spandex-prune75")
    parser.add_argument("--dataset", default="build/data/small")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--segment-seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips = PairedClips.load(split_folder(args.dataset, "train"), compact=True)
    samples = int(args.segment_seconds * 16000) // 128 * 128
    held_noisy, held_clean = clips.batch(np.random.default_rng(12345), 16, samples)
    print(f"{args.steps} steps of batch {args.batch_size} x {args.segment_seconds:g} s from {args.model}; "
          f"fixed batch: 16 x {args.segment_seconds:g} s\n")
    print("| optimiser | lr | weights changed | loss before | loss after | change | s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for optimizer, lr in CANDIDATES:
        config = TrainConfig(name="bench", dataset=args.dataset, init=args.model, steps=args.steps,
                             batch_size=args.batch_size, segment_seconds=args.segment_seconds,
                             learning_rate=lr, optimizer=optimizer, threads=1, seed=0)
        with tempfile.TemporaryDirectory() as folder:
            run = _Run(config, Path(folder), lambda event: None)
            before_model = run.graph.to_model()
            before = fixed_batch_loss(run, held_noisy, held_clean)
            start = time.perf_counter()
            for _ in range(args.steps):
                run.train_step(clips, samples)
            seconds = time.perf_counter() - start
            after = fixed_batch_loss(run, held_noisy, held_clean)
            after_model = run.graph.to_model()
        changed = sum(int(np.count_nonzero(a.weight_mant != b.weight_mant))
                      for a, b in zip(before_model.layers, after_model.layers))
        print(f"| {optimizer} | {lr:g} | {changed:,} | {before:.3f} | {after:.3f} | {after - before:+.3f} | "
              f"{seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
