"""How much a model harms clean speech, beside its validation score: every clean reference of a split denoised
and scored against itself (SI-SNR, dB), and the split's SI-SNRi and M-Ops/s on its noisy clips.

Both through :func:`engine.training.validation.validate` (the float64 graph the streaming engine matches). The
"clean in -> out" column of bench/quality.py measures the same on the held-out split; this one is for choosing
on the validation split, which the held-out split must not do.

    PYTHONPATH=. .venv/bin/python scripts/measure_clean_passthrough.py MODEL [MODEL ...] [--split DIR] [--by-group]

``--by-group`` adds each model's SI-SNRi by speech group and by noise group (from the dataset's manifest.json,
which names every clip's groups) and the mean over groups, which weighs every source alike, and its clean in -> out
by speech group (a group whose "clean" recordings carry hum or hiss scores low there: the model removes it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.errors import SpandexError  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.library.catalog import distinct_model_files  # noqa: E402
from engine.training.dataset import PairedClips  # noqa: E402
from engine.training.validation import validate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="MODEL", help="library name or netx file")
    parser.add_argument("--split", default="build/data/debian/validation_set",
                        help="a split folder with noisy/ and clean/ (default: %(default)s)")
    parser.add_argument("--by-group", action="store_true",
                        help="also SI-SNRi by speech group and by noise group, and the mean over groups, and clean "
                             "in -> out by speech group")
    args = parser.parse_args()
    try:
        return measure(args.models, args.split, args.by_group)
    except SpandexError as exc:  # a missing model or split: said in one line
        parser.exit(1, f"measure_clean_passthrough.py: error: {exc}\n")


def measure(specs: list[str], split: str, by_group: bool) -> int:
    files = distinct_model_files(specs)  # every model found before minutes of measuring, each once
    models = {spec: load_model(path) for spec, path in zip(specs, files)}
    clips = PairedClips.load(split)
    groups = clip_groups(Path(split), clips.names) if by_group else {}
    clean_in = clips.clean_as_input()
    print(f"{split}: {len(clips)} clips")
    print("| model | SI-SNRi dB | M-Ops/s | clean in -> out dB (mean) | median | worst clip |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    improvement, passthrough = {}, {}
    for spec, model in models.items():
        noisy = validate(model, clips)
        passed = np.array(validate(model, clean_in).per_clip_si_snr)
        improvement[spec] = np.array(noisy.per_clip_si_snr) - np.array(noisy.per_clip_si_snr_noisy)
        passthrough[spec] = passed
        print(f"| {spec} | {noisy.si_snri:.3f} | {noisy.power_proxy_mops:.2f} | {passed.mean():.2f} | "
              f"{np.median(passed):.2f} | {passed.min():.2f} |", flush=True)
    for kind, by_clip in groups.items():
        print_group_table(f"SI-SNRi dB by {kind} group", by_clip, improvement)
    if groups:  # what a model does to each speaker's clean speech; a reference's own hum or hiss counts as harm
        print_group_table("clean in -> out dB by speech group", groups["speech"], passthrough)
    return 0


def clip_groups(split: Path, names: list[str]) -> dict[str, list[str]]:
    """Each clip's speech group and noise group, in ``names``' order, from the dataset's manifest."""
    manifest_path = split.parent / "manifest.json"
    if not split.name.endswith("_set"):
        raise SpandexError(f"--by-group: {split} is not a split of a dataset spandex data build made (its folders "
                           "are named validation_set, test_set)")
    try:
        manifest = json.loads(manifest_path.read_text())
        recipes = {str(r["fileid"]): r for r in manifest["clips"][split.name.removesuffix("_set")]}
    except FileNotFoundError:
        raise SpandexError(f"--by-group: {manifest_path} is missing (spandex data build writes it)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SpandexError(f"--by-group: {manifest_path} does not list the clips of {split.name} "
                           f"({type(exc).__name__}: {exc})") from None
    missing = [name for name in names if name not in recipes]
    if missing:
        raise SpandexError(f"--by-group: {manifest_path} does not list clip {missing[0]} of {split} "
                           f"({len(missing)} clip(s) unlisted): was the split built again without it?")
    return {kind: [recipes[name][f"{kind}_group"] for name in names] for kind in ("speech", "noise")}


def print_group_table(title: str, by_clip: list[str], per_clip: dict[str, np.ndarray]) -> None:
    """``title``, then each group's mean of every model's per-clip numbers, and the mean over groups."""
    members = defaultdict(list)
    for index, group in enumerate(by_clip):
        members[group].append(index)
    print(f"\n{title}")
    print("| group | clips | " + " | ".join(per_clip) + " |")
    print("| --- | ---: |" + " ---: |" * len(per_clip))
    for group in sorted(members):
        cells = " | ".join(f"{scores[members[group]].mean():.2f}" for scores in per_clip.values())
        print(f"| {group} | {len(members[group])} | {cells} |")
    means = " | ".join(f"{np.mean([scores[m].mean() for m in members.values()]):.2f}"
                       for scores in per_clip.values())
    print(f"| mean over {len(members)} group{'s' if len(members) != 1 else ''} | {len(by_clip)} | {means} |",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
