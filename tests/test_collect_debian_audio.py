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


def test_a_record_line_that_is_not_one_of_its_groups_deletes_nothing(tmp_path):
    """A hand-edited or corrupted record: only kind/split/<plain name> folders inside DEST, reached without a link,
    are ever deleted; a group that is a link is left too (rmtree would refuse it, after the whole collection)."""
    collector = _collector()
    dest = tmp_path / "sources"
    outside = _group(tmp_path, "outside")
    voices = _group(dest, "speech/train/tts-espeak-ng-fr-f4")
    elsewhere = _group(tmp_path, "elsewhere/keyboard")
    (dest / "noise" / "validation").mkdir(parents=True)
    (dest / "noise" / "validation" / "linked").symlink_to(elsewhere, target_is_directory=True)
    linked_split = dest / "noise" / "test"
    linked_split.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    lines = ["../outside", str(outside), ".", "speech", "speech/train", "speech/train/../../../outside",
             "noise/validation/linked", "noise/test/keyboard", "music/train/x", "speech/train/.hidden"]
    (dest / collector.GROUPS_MADE).write_text("\n".join(lines) + "\n")
    assert collector.remove_stale_groups(dest, set()) == []
    assert outside.is_dir() and voices.is_dir() and (elsewhere / "a.wav").is_file()
    assert (dest / "noise" / "validation" / "linked").is_symlink()


def test_a_missing_archive_package_stops_the_run_before_anything_is_deleted(tmp_path):
    """0 A.D. and UFO:AI are read from inside their archives, not by the patterns: without them the run made no
    0ad or ufoai group and deleted every one the last run had made."""
    collector = _collector()
    unpacked, dest = tmp_path / "unpacked", tmp_path / "sources"
    packages = {pattern.split("/")[0] for *_, pattern in collector.SPEECH + collector.NOISE}
    for package in packages | {"ufoai-sound"}:  # every one but 0ad-data
        (unpacked / package).mkdir(parents=True)
    zad = _group(dest, "noise/train/0ad-ambience")
    (dest / collector.GROUPS_MADE).write_text("noise/train/0ad-ambience\n")
    try:
        collector.collect(unpacked, dest)
    except SystemExit as stop:
        assert "0ad-data is missing" in str(stop)
    else:
        raise AssertionError("collect() ran without 0ad-data")
    assert (zad / "a.wav").is_file()


def test_a_group_moved_from_training_to_validation_is_in_validation_after_one_run(tmp_path):
    """The old training group is deleted as stale before validation is checked for copies of training files: it
    was once checked first, and the moved group was dropped from validation as a copy of itself."""
    import numpy as np
    import soundfile as sf

    collector = _collector()
    unpacked, dest = tmp_path / "unpacked", tmp_path / "sources"
    (unpacked / "pkg").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(unpacked / "pkg" / f"rain{i}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    collector.SPEECH, collector.ARCHIVE_PACKAGES = [], ()
    collector.NOISE = [("train", "rain", "pkg/*.wav")]
    collector.collect(unpacked, dest)
    assert len(list((dest / "noise" / "train" / "rain").glob("*.wav"))) == 3
    collector.NOISE = [("validation", "rain", "pkg/*.wav")]
    collector.collect(unpacked, dest)
    assert not (dest / "noise" / "train" / "rain").exists()
    assert len(list((dest / "noise" / "validation" / "rain").glob("*.wav"))) == 3
    assert (dest / collector.GROUPS_MADE).read_text() == "noise/validation/rain\n"


def test_a_record_that_cannot_be_read_stops_the_run_before_any_work(tmp_path):
    collector = _collector()
    dest = tmp_path / "sources"
    (dest / collector.GROUPS_MADE).mkdir(parents=True)  # a folder where the record should be
    try:
        collector.collect(tmp_path / "unpacked", dest)
    except SystemExit as stop:
        assert "cannot be read" in str(stop) and "move it away" in str(stop)
    else:
        raise AssertionError("collect() ran with a record it cannot read")


def test_a_speech_group_whose_background_lies_under_20_db_below_its_voice_is_not_collected(tmp_path):
    """Words with pauses between them are kept; the same words over a steady hiss 12 dB under them are a group
    whose references would count the hiss as a model's error: dropped, said, and not recorded as made."""
    import numpy as np
    import soundfile as sf

    from engine.training.sources import AudioGroup, background_db

    collector = _collector()
    unpacked, dest = tmp_path / "unpacked", tmp_path / "sources"
    rng = np.random.default_rng(0)
    for reader, hiss in (("clean", 0.0), ("hissy", 0.25 * 10 ** (-12 / 20))):
        (unpacked / "pkg" / reader).mkdir(parents=True)
        for i in range(4):
            word = 0.25 * rng.standard_normal(8000) * np.hanning(8000) ** 0.1  # a 0.5-s "word"
            audio = np.concatenate([np.zeros(4000), word, np.zeros(8000), word, np.zeros(4000)])
            audio = audio + hiss * rng.standard_normal(audio.size)
            sf.write(unpacked / "pkg" / reader / f"w{i}.wav", audio.astype(np.float32), 16000)
    collector.ARCHIVE_PACKAGES, collector.NOISE = (), []
    collector.SPEECH = [("test", "reader-clean", "pkg/clean/*.wav"), ("test", "reader-hissy", "pkg/hissy/*.wav")]
    readers = {reader: AudioGroup(reader, tuple(sorted((unpacked / "pkg" / reader).glob("*.wav"))))
               for reader in ("clean", "hissy")}
    assert background_db(readers["clean"]) > 60 and 10 < background_db(readers["hissy"]) < 14
    counts = collector.collect(unpacked, dest)
    assert len(list((dest / "speech" / "test" / "reader-clean").glob("*.wav"))) == 4
    assert not (dest / "speech" / "test" / "reader-hissy").exists()
    assert counts["background under 20 dB (a group of 4)"] == 1
    assert (dest / collector.GROUPS_MADE).read_text() == "speech/test/reader-clean\n"


def test_validation_and_test_files_that_copy_a_training_file_are_dropped(tmp_path):
    """Games share recordings (LinCity's Mill1 is SuperTux's saw): neither split may hold a sound training hears."""
    import numpy as np
    import soundfile as sf

    collector = _collector()
    unpacked, dest = tmp_path / "unpacked", tmp_path / "sources"
    rng = np.random.default_rng(1)
    saw = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    for package, names in (("game-a", ("saw", "drill")), ("game-b", ("saw", "rain")), ("game-c", ("saw", "bell"))):
        (unpacked / package).mkdir(parents=True)
        for name in names:
            audio = saw if name == "saw" else (0.1 * rng.standard_normal(8000)).astype(np.float32)
            sf.write(unpacked / package / f"{name}.wav", audio, 16000)
    collector.SPEECH, collector.ARCHIVE_PACKAGES = [], ()
    collector.NOISE = [("train", "a", "game-a/*.wav"), ("validation", "b", "game-b/*.wav"), ("test", "c", "game-c/*.wav")]
    counts = collector.collect(unpacked, dest)
    assert sorted(p.name for p in (dest / "noise" / "validation" / "b").glob("*.wav")) == ["game-b_rain.wav"]
    assert sorted(p.name for p in (dest / "noise" / "test" / "c").glob("*.wav")) == ["game-c_bell.wav"]
    assert counts["a copy of a training file (validation)"] == 1 and counts["a copy of a training file (test)"] == 1
