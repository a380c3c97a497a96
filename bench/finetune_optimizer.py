"""Which optimiser and learning rate make a short fine-tune of an 8-bit model do something, and do no harm.

An 8-bit weight changes only when its latent float value moves half a quantisation step (1/64) away from
the grid point it starts on. This runs N steps of the real trainer (:class:`engine.training.trainer._Run`, the
settings of `spandex finetune` but for the candidates' optimiser and rate) from a pruned model for each
(optimiser, learning rate) and prints, side by side in one run: how many quantised weights changed, the loss on a
fixed held-back batch before and after, and, with ``--validation-clips``, the SI-SNRi on that many clips of the
dataset's validation split before and after (other speakers and recordings than the batches: what a user's model
keeps), and the seconds taken.

    python bench/finetune_optimizer.py [--model spandex-prune75] [--dataset build/data/small] [--steps 30]
        [--validation-clips 0] [--candidates adam:3e-3 adam:1e-3 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.library.catalog import model_file  # noqa: E402
from engine.training.dataset import PairedClips  # noqa: E402
from engine.training.dataset_layout import split_folder  # noqa: E402
from engine.training.loss import denoise_batch, ndns_loss, stft  # noqa: E402
from engine.training.recipes import fine_tune_config  # noqa: E402
from engine.training.trainer import _Run, load_training_data  # noqa: E402
from engine.training.validation import validate  # noqa: E402

CANDIDATES = [("radam", 1e-3), ("adam", 1e-3), ("adam", 3e-3), ("adam", 1e-2), ("adam", 3e-2)]


def fixed_batch_loss(run: _Run, noisy: torch.Tensor, clean: torch.Tensor) -> float:
    with torch.no_grad():
        spectrum = stft(noisy)
        out = (run.average.graph if run.average is not None else run.graph)(spectrum.abs())  # what it exports
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
    parser.add_argument("--validation-clips", type=int, default=0,
                        help="also SI-SNRi on the first N clips of the validation split, before and after (0: not)")
    parser.add_argument("--candidates", nargs="+", metavar="OPTIMIZER:LR[:WARMUP[:AVERAGE[:ANCHOR]]]",
                        help="e.g. adam:3e-3 radam:1e-3 adam:3e-3:10 (10 warm-up steps) adam:3e-3:0:0.95 (weights "
                             "averaged, decay 0.95) adam:3e-3:0:0:0.5 (the starting model as its own teacher, 50 %% "
                             "of the loss); default: " + " ".join(f"{o}:{r:g}" for o, r in CANDIDATES))
    parser.add_argument("--mixing", type=json.loads, metavar="JSON",
                        help='the fresh mixtures\' recipe, e.g. \'{"clean_share": 0.03}\' (default: the run\'s)')
    args = parser.parse_args()
    candidates = [(o, r, 0, None, None) for o, r in CANDIDATES] if not args.candidates else [_candidate(c)
                                                                                            for c in args.candidates]
    if any(anchor is not None and anchor >= 1 for *_, anchor in candidates):
        parser.error("an ANCHOR must be under 1: at 1 the model would learn nothing but itself")
    torch.set_num_threads(1)
    train = load_training_data(fine_tune_config(args.model, "bench", None, dataset=args.dataset,
                                                **({"mixing": args.mixing} if args.mixing else {})), lambda e: None)
    samples = int(args.segment_seconds * 16000) // 128 * 128
    held_noisy, held_clean = train.batch(np.random.default_rng(12345), 16, samples)
    validation = (PairedClips.load(split_folder(args.dataset, "validation"), limit=args.validation_clips)
                  if args.validation_clips else None)
    print(f"{args.steps} steps of batch {args.batch_size} x {args.segment_seconds:g} s from {args.model} on "
          f"{args.dataset}; fixed batch: 16 x {args.segment_seconds:g} s"
          + (f"; validation: {len(validation)} clips" if validation is not None else "") + "\n")
    print("| optimiser | lr | warm-up steps | averaged | anchored | weights changed | loss before | loss after | change | "
          "validation SI-SNRi before → after dB | s |")
    print("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for optimizer, lr, warmup, average, anchor in candidates:
        # anchored: the starting model is its own teacher (`spandex finetune MODEL --teacher MODEL`; not the default),
        # at the candidate's weight; not anchored: no teacher at all
        teacher = {"teacher": str(model_file(args.model)), "teacher_weight": anchor} if anchor else {"teacher": None}
        config = fine_tune_config(args.model, "bench", None, dataset=args.dataset, steps=args.steps,
                                  batch_size=args.batch_size, segment_seconds=args.segment_seconds,
                                  learning_rate=lr, final_learning_rate=lr / 10, optimizer=optimizer, threads=1,
                                  seed=0, warmup_steps=warmup, weight_average=average, **teacher,
                                  **({"mixing": args.mixing} if args.mixing else {}))
        with tempfile.TemporaryDirectory() as folder:
            run = _Run(config, Path(folder), lambda event: None)
            before_model = run.graph.to_model()
            before = fixed_batch_loss(run, held_noisy, held_clean)
            start = time.perf_counter()
            for _ in range(args.steps):
                run.train_step(train, samples)
            seconds = time.perf_counter() - start
            after_model = run.exported("bench")  # what the run exports (the average, where it keeps one)
            after = fixed_batch_loss(run, held_noisy, held_clean)
            run.stop_prefetching()
        changed = sum(int(np.count_nonzero(a.weight_mant != b.weight_mant))
                      for a, b in zip(before_model.layers, after_model.layers))
        kept = "–" if validation is None else (f"{validate(before_model, validation).si_snri:.2f} → "
                                               f"{validate(after_model, validation).si_snri:.2f}")
        print(f"| {optimizer} | {lr:g} | {warmup} | {average or 'no'} | {anchor or 'no'} | {changed:,} | {before:.3f} | {after:.3f} | "
              f"{after - before:+.3f} | {kept} | {seconds:.1f} |", flush=True)


def _candidate(text: str) -> tuple[str, float, int, float | None, float | None]:
    """``OPTIMIZER:LR[:WARMUP[:AVERAGE[:ANCHOR]]]`` as (optimizer, rate, warm-up steps, averaging decay or None,
    the starting model's weight as its own teacher or None)."""
    parts = text.split(":")
    return (parts[0], float(parts[1]), int(parts[2]) if len(parts) > 2 else 0,
            float(parts[3]) if len(parts) > 3 and float(parts[3]) > 0 else None,
            float(parts[4]) if len(parts) > 4 and float(parts[4]) > 0 else None)


if __name__ == "__main__":
    main()
