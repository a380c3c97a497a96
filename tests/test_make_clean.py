"""`make clean` removes caches and test artifacts, never what took hours to make (build/: datasets, runs)."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_clean_keeps_datasets_and_training_runs(tmp_path: Path) -> None:
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    kept = [tmp_path / "build/data/debian/manifest.json", tmp_path / "build/runs/dense/checkpoint.pt",
            tmp_path / ".venv/lib/__pycache__/kept.pyc"]
    removed = [tmp_path / ".pytest_cache/v/cache", tmp_path / "engine/__pycache__/model.pyc",
               tmp_path / "test-artifacts/shot.png"]
    for path in kept + removed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    subprocess.run(["make", "--no-print-directory", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert [p.relative_to(tmp_path) for p in kept if not p.exists()] == []
    assert [p.relative_to(tmp_path) for p in removed if p.exists()] == []
