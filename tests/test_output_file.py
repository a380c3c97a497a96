"""engine.files.output: outputs are checked before any work, written atomically, and nothing is left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.files.output import OutputError, audio_writer, check_output, write_block

REPO = Path(__file__).resolve().parents[1]


def test_a_read_only_folder_is_refused_before_any_work(tmp_path):
    """Root writes anywhere: as root, the check runs without the capability to override file permissions."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    code = f"from engine.files.output import check_output\ncheck_output({str(folder / 'out.wav')!r}, audio=True)"
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be taken away")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    try:
        result = subprocess.run([*prefix, sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    finally:
        folder.chmod(0o755)
    assert "OutputError: OUT " in result.stderr and f"no permission to write in {folder}" in result.stderr
    assert list(folder.iterdir()) == []


def test_the_check_creates_nothing_and_the_writer_removes_what_it_created_on_failure(tmp_path):
    target = check_output(tmp_path / "a" / "b" / "out.flac", audio=True)
    assert target.new_folders == (tmp_path / "a", tmp_path / "a" / "b") and not (tmp_path / "a").exists()
    announced = []
    with pytest.raises(KeyboardInterrupt):
        with audio_writer(target, 16000, announce=announced.append) as out:
            write_block(out, np.zeros(1600))
            raise KeyboardInterrupt
    assert announced == [tmp_path / "a", tmp_path / "a" / "b"]
    assert list(tmp_path.iterdir()) == []
    with audio_writer(target, 16000) as out:
        assert write_block(out, np.full(1600, 2.0)) == 1600  # clipped, as PCM holds no more: counted
    data, rate = sf.read(target.path)
    assert rate == 16000 and sf.info(target.path).format == "FLAC" and data.max() == pytest.approx(1.0, abs=1e-4)
    assert [p.name for p in target.path.parent.iterdir()] == ["out.flac"]


def test_a_link_is_refused_unless_followed(tmp_path):
    (tmp_path / "real.wav").write_bytes(b"x")
    (tmp_path / "link.wav").symlink_to(tmp_path / "real.wav")
    with pytest.raises(OutputError, match="is a symbolic link to"):
        check_output(tmp_path / "link.wav", audio=True)
    assert check_output(tmp_path / "link.wav", audio=True, follow_link=True).path == tmp_path / "real.wav"
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    with pytest.raises(OutputError, match="is a symbolic link"):
        check_output(tmp_path / "dangling.wav", audio=True)


@pytest.mark.parametrize("name", ["OUT.WAV", "x.Flac", "y.ogg"])
def test_known_extensions_in_any_case(tmp_path, name):
    assert check_output(tmp_path / name, audio=True).path == tmp_path / name
