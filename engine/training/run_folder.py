"""A training run's folder: where its checkpoint is, who trains in it, and whether it is kept.

A run that fails before its first checkpoint — a missing dataset, a model that does not load, Ctrl-C while the
clips load — has nothing to resume; the ``config.yaml`` it wrote would only make the corrected command fail
with "holds a run with other settings". :func:`kept_only_once_started` removes what such a run created.
:func:`held_alone` keeps a second process from training in a folder at the same time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from engine.errors import SpandexError

CHECKPOINT_NAME = "checkpoint.pt"
"""The run's checkpoint in its folder (:mod:`engine.training.checkpoint` writes it); named here, where no torch is
imported: the app's Prune panel reads run folders."""


@contextlib.contextmanager
def kept_only_once_started(run_dir: str | os.PathLike) -> Iterator[Path]:
    """If the body raises while ``run_dir`` holds no checkpoint, remove the files the body created there (and
    the folder, if it created it); files that were there before are never touched."""
    run_dir = Path(run_dir)
    existed = run_dir.is_dir()
    before = set(run_dir.iterdir()) if existed else set()
    try:
        yield run_dir
    except RunInUse:  # what is there now is the other process's
        raise
    except BaseException:
        if run_dir.is_dir() and not (run_dir / CHECKPOINT_NAME).exists():
            for path in set(run_dir.iterdir()) - before:
                if path.is_file() and not path.is_symlink():
                    path.unlink(missing_ok=True)
            if not existed:
                with contextlib.suppress(OSError):  # not empty: something else put files there
                    run_dir.rmdir()
        raise


class RunInUse(SpandexError):
    """Another process trains in the run folder now."""


@contextlib.contextmanager
def held_alone(run_dir: str | os.PathLike) -> Iterator[None]:
    """Hold ``run_dir`` for this process's run: a second process training there at once (a second command, the
    app's Prune tab) would overwrite its checkpoints and model. A lock on the folder itself (nothing is written);
    the system releases it when the process ends, however it ends."""
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise SpandexError(f"the run folder {run_dir} cannot be opened: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInUse(f"{run_dir} is being trained in by another process now (another `spandex train`, "
                           "`prune` or `finetune`, or the app's Prune tab): wait for it to end, or stop it first") from None
        except OSError as exc:  # a file system without locks (some network ones): the run goes on unguarded
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise SpandexError(f"the run folder {run_dir} cannot be locked: {exc.strerror or exc}") from None
        yield
    finally:
        os.close(fd)

