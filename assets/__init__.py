"""The data SPANDEX ships: its trained models, the demo clip and the recorded noise beds.

Installed as package data beside the code, so the engine finds them wherever ``pip`` put them (see
README.md in this folder for what each file is and where it came from, with its licence).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def asset_path(*parts: str) -> Path:
    """The shipped file or folder ``assets/<parts...>`` as a filesystem path (it may not exist)."""
    return Path(str(files(__name__))).joinpath(*parts)
