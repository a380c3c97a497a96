"""Where the external reference networks live: ../shared/reference_models, beside the repository."""

from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference_models"
REFERENCE_NETS = ("ndns_baseline", "ndns_baseline_nodelay", "spandex_prune50", "spandex_prune75")


def reference_path(name: str) -> Path:
    """Path of a reference file (e.g. ``ndns_baseline.net``); fails the test clearly if it is missing."""
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.fail(f"reference model {path} is missing: tests read ../shared/reference_models")
    return path
