"""Whether this user may read a file: said as such, where a reader would call the file corrupt or not there."""

from __future__ import annotations

from pathlib import Path

PERMISSION_DENIED = "permission denied: this user may not read it"


def unreadable(path: Path) -> str | None:
    """Why this user cannot read the regular file ``path`` (None: it can, or it fails otherwise: the reader names
    that). libsndfile said "System error" and h5py "corrupt or truncated?" of a file only its owner may read."""
    try:
        with open(path, "rb"):
            return None
    except PermissionError:
        return PERMISSION_DENIED
    except OSError:
        return None
