"""scripts/collect_debian_audio.py: a rebuild removes the groups it no longer makes, and nothing else."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "collect_debian_audio.py"


def _collector():
    spec = importlib.util.spec_from_file_location("collect_debian_audio", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _group(dest: Path, name: str) -> Path:
    folder = dest / name
    folder.mkdir(parents=True)
    (folder / "a.wav").write_bytes(b"RIFF")
    return folder


def test_a_group_the_last_run_made_and_this_one_does_not_is_removed_and_no_other(tmp_path):
    collector = _collector()
    dropped, kept = _group(tmp_path, "speech/validation/asterisk-ru"), _group(tmp_path, "noise/validation/keyboard")
    voices = _group(tmp_path, "speech/train/tts-espeak-ng-fr-f4")  # another script's: never listed
    # the first run knows nothing it made before: it removes nothing, and records what it made
    assert collector.remove_stale_groups(tmp_path, {"speech/validation/asterisk-ru", "noise/validation/keyboard"}) == []
    assert dropped.is_dir() and kept.is_dir() and voices.is_dir()
    # the next run no longer makes asterisk-ru
    assert collector.remove_stale_groups(tmp_path, {"noise/validation/keyboard"}) == ["speech/validation/asterisk-ru"]
    assert not dropped.exists() and kept.is_dir() and (kept / "a.wav").is_file() and voices.is_dir()
    assert (tmp_path / collector.GROUPS_MADE).read_text() == "noise/validation/keyboard\n"
    # a run that makes nothing new removes nothing more
    assert collector.remove_stale_groups(tmp_path, {"noise/validation/keyboard"}) == []
