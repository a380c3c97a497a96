"""The project as a user installs it: a wheel, a fresh venv, ``spandex`` run from outside the checkout.

The wheel is built from a copy of the sources (so the checkout gets no build/ or egg-info), installed with
``--no-deps`` into a new venv that sees this venv's packages through a path file (so nothing is downloaded
and no torch build is pulled), and run from a temporary folder with no PYTHONPATH: the models, the demo clip
and the noise beds must come from where the wheel put them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import engine

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("engine", "app", "cli", "assets", "pyproject.toml", "README.md", "LICENSE")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, env=_clean_env(), timeout=600)
    (built,) = out.glob("spandex-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; its python."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # this venv's third-party packages (torch, numpy, PySide6...), after the new venv's own
    (purelib / "spandex-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, env=_clean_env(), timeout=600)
    return python


@pytest.mark.slow
def test_the_wheel_ships_the_code_the_data_and_their_licences(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [p.relative_to(REPO).as_posix() for p in (REPO / "assets").rglob("*")
               if p.is_file() and p.suffix in (".net", ".json", ".flac", ".md")]
    assert shipped and not [name for name in shipped if name not in names]
    assert {"engine/live/worker.py", "app/launch.py", "cli/main.py", "assets/__init__.py"} <= names
    licences = {Path(name).name for name in names if "/licenses/" in name}
    assert {"LICENSE", "README.md"} <= licences, licences
    assert not [name for name in names if name.startswith("tests/")]


@pytest.mark.slow
def test_installed_spandex_denoises_from_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = _clean_env()
    spandex = installed.parent / "spandex"
    version = subprocess.run([str(spandex), "--version"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"spandex {engine.__version__}", version
    where = subprocess.run([str(installed), "-c", "import engine, assets; print(engine.__file__); "
                            "print(assets.asset_path('models'))"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, check=True).stdout.split()
    home = installed.parents[1]
    assert all(Path(p).is_relative_to(home) for p in where), where  # the installed copy, not the checkout
    rng = np.random.default_rng(0)
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    result = subprocess.run([str(spandex), "denoise", str(noisy), str(tmp_path / "out.wav")],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    out, rate = sf.read(tmp_path / "out.wav")
    assert rate == 16000 and abs(len(out) - 16000) <= 1 and np.all(np.isfinite(out))
