"""An earlier git revision's files, unpacked beside a benchmark run, to time it side by side with today's."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def unpack_revision(rev: str, folder: Path, paths: tuple[str, ...] = ("engine",)) -> Path:
    """REV's tracked files under ``paths`` unpacked into ``folder``/tree; exits with a message if git cannot."""
    archive = folder / "tree.tar"
    done = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), rev, *paths],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"--baseline {rev}: git cannot archive it ({done.stderr.strip().splitlines()[-1]})")
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    return folder / "tree"
