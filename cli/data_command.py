"""``spandex data build``: make noisy/clean training and validation pairs (N-DNS layout) from audio folders."""

from __future__ import annotations

import argparse
import fnmatch
import os
import shlex
import sys

from cli.progress import ProgressBar
from engine.errors import SpandexError
from engine.training.dataset_builder import MixSpec, SplitSources, build_dataset, check_dataset_folder
from engine.training.dataset_layout import FRESH_SOURCES, SPLIT_NAMES
from engine.training.sources import (
    MIN_BACKGROUND_DB,
    background_db,
    check_disjoint,
    check_outside_sources,
    hold_out,
    scan_groups,
)


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
                    "the groups is held out. --test-speech/--test-noise add OUT/test_set, a held-out set "
                    "for reports that shares nothing with either.")
    build.add_argument("output", metavar="OUT", help="dataset folder to create")
    build.add_argument("--speech", nargs="+", required=True, metavar="DIR", help="clean speech for training")
    build.add_argument("--noise", nargs="+", required=True, metavar="DIR", help="noise for training")
    build.add_argument("--val-speech", nargs="+", metavar="DIR", help="clean speech of other speakers")
    build.add_argument("--val-noise", nargs="+", metavar="DIR", help="other noise recordings")
    build.add_argument("--test-speech", nargs="+", metavar="DIR",
                       help="clean speech of yet other speakers for a held-out OUT/test_set (for reports only)")
    build.add_argument("--test-noise", nargs="+", metavar="DIR", help="noise recordings for OUT/test_set")
    build.add_argument("--val-fraction", type=float, default=0.15,
                       help="share of groups held out when no --val-* folder is given (default 0.15)")
    build.add_argument("--train-clips", type=int, default=2400, help="training clips (default 2400)")
    build.add_argument("--val-clips", type=int, default=96, help="validation clips (default 96)")
    build.add_argument("--test-clips", type=int, default=96, help="held-out test clips (default 96)")
    build.add_argument("--clip-seconds", type=float, default=6.0)
    build.add_argument("--snr", nargs=2, type=int, default=(-5, 20), metavar=("LOW", "HIGH"),
                       help="SNR range in dB, integers (N-DNS: -5 20)")
    build.add_argument("--level", nargs=2, type=int, default=(-35, -15), metavar=("LOW", "HIGH"),
                       help="target RMS level range in dBFS (N-DNS: -35 -15)")
    build.add_argument("--no-synthetic-noise", action="store_true",
                       help="do not add generated noise (white, pink, brown, hum, fan, babble) to training")
    build.add_argument("--fresh", action="store_true",
                       help="training examples are mixed afresh at every step from the speech and noise (and "
                            "200 simulated rooms) laid out in OUT/training_sources/; no fixed training clips")
    build.add_argument("--skip-group", action="append", default=[], metavar="GLOB",
                       help="leave out speech/noise groups whose name matches GLOB (repeatable), from every "
                            "split, e.g. synthetic voices in a language the held-out test set uses")
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(run=run_build)


def _test_sources(args: argparse.Namespace, speech: tuple[list, list], noise: tuple[list, list]
                  ) -> tuple[list, list]:
    """The held-out test split's groups (none unless asked), disjoint from training and validation."""
    if not args.test_speech and not args.test_noise:
        return [], []
    if not (args.test_speech and args.test_noise):
        raise SpandexError("a held-out test set needs both --test-speech and --test-noise")
    test = (_groups(args.test_speech, "test speech", args.skip_group),
            _groups(args.test_noise, "test noise", args.skip_group))
    for role, groups, (train, validation) in (("speech", test[0], speech), ("noise", test[1], noise)):
        check_disjoint(train, groups, role, ("training", "test"))
        check_disjoint(validation, groups, role, ("validation", "test"))
    return test


SOURCE_OPTIONS = {"speech": "training speech", "noise": "training noise", "val_speech": "validation speech",
                  "val_noise": "validation noise", "test_speech": "test speech", "test_noise": "test noise"}
"""The options naming source folders -> the role their folders play (as messages name them)."""


def _groups(folders: list[str], role: str, skip: list[str]) -> list:
    """The groups in ``folders`` less those ``skip`` names; a dataset found among them is noted and left out."""
    return _without(scan_groups(folders, role, note=lambda text: print(f"note: {text}", file=sys.stderr)), skip)


def _without(groups: list, patterns: list[str]) -> list:
    """``groups`` less those whose name matches one of the glob ``patterns`` (each skip is printed)."""
    kept = [g for g in groups if not any(fnmatch.fnmatchcase(g.name, p) for p in patterns)]
    skipped = sorted({g.name for g in groups} - {g.name for g in kept})
    if skipped:
        print(f"skipped groups: {', '.join(skipped)}")
    return kept


def _check_counts(args: argparse.Namespace) -> None:
    """Clip counts and shares a build can make, said before any work (a negative count was reported as made)."""
    for option, count in (("--train-clips", args.train_clips), ("--val-clips", args.val_clips),
                          ("--test-clips", args.test_clips)):
        if count < 1 and not (option == "--train-clips" and args.fresh):
            raise SpandexError(f"{option} {count}: give at least 1 clip")
    if not 0.0 < args.val_fraction < 1.0:
        raise SpandexError(f"--val-fraction {args.val_fraction:g}: give the share of groups held out for validation, "
                           "between 0 and 1 (e.g. 0.15)")


def run_build(args: argparse.Namespace) -> int:
    _check_counts(args)
    check_dataset_folder(args.output)  # before minutes of scanning sources
    check_outside_sources(args.output, {role: getattr(args, option) for option, role in SOURCE_OPTIONS.items()
                                        if getattr(args, option)})
    spec = MixSpec(clip_seconds=args.clip_seconds, snr_db=tuple(args.snr), level_dbfs=tuple(args.level))
    speech = _groups(args.speech, "training speech", args.skip_group)
    noise = _groups(args.noise, "training noise", args.skip_group)
    if args.val_speech:
        val_speech = _groups(args.val_speech, "validation speech", args.skip_group)
    else:
        speech, val_speech = hold_out(speech, args.val_fraction, args.seed, "speech")
    if args.val_noise:
        val_noise = _groups(args.val_noise, "validation noise", args.skip_group)
    else:
        noise, val_noise = hold_out(noise, args.val_fraction, args.seed, "noise")
    check_disjoint(speech, val_speech, "speech")
    check_disjoint(noise, val_noise, "noise")
    test_speech, test_noise = _test_sources(args, (speech, val_speech), (noise, val_noise))
    for role, groups in (("training speech", speech), ("training noise", noise),
                         ("validation speech", val_speech), ("validation noise", val_noise),
                         ("test speech", test_speech), ("test noise", test_noise)):
        if not groups:
            continue
        files = sum(len(g.files) for g in groups)
        print(f"{role}: {len(groups)} group{'s' * (len(groups) != 1)}, {files} file{'s' * (files != 1)} "
              f"({', '.join(g.name for g in groups)})")
    for role, groups in (("validation", val_speech), ("test", test_speech)):  # references: scores count their noise
        for group in groups:
            gap = background_db(group)
            if gap < MIN_BACKGROUND_DB:
                print(f"note: {role} speech group {group.name}: its recordings' background lies only {gap:.1f} dB "
                      f"under the voice ({MIN_BACKGROUND_DB:g} or more is clean): a model that removes that hum or "
                      f"hiss is scored down for it; to leave it out: --skip-group {group.name}", file=sys.stderr)
    splits = {
        "train": SplitSources(speech, noise, args.train_clips, synthetic_noise=not args.no_synthetic_noise,
                              fresh=args.fresh),
        "validation": SplitSources(val_speech, val_noise, args.val_clips),
    }
    if test_speech:
        splits["test"] = SplitSources(test_speech, test_noise, args.test_clips)
    bars: dict[str, ProgressBar] = {}

    def progress(split: str, done: int, total: int) -> None:
        bar = bars.setdefault(split, ProgressBar(f"{split} clips"))
        bar.update(done, total)
        if done == total:
            bar.close()

    def kept(split: str) -> None:
        folder = FRESH_SOURCES if splits[split].fresh else SPLIT_NAMES[split]
        print(f"{folder}/ kept: built before from these sources and settings")

    typed = getattr(args, "argv", None)  # (as cli.main parsed it: paths as typed, so from this folder)
    command = None if typed is None else f"cd {shlex.quote(os.getcwd())} && {shlex.join(['spandex', *typed])}"
    try:
        out = build_dataset(args.output, splits, spec, seed=args.seed, progress=progress, kept=kept, command=command)
    except KeyboardInterrupt:
        print(f"\n{args.output} is unfinished: run the same command again to finish it (the splits already made "
              f"are kept); until then training on it is refused", file=sys.stderr, flush=True)
        raise
    test = f", {args.test_clips} held-out test" if "test" in splits else ""
    train = "training sources mixed afresh at every step" if args.fresh else f"{args.train_clips} training"
    print(f"dataset ready in {out} ({train} and {args.val_clips} validation{test} clips "
          f"of {args.clip_seconds:g} s)")
    return 0
