"""Atomic file writes: readers see the old file or the complete new one, never a partial one.

The temporary file sits beside the target as ``.NAME.PID.*.tmp``. It is removed on every exit the process can
see (an exception, Ctrl-C, SIGTERM and SIGHUP through the CLI's handlers); one left by a process that was killed
outright (SIGKILL, power loss) is removed by the next write to the same file, once its process is gone.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: int = 0o666) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``.

    If the body raises (Ctrl-C included), the temporary file is removed and ``path`` keeps its old content.
    Parent folders are created. The file gets ``mode`` less the umask, as a new file would (0o600: private).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode & ~_umask())  # mkstemp makes it private; the result gets a new file's mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def temporary_prefix(path: Path) -> str:
    """The start of the name of a temporary file this process writes for ``path``."""
    return f".{path.name}.{os.getpid()}."


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that killed processes left for ``path`` (their PID no longer runs)."""
    removed = []
    with contextlib.suppress(OSError):
        for candidate in path.parent.glob(f".{_glob_escape(path.name)}.*.tmp"):
            pid = candidate.name[len(path.name) + 2:].split(".", 1)[0]
            if pid.isdigit() and not _running(int(pid)) and candidate.is_file() and not candidate.is_symlink():
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
    return removed


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in name)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread, for a moment)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (a no-op where a folder cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
