"""Pairing noisy recordings with their clean references in two folders.

Two conventions are understood, tried in this order:

* the same file name in both folders (``noisy/talk.wav`` with ``clean/talk.wav``);
* the same name in another format (``noisy/talk.mp3`` with ``clean/talk.wav``), where that name is in each folder once;
* the N-DNS synthesizer's names: ``<clean>_<noise>_snr5_tl-25_fileid_12.wav`` in the noisy
  folder with ``clean_fileid_12.wav`` in the clean one (the key is the id, ``"12"``).

Files that pair with nothing are not dropped silently: ``pair_files`` warns with an
``UnpairedFilesWarning`` naming them.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import NamedTuple

from engine.errors import SpandexError
from engine.files.audio import AUDIO_SUFFIXES

_FILEID = re.compile(r"_fileid_(\d+)$")


class Pair(NamedTuple):
    """A noisy file, its clean reference, and the key that matched them."""

    noisy: Path
    clean: Path
    key: str


class UnpairedFilesWarning(UserWarning):
    """Some audio files in the noisy or clean folder have no partner."""


def pair_files(noisy_dir: str | Path, clean_dir: str | Path) -> list[Pair]:
    """Pair the audio files (:data:`~engine.files.audio.AUDIO_SUFFIXES`) of ``noisy_dir`` with those of ``clean_dir``.

    Returns the pairs sorted by key (N-DNS ids numerically). Raises ``SpandexError`` when a
    folder is missing or holds no audio file, when an N-DNS id occurs twice in a folder,
    or when no file pairs; warns ``UnpairedFilesWarning`` listing any files left unpaired.
    """
    noisy = _audio_files(Path(noisy_dir), "noisy")
    clean = _audio_files(Path(clean_dir), "clean")
    if Path(noisy_dir).resolve() == Path(clean_dir).resolve():  # each file its own reference: nothing to score
        raise SpandexError(f"--noisy {noisy_dir} and --clean {clean_dir} are the same folder: give the noisy "
                           f"recordings and their clean references in two folders")

    clean_by_name = {p.name: p for p in clean}
    pairs = [Pair(p, clean_by_name[p.name], p.stem) for p in noisy if p.name in clean_by_name]
    used_noisy = {pair.noisy for pair in pairs}
    used_clean = {pair.clean for pair in pairs}
    noisy_stems = _by_stem([p for p in noisy if p not in used_noisy])
    clean_stems = _by_stem([p for p in clean if p not in used_clean])
    for stem in sorted(noisy_stems.keys() & clean_stems.keys()):
        pairs.append(Pair(noisy_stems[stem], clean_stems[stem], stem))
        used_noisy.add(noisy_stems[stem])
        used_clean.add(clean_stems[stem])

    noisy_ids = _by_fileid([p for p in noisy if p not in used_noisy], noisy_dir)
    clean_ids = _by_fileid([p for p in clean if p not in used_clean], clean_dir)
    for key in noisy_ids.keys() & clean_ids.keys():
        pairs.append(Pair(noisy_ids[key], clean_ids[key], key))
        used_noisy.add(noisy_ids[key])
        used_clean.add(clean_ids[key])

    if not pairs:
        raise SpandexError(
            f"no file in {noisy_dir} pairs with one in {clean_dir}: expected the same file "
            f"names, or N-DNS names ('..._fileid_12.wav' with 'clean_fileid_12.wav'); "
            f"found e.g. {noisy[0].name!r} and {clean[0].name!r}"
        )
    unpaired = [p for p in noisy if p not in used_noisy] + [p for p in clean if p not in used_clean]
    if unpaired:
        shown = ", ".join(str(p) for p in unpaired[:10])
        more = f" and {len(unpaired) - 10} more" if len(unpaired) > 10 else ""
        warnings.warn(
            f"{len(unpaired)} file(s) have no partner and are left out: {shown}{more}"
            + _ambiguous([p for p in noisy if p not in used_noisy], [p for p in clean if p not in used_clean]),
            UnpairedFilesWarning,
            stacklevel=2,
        )
    return sorted(pairs, key=lambda p: (not p.key.isdigit(), int(p.key) if p.key.isdigit() else 0, p.key))


def _audio_files(folder: Path, role: str) -> list[Path]:
    if not folder.exists():
        raise SpandexError(f"the {role} folder {folder} does not exist")
    if not folder.is_dir():
        raise SpandexError(f"the {role} folder {folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise SpandexError(f"the {role} folder {folder} holds no audio files (WAV, FLAC, OGG, MP3)")
    return files


def _ambiguous(noisy: list[Path], clean: list[Path]) -> str:
    """Why some of those files did not pair though a file of their name is in the other folder: two files of one
    folder share that name in two formats (``talk.wav``, ``talk.ogg``), and which one is meant is not known."""
    by_stem: dict[str, list[Path]] = {}
    for path in noisy + clean:
        by_stem.setdefault(path.stem, []).append(path)
    names = {p.stem for p in noisy} & {p.stem for p in clean}
    shared = sorted(stem for stem in names if len(by_stem[stem]) > 2)
    if not shared:
        return ""
    return (f" (which file pairs with which is not clear where one folder holds the same name in two formats: "
            f"{'; '.join(', '.join(str(p) for p in by_stem[stem]) for stem in shared[:3])}"
            f"{' …' if len(shared) > 3 else ''}; keep one of each)")


def _by_stem(files: list[Path]) -> dict[str, Path]:
    """The files by name without suffix, leaving out a name that two files share (``talk.wav``, ``talk.flac``)."""
    stems: dict[str, list[Path]] = {}
    for path in files:
        stems.setdefault(path.stem, []).append(path)
    return {stem: found[0] for stem, found in stems.items() if len(found) == 1}


def _by_fileid(files: list[Path], folder: str | Path) -> dict[str, Path]:
    by_id: dict[str, Path] = {}
    for path in files:
        match = _FILEID.search(path.stem)
        if match is None:
            continue
        key = str(int(match.group(1)))
        if key in by_id:
            raise SpandexError(
                f"{folder}: N-DNS id {key} appears twice ({by_id[key].name} and {path.name})"
            )
        by_id[key] = path
    return by_id
