"""Folders of clean speech or noise, grouped by speaker (or noise kind), for the dataset builder.

A group is what the validation split must not share with training: a speaker, a voice, a noise recording
set. Under each folder given, every immediate subfolder is one group (all audio below it, recursively);
audio files lying directly in the folder form one group named after the folder. So a Microsoft DNS
``clean/<language>/<speaker>/...`` tree, a LibriSpeech-like ``<speaker>/<chapter>/*.flac`` tree or a flat
folder of one person's recordings all work as they are. A dataset ``spandex data build`` made (its manifest
says so, finished or not) is never read as recordings: one inside a group is skipped, with a note.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import SpandexError
from engine.files.audio import AUDIO_SUFFIXES
from engine.files.digest import file_sha256
from engine.training.dataset_layout import BUILDER_FORMAT, FRESH_SOURCES, MANIFEST, SPLIT_NAMES


@dataclass(frozen=True)
class AudioGroup:
    name: str
    files: tuple[Path, ...]


def scan_groups(folders: Sequence[str | os.PathLike], role: str,
                note: Callable[[str], None] | None = None) -> list[AudioGroup]:
    """The groups under ``folders`` (see module doc); ``role`` names them in errors ("training speech"). A dataset
    found inside a group is left out, and ``note`` told which."""
    groups: dict[str, list[Path]] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise SpandexError(f"the {role} folder {folder} does not exist or is not a folder")
        dataset = next((f for f in (folder, *folder.resolve().parents) if is_built_dataset(f)), None)
        if dataset is not None:
            where = "is" if dataset == folder else f"lies inside {dataset},"
            raise SpandexError(f"the {role} folder {folder} {where} a dataset `spandex data build` made ({MANIFEST}), "
                               f"not recordings: give the folders it was built from")
        loose = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        if loose:
            groups.setdefault(folder.name, []).extend(loose)
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            found = _recordings(sub, role, note)
            if found:
                groups.setdefault(sub.name, []).extend(found)
    if not groups:
        shown = ", ".join(str(f) for f in folders)
        raise SpandexError(f"no audio files (WAV, FLAC, OGG, MP3) found in the {role} folder(s) {shown}")
    return [AudioGroup(name, tuple(files)) for name, files in sorted(groups.items())]


def _recordings(group: Path, role: str, note: Callable[[str], None] | None) -> list[Path]:
    """The audio files below ``group``, less those of any dataset ``spandex data build`` made there (said)."""
    files = [p for p in group.rglob("*") if p.is_file()]
    datasets = sorted({p.parent for p in files if p.name == MANIFEST and is_built_dataset(p.parent)})
    for dataset in datasets:
        if note:
            note(f"{role}: skipped {dataset}: a dataset `spandex data build` made ({MANIFEST}), not recordings")
    return sorted(p for p in files if p.suffix.lower() in AUDIO_SUFFIXES
                  and not any(dataset in p.parents for dataset in datasets))


def is_built_dataset(folder: Path) -> bool:
    """Whether ``folder`` holds the manifest of a dataset ``spandex data build`` made (finished or not)."""
    try:
        return json.loads((folder / MANIFEST).read_text()).get("format") == BUILDER_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_outside_sources(out: str | os.PathLike, sources: Mapping[str, Sequence[str | os.PathLike]]) -> None:
    """Refuse a dataset folder ``out`` that is one of the ``sources`` folders (role -> folders) or lies inside one: the
    next build that reads that folder would take the dataset's clips for recordings (noisy mixtures as clean speech,
    validation clips in training). A source folder inside one of the folders a build of ``out`` replaces is refused
    too: the build would delete it."""
    out_real = Path(os.path.realpath(out))
    replaced = [out_real / name for folder in (*SPLIT_NAMES.values(), FRESH_SOURCES)
                for name in (folder, f"{folder}.partial")]
    for role, folders in sources.items():
        for folder in folders:
            real = Path(os.path.realpath(folder))
            if real == out_real or real in out_real.parents:
                where = "is" if real == out_real else "lies inside"
                raise SpandexError(f"OUT {out} {where} the {role} folder {folder}: a build that reads {folder} would "
                                   f"take this dataset's clips for recordings; give OUT outside every source folder")
            split = next((split for split in replaced if real == split or split in real.parents), None)
            if split is not None:
                raise SpandexError(f"the {role} folder {folder} lies inside {split.name}/ of OUT {out}, which the "
                                   f"build replaces; give recordings from outside OUT's splits")


def check_disjoint(train: list[AudioGroup], validation: list[AudioGroup], role: str,
                   names: tuple[str, str] = ("training", "validation")) -> None:
    """Refuse a held-out split (``names[1]``) that shares a group name or a file with ``names[0]``: the same file, or
    one with the same bytes under another name (a recording two packages ship)."""
    seen, held = names
    shared = {g.name for g in train} & {g.name for g in validation}
    if shared:
        raise SpandexError(
            f"{role}: {held} shares group(s) {', '.join(sorted(shared))} with {seen}; {held} "
            f"must use other speakers and noise recordings")
    train_files = {p.resolve() for g in train for p in g.files}
    overlap = [p for g in validation for p in g.files if p.resolve() in train_files]
    if overlap:
        raise SpandexError(f"{role}: {len(overlap)} file(s) are in both {seen} and {held}, "
                           f"e.g. {overlap[0]}")
    copies = _copies(train, validation)
    if copies:
        copy, original = copies[0]
        more = f" ({len(copies)} such files)" if len(copies) > 1 else ""
        raise SpandexError(f"{role}: {held} file {copy} is a copy of {seen} file {original} (the same bytes){more}; "
                           f"{held} must use other recordings")


def _copies(train: list[AudioGroup], held: list[AudioGroup]) -> list[tuple[Path, Path]]:
    """Each file of ``held`` whose bytes are those of a file of ``train`` under another name, with that file: sizes
    compared first, SHA-256 only of files of the same size (so a large corpus is not read through)."""
    by_size: dict[int, list[Path]] = {}
    for path in (p for g in train for p in g.files):
        by_size.setdefault(path.stat().st_size, []).append(path)
    digests: dict[Path, str] = {}

    def digest(path: Path) -> str:
        if path not in digests:
            digests[path] = file_sha256(path)
        return digests[path]

    copies = []
    for path in (p for g in held for p in g.files):
        original = next((t for t in by_size.get(path.stat().st_size, []) if digest(t) == digest(path)), None)
        if original is not None:
            copies.append((path, original))
    return copies


def hold_out(groups: list[AudioGroup], fraction: float, seed: int, role: str) -> tuple[list[AudioGroup],
                                                                                        list[AudioGroup]]:
    """Split whole groups: about ``fraction`` of them (at least one) for validation, the rest for training."""
    if len(groups) < 2:
        raise SpandexError(
            f"{role}: only one group ({groups[0].name}) was found, so no speaker or recording can be held out "
            f"for validation; give validation folders explicitly or put each speaker in its own subfolder")
    import random

    order = list(groups)
    random.Random(seed).shuffle(order)
    n_val = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    validation = sorted(order[:n_val], key=lambda g: g.name)
    train = sorted(order[n_val:], key=lambda g: g.name)
    return train, validation


MIN_BACKGROUND_DB = 20.0
"""How far under its voice a speech group's background should lie (:func:`background_db`) for its recordings to be
clean references and targets. A reference with a hum or hiss counts the hum as the model's error when the model
removes it: spandex-dense and the official N-DNS net scored 9 dB clean in → out on KTuberling's Galician words,
whose rumble below 100 Hz is as loud as their voice there (15.3 dB by this measure), and 22-30 dB on its other
readers (docs/measurements.md, session 22)."""
BACKGROUND_FRAME = 512
"""Samples in a frame of :func:`background_db`: 32 ms at 16 kHz."""


def background_db(group: AudioGroup) -> float:
    """How far under its voice a speech group's background lies, in dB: per file, the level of its loudest 5 % of
    32-ms frames over that of its quietest 5 % (the pauses around and between words), the median over the files
    (files under 10 frames are not counted; none left: infinity). A file with no pause scores low; a group of one
    reader in one room scores as its recordings do."""
    from engine.files.audio import load_audio

    gaps = []
    for path in group.files:
        audio = load_audio(path).astype(np.float64)
        frames = len(audio) // BACKGROUND_FRAME
        if frames < 10:
            continue
        power = np.mean(audio[: frames * BACKGROUND_FRAME].reshape(frames, BACKGROUND_FRAME) ** 2, axis=1)
        levels = 10 * np.log10(power + 1e-12)
        gaps.append(np.percentile(levels, 95) - np.percentile(levels, 5))
    return float(np.median(gaps)) if gaps else float("inf")
