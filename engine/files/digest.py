"""A file's SHA-256, read through in blocks: which bytes a file holds, whatever its name."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 of the file at ``path`` (read in blocks, not whole into memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
