"""``spandex data build``: make noisy/clean training and validation pairs (N-DNS layout) from audio folders."""

from __future__ import annotations

import argparse

from cli.progress import ProgressBar
from engine.training.dataset_builder import MixSpec, SplitSources, build_dataset
from engine.training.sources import check_disjoint, hold_out, scan_groups


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="build training data",
                                   description="Training data: `spandex data build OUT ...`.")
    commands = parser.add_subparsers(metavar="ACTION", required=True)
    build = commands.add_parser(
        "build", help="mix clean speech and noise into noisy/clean pairs (N-DNS layout)",
        description="Mix clean speech with noise into OUT/training_set and OUT/validation_set, each with "
                    "clean/, noise/ and noisy/ folders named as the N-DNS synthesizer names them. Every "
                    "subfolder of a speech or noise folder is one group (a speaker, a noise kind); validation "
                    "uses groups that training never sees: give --val-speech/--val-noise, or a fraction of "
                    "the groups is held out.")
    build.add_argument("output", metavar="OUT", help="dataset folder to create")
    build.add_argument("--speech", nargs="+", required=True, metavar="DIR", help="clean speech for training")
    build.add_argument("--noise", nargs="+", required=True, metavar="DIR", help="noise for training")
    build.add_argument("--val-speech", nargs="+", metavar="DIR", help="clean speech of other speakers")
    build.add_argument("--val-noise", nargs="+", metavar="DIR", help="other noise recordings")
    build.add_argument("--val-fraction", type=float, default=0.15,
                       help="share of groups held out when no --val-* folder is given (default 0.15)")
    build.add_argument("--train-clips", type=int, default=2400, help="training clips (default 2400)")
    build.add_argument("--val-clips", type=int, default=96, help="validation clips (default 96)")
    build.add_argument("--clip-seconds", type=float, default=6.0)
    build.add_argument("--snr", nargs=2, type=int, default=(-5, 20), metavar=("LOW", "HIGH"),
                       help="SNR range in dB, integers (N-DNS: -5 20)")
    build.add_argument("--level", nargs=2, type=int, default=(-35, -15), metavar=("LOW", "HIGH"),
                       help="target RMS level range in dBFS (N-DNS: -35 -15)")
    build.add_argument("--no-synthetic-noise", action="store_true",
                       help="do not add generated noise (white, pink, brown, hum, fan, babble) to training")
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    spec = MixSpec(clip_seconds=args.clip_seconds, snr_db=tuple(args.snr), level_dbfs=tuple(args.level))
    speech = scan_groups(args.speech, "training speech")
    noise = scan_groups(args.noise, "training noise")
    if args.val_speech:
        val_speech = scan_groups(args.val_speech, "validation speech")
    else:
        speech, val_speech = hold_out(speech, args.val_fraction, args.seed, "speech")
    if args.val_noise:
        val_noise = scan_groups(args.val_noise, "validation noise")
    else:
        noise, val_noise = hold_out(noise, args.val_fraction, args.seed, "noise")
    check_disjoint(speech, val_speech, "speech")
    check_disjoint(noise, val_noise, "noise")
    for role, groups in (("training speech", speech), ("training noise", noise),
                         ("validation speech", val_speech), ("validation noise", val_noise)):
        print(f"{role}: {len(groups)} groups, {sum(len(g.files) for g in groups)} files "
              f"({', '.join(g.name for g in groups)})")
    splits = {
        "train": SplitSources(speech, noise, args.train_clips, synthetic_noise=not args.no_synthetic_noise),
        "validation": SplitSources(val_speech, val_noise, args.val_clips),
    }
    bars: dict[str, ProgressBar] = {}

    def progress(split: str, done: int, total: int) -> None:
        bar = bars.setdefault(split, ProgressBar(f"{split} clips"))
        bar.update(done, total)
        if done == total:
            bar.close()

    out = build_dataset(args.output, splits, spec, seed=args.seed, progress=progress)
    print(f"dataset ready in {out} ({args.train_clips} training and {args.val_clips} validation clips of "
          f"{args.clip_seconds:g} s)")
    return 0
