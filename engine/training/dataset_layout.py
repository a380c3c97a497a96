"""Where a dataset's splits are and what they hold, found without reading any audio (no torch: the GUI uses it).

A *split* is a folder with ``noisy/`` and ``clean/`` (paired by name or N-DNS ``_fileid_N``, see
:mod:`engine.files.pairing`). A *dataset* is a folder holding ``training_set/`` and ``validation_set/`` splits
(what ``spandex data build`` writes and the N-DNS challenge ships), and optionally a held-out ``test_set/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

from engine.errors import SpandexError
from engine.files.pairing import UnpairedFilesWarning, pair_files

SPLIT_NAMES = {"train": "training_set", "validation": "validation_set", "test": "test_set"}
"""Split name -> folder; ``test`` is the held-out set that no training run ever reads."""


def split_folder(dataset: str | os.PathLike, split: str) -> Path:
    """The folder of ``split`` ("train", "validation" or "test") in ``dataset``; a split folder is its own
    split."""
    root = Path(dataset)
    if root.exists() and not root.is_dir():
        raise SpandexError(f"dataset {root} is a file, not a folder: give the dataset's folder (training_set/, "
                           f"validation_set/; build one with `spandex data build`)")
    if not root.is_dir():
        where = "" if root.is_absolute() else f" (read from the working folder, {Path.cwd()})"
        raise SpandexError(f"dataset folder {root} does not exist{where}; build one with `spandex data build`")
    if (root / "noisy").is_dir() and (root / "clean").is_dir():
        check_split_folder(root)
        return root
    candidate = root / SPLIT_NAMES[split]
    _check_built(root, split)  # (first: a build stopped before it made the split, a first one say, says how to finish)
    if not candidate.is_dir():
        raise SpandexError(
            f"{root} has no {SPLIT_NAMES[split]}/ folder and is not itself a split (noisy/ and clean/)")
    return candidate


MANIFEST = "manifest.json"
"""What ``spandex data build`` writes beside the splits it made: its settings, sources and clips."""

BUILDER_FORMAT = "spandex-dataset-1"
"""The manifest's ``format``: its ``splits`` list the splits the builder finished."""

FRESH_SOURCES = "training_sources"
"""A dataset whose training examples are mixed afresh at every step keeps their speech, noise and rooms here
(``spandex data build --fresh``) instead of a fixed ``training_set/``."""


def fresh_sources(dataset: str | os.PathLike) -> Path | None:
    """``dataset``'s fresh-mixture training sources, or None when it trains from fixed clips."""
    folder = _fresh_sources_folder(Path(dataset))
    if folder is not None:
        _check_built(Path(dataset), "train")
    return folder


def _fresh_sources_folder(root: Path) -> Path | None:
    """The fresh-mixture sources folder on disk in ``root`` (finished or not), or None."""
    folder = root / FRESH_SOURCES
    return folder if (folder / "speech").is_dir() and (folder / "noise").is_dir() else None


def builder_manifest(root: Path) -> dict | None:
    """The manifest ``spandex data build`` wrote in ``root`` (its ``splits``: those it finished, name -> how each
    was made); None for a dataset it did not make (no manifest: an N-DNS download is its own)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return None
    try:
        described = json.loads(manifest.read_text())
        if not isinstance(described, dict) or described.get("format") != BUILDER_FORMAT:
            return None  # (another tool's manifest.json)
        if not isinstance(described["splits"], dict):
            raise TypeError(f"'splits' is a {type(described['splits']).__name__}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SpandexError(f"{manifest}: unreadable dataset manifest ({exc}): run `spandex data build` again to "
                           f"make the dataset anew") from None
    return described


def check_pair_folders(noisy: str | os.PathLike, clean: str | os.PathLike) -> None:
    """Refuse ``noisy``/``clean`` folders (``spandex eval``'s, the bench's) of a split its dataset's last build did not
    finish, as training refuses it (:func:`check_split_folder` of each one's split folder)."""
    for folder in {Path(noisy).resolve().parent, Path(clean).resolve().parent}:
        check_split_folder(folder)


def check_split_folder(folder: str | os.PathLike) -> None:
    """Refuse ``folder``, given as a split itself (``DATASET/validation_set``, say), if it is a split of a dataset
    ``spandex data build`` made whose last build did not finish it (as :func:`split_folder` refuses it by name)."""
    folder = Path(folder).resolve()
    split = next((name for name, sub in SPLIT_NAMES.items() if sub == folder.name), None)
    if split is not None:
        _check_built(folder.parent, split)


def _check_built(root: Path, split: str) -> None:
    """Refuse a split of a dataset ``spandex data build`` made that its manifest does not list as built, the way it
    is on disk: a build stopped while replacing it leaves the old split (a run would train or validate on it without a
    word), one that made no such split leaves another build's, and one stopped while it switched the training split
    between fresh sources and fixed clips leaves the other way's folder."""
    described = builder_manifest(root)
    if described is None:
        return
    built = described["splits"]
    folder = FRESH_SOURCES if split == "train" and _fresh_sources_folder(root) is not None else SPLIT_NAMES[split]
    made = built.get(split)
    if made is None or (split == "train" and isinstance(made, dict)
                        and bool(made.get("fresh")) != (folder == FRESH_SOURCES)):
        what = (f"does not list a {split} split: a build stopped while making it, or one that made none"
                if made is None else "lists the training split the other way: a build stopped while it switched")
        again = f": {described['command']}" if isinstance(described.get("command"), str) else ""
        raise SpandexError(f"{root}: its {folder}/ is not one its last `spandex data build` finished ({MANIFEST} "
                           f"{what}): run that build again to finish it{again}")


def training_split_identity(dataset: str | os.PathLike) -> str:
    """A digest of how ``dataset``'s training split was made: from fresh sources or fixed clips, and, where
    ``spandex data build`` made it, the builder's settings and files for it. A resumed run checks that it is the
    same (its data rebuilt another way, a run would go on training on other examples)."""
    made = None
    try:
        manifest = json.loads((Path(dataset) / MANIFEST).read_text())
        train = manifest["splits"]["train"]  # fresh sources: the clip settings ("spec") make nothing of them
        made = {"spec": None if train.get("fresh") else manifest.get("spec"), "seed": manifest.get("seed"),
                "train": train}
    except (OSError, ValueError, KeyError, TypeError):  # not the builder's (an N-DNS folder): its way alone
        pass
    described = json.dumps({"fresh": fresh_sources(dataset) is not None, "made": made}, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()


def dataset_summary(dataset: str | os.PathLike) -> dict:
    """What a dataset picker shows, without reading any audio: pairs per split, and the builder's sources.

    Raises :class:`SpandexError` (with the reason) for a folder that is not a usable dataset.
    """
    summary: dict = {}
    described = builder_manifest(Path(dataset)) if Path(dataset).is_dir() else None
    built = None if described is None else described["splits"]
    for split in SPLIT_NAMES:
        if split == "test" and (not (Path(dataset) / SPLIT_NAMES["test"]).is_dir()
                                or (built is not None and "test" not in built)):
            continue  # the held-out set is optional, and one the last build did not make is no training's concern
        if split == "train" and fresh_sources(dataset) is not None:
            summary["train_pairs"] = None  # mixed afresh at every step
            summary["train_fresh"] = str(fresh_sources(dataset))
            continue
        folder = split_folder(dataset, split)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnpairedFilesWarning)
            summary[f"{split}_pairs"] = len(pair_files(folder / "noisy", folder / "clean"))
    if built is not None:
        summary["sources"] = built
    return summary
