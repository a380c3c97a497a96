"""Output files that cannot hurt: checked before any work starts, written atomically, nothing left behind.

:func:`check_output` refuses what a result must never replace — a folder, a device (``/dev/null``), a named
pipe or socket, a symbolic link (unless asked to write to its target), a file that cannot be replaced — and an
audio file name whose format is unknown, and it proves the folder writable by creating a temporary file there,
all before the caller spends minutes computing. :func:`audio_writer` then streams blocks into the temporary
file and renames it over the target only when complete (:mod:`engine.files.atomic`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.errors import SpandexError
from engine.files.atomic import atomic_output, temporary_prefix
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES

AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}
"""Audio file extension -> (libsndfile format, subtype) of what SPANDEX writes."""


class OutputError(SpandexError):
    """An output path that must not or cannot be written; nothing was written."""


@dataclass(frozen=True)
class OutputTarget:
    """A checked output: the file to write (a link's target when following one) and folders to create."""

    path: Path
    new_folders: tuple[Path, ...] = field(default=())

    @property
    def audio_format(self) -> tuple[str, str]:
        return AUDIO_FORMATS[self.path.suffix.lower()]


def check_output(path: str | os.PathLike, what: str = "OUT", audio: bool = False,
                 follow_link: bool = False, follow_link_option: str | None = "--follow-link",
                 example: str = "denoised.wav") -> OutputTarget:
    """Check that ``path`` may be written, before any work; raise :class:`OutputError` naming ``what`` if not.

    ``audio``: the extension must name a format of :data:`AUDIO_FORMATS`. ``follow_link``: a symbolic link is
    written through (its target replaced) instead of refused; a refusal names ``follow_link_option``, the
    command's way to ask for that (None: it has none); ``example`` is the file name a refused folder is shown
    with. Nothing is created or changed.
    """
    text = os.fspath(path)
    if not text.strip():
        raise OutputError(f"{what} is empty: give a file name")
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.name in ("", ".", ".."):
        raise OutputError(f"{what} {text} names a folder: give a file name, e.g. {text.rstrip('/')}/{example}")
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not follow_link:
            instead = f", or {follow_link_option} to write to {target}" if follow_link_option else ""
            raise OutputError(f"{what} {text} is a symbolic link to {target}: refusing to replace it (give the "
                              f"target's own path{instead})")
        path = target
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # the latter: a file where a folder should be (said below)
        mode = None
    except OSError as exc:
        raise OutputError(f"{what} {text}: cannot be written: {exc.strerror}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise OutputError(f"{what} {text} is a folder: give a file name, e.g. {text.rstrip('/')}/{example}")
        if not stat.S_ISREG(mode):
            raise OutputError(f"{what} {text} is {_kind(mode)}, not a regular file: refusing to write to it")
        _check_replaceable(path, what, text)
    if audio and path.name.lower() in AUDIO_FORMATS:  # ".wav": what "$name.wav" gives with $name unset
        raise OutputError(f"{what} {text}: the file has no name before its extension; give one, e.g. "
                          f"out{path.name}")
    if audio and path.suffix.lower() not in AUDIO_FORMATS:
        kind = f"'{path.suffix}'" if path.suffix else "no extension"
        raise OutputError(f"{what} {text}: unknown audio format ({kind}); name it .wav, .flac or .ogg")
    folder, new_folders = _existing_folder(path.parent, what, text)
    _probe(folder, path if folder == path.parent else folder / path.name, what, text)
    return OutputTarget(path, tuple(new_folders))


def check_report_output(path: str | os.PathLike, what: str, example: str,
                        inputs: Iterable[tuple[Path, str]] = ()) -> OutputTarget:
    """:func:`check_output` for a text report (``--json``, ``--yaml``), and more: refused too if its name says audio
    or a model (``results.wav``: the next run would take it for a recording), or if it is one of the command's
    ``inputs`` — (file, how the refusal names it) pairs, e.g. (``m.net``, "the model m.net")."""
    target = check_output(path, what=what, follow_link_option=None, example=example)
    suffix = target.path.suffix.lower()
    model_suffixes = (*NETX_SUFFIXES, *TORCH_SUFFIXES)
    if suffix in (*AUDIO_FORMATS, *model_suffixes):
        kind = "an audio" if suffix in AUDIO_FORMATS else "a model"
        raise OutputError(f"{what} {os.fspath(path)}: {kind} file's name ('{suffix}') for a text report; name it "
                          f"{Path(example).suffix}, e.g. {example}")
    beside = [target.path.with_suffix(s) for s in model_suffixes] if suffix == ".json" else []
    model = next((candidate for candidate in beside if candidate.is_file()), None)
    if model is not None:  # a model's card (a shipped one's, a library entry's): `spandex models` reads it
        raise OutputError(f"{what} {os.fspath(path)} is the card of the model {model.name}: refusing to write over "
                          f"it; give another file name, e.g. {example}")
    for source, named in inputs:  # the same file by any name: a link, a hard link, another spelling
        if target.path.exists() and source.exists() and os.path.samefile(source, target.path):
            raise OutputError(f"{what} {os.fspath(path)} is {named}: refusing to write over it; give another file name")
    return target


def check_folder_to_make(folder: Path, named: str, advice: str) -> None:
    """Refuse, before anything loads, a folder a command would make or go on in (a run's, a dataset's) that is a file,
    would be made under one, or is a symbolic link to nothing; ``named`` is how the message names it (``--out X``,
    ``OUT X``), ``advice`` what to give instead."""
    for blocked in (folder, *folder.parents):  # the folder itself, or one it would be made in
        where = " is" if blocked == folder else f": {blocked} is"
        if blocked.is_symlink() and not blocked.exists():
            raise OutputError(f"{named}{where} a symbolic link to {os.readlink(blocked)}, which does not exist: give "
                              f"the folder's own path, or remove the link")
        if blocked.exists() and not blocked.is_dir():
            kind = "a file, not a folder" if blocked.is_file() else "not a folder"
            raise OutputError(f"{named}{where} {kind}: {advice}")


def check_run_folder(run_dir: Path, named: str) -> None:
    """:func:`check_folder_to_make` for a training run's folder."""
    check_folder_to_make(run_dir, named, "name a folder for the run (new, or a run of these settings to continue)")


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_replaceable(path: Path, what: str, text: str) -> None:
    """An existing file that could not be opened for writing (read-only, immutable, read-only file system)
    is not silently replaced by a rename either. Opening it changes nothing: no truncation, no write."""
    try:
        os.close(os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)))
    except OSError as exc:
        reasons = {errno.EACCES: "it is read-only", errno.EPERM: "it is protected (immutable or append-only)",
                   errno.EROFS: "it is on a read-only file system"}
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        raise OutputError(f"{what} {text} cannot be replaced: {reason}") from None


def _existing_folder(folder: Path, what: str, text: str) -> tuple[Path, list[Path]]:
    """The nearest folder that exists, and the ones below it that writing would create."""
    missing: list[Path] = []
    current = folder if str(folder) else Path(".")
    while not current.exists():
        if current.is_symlink():
            raise OutputError(f"{what} {text}: {current} is a broken symbolic link")
        missing.insert(0, current)
        if current.parent == current:
            break
        current = current.parent
    if not current.is_dir():
        raise OutputError(f"{what} {text}: {current} is a file, not a folder")
    return current, missing


def _probe(folder: Path, path: Path, what: str, text: str) -> None:
    """Create (and remove) a temporary file named as the write's will be: proves folder access, free inodes,
    a writable file system and a short enough name."""
    try:
        fd, name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=folder)
    except OSError as exc:
        reasons = {errno.EACCES: f"no permission to write in {folder}",
                   errno.EROFS: f"{folder} is on a read-only file system",
                   errno.ENAMETOOLONG: "the file name is too long"}
        reason = reasons.get(exc.errno or 0, f"{exc.strerror} ({folder})")
        raise OutputError(f"{what} {text} cannot be written: {reason}") from None
    os.close(fd)
    os.unlink(name)


@contextlib.contextmanager
def audio_writer(target: OutputTarget, rate: int, channels: int = 1,
                 announce=lambda folder: None) -> Iterator[sf.SoundFile]:
    """An open sound file to write blocks into; it replaces ``target.path`` only if the body completes.

    Creates ``target.new_folders`` (calling ``announce(folder)`` for each) and removes them again, if still
    empty, when the body fails or is interrupted. The format follows the extension (:data:`AUDIO_FORMATS`).
    """
    audio_format, subtype = target.audio_format
    created = []
    try:
        for folder in target.new_folders:
            folder.mkdir(exist_ok=True)
            created.append(folder)
            announce(folder)
        with atomic_output(target.path) as tmp:
            with sf.SoundFile(tmp, "w", samplerate=int(rate), channels=channels, format=audio_format,
                              subtype=subtype) as handle:
                yield handle
    except BaseException as exc:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, (sf.LibsndfileError, OSError)):  # a full disk, a file too large, ...
            reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
            raise OutputError(f"{target.path}: cannot write: {reason}") from None
        raise


def write_block(handle: sf.SoundFile, block: np.ndarray) -> int:
    """Write float samples, clipped to [-1, 1] (PCM and Vorbis hold no more); returns how many were clipped."""
    block = np.asarray(block, dtype=np.float32)
    handle.write(np.clip(block, -1.0, 1.0))
    return int(np.count_nonzero(np.abs(block) > 1.0))
