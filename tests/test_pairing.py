"""engine.files.pairing on real WAV/FLAC files in temporary folders."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.errors import SpandexError
from engine.files.pairing import Pair, UnpairedFilesWarning, pair_files


def make(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tone = (0.1 * np.sin(np.arange(1600) * 0.3)).astype(np.float32)
    for name in names:
        fmt = "FLAC" if name.lower().endswith(".flac") else "WAV"
        sf.write(folder / name, tone, 16000, format=fmt)


def test_pairs_by_identical_name(tmp_path: Path) -> None:
    make(tmp_path / "noisy", "b.wav", "a.flac")
    make(tmp_path / "clean", "a.flac", "b.wav")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pairs = pair_files(tmp_path / "noisy", tmp_path / "clean")
    assert pairs == [
        Pair(tmp_path / "noisy" / "a.flac", tmp_path / "clean" / "a.flac", "a"),
        Pair(tmp_path / "noisy" / "b.wav", tmp_path / "clean" / "b.wav", "b"),
    ]
    noisy, clean, key = pairs[0]  # unpacks as a plain tuple
    assert key == "a"


def test_pairs_ndns_names_by_fileid_in_numeric_order(tmp_path: Path) -> None:
    make(
        tmp_path / "noisy",
        "book_07_door_snr5_tl-25_fileid_10.wav",
        "reader_12_fan_snr-3_tl-31_fileid_2.wav",
        "x_y_snr20_tl-15_fileid_0.wav",
    )
    make(tmp_path / "clean", "clean_fileid_0.wav", "clean_fileid_2.wav", "clean_fileid_10.wav")
    pairs = pair_files(tmp_path / "noisy", tmp_path / "clean")
    assert [p.key for p in pairs] == ["0", "2", "10"]
    assert pairs[2].noisy.name.startswith("book_07") and pairs[2].clean.name == "clean_fileid_10.wav"


def test_unpaired_files_are_reported_not_dropped_silently(tmp_path: Path) -> None:
    make(tmp_path / "noisy", "a.wav", "lonely.wav", "n_snr0_tl-20_fileid_3.wav")
    make(tmp_path / "clean", "a.wav", "clean_fileid_3.wav", "clean_fileid_4.WAV")
    (tmp_path / "clean" / "notes.txt").write_text("not audio")
    with pytest.warns(UnpairedFilesWarning, match="2 file") as record:
        pairs = pair_files(tmp_path / "noisy", tmp_path / "clean")
    assert [p.key for p in pairs] == ["3", "a"]
    message = str(record[0].message)
    assert "lonely.wav" in message and "clean_fileid_4.WAV" in message and "notes.txt" not in message


def test_missing_folder(tmp_path: Path) -> None:
    make(tmp_path / "clean", "a.wav")
    with pytest.raises(SpandexError, match="noisy folder .* does not exist"):
        pair_files(tmp_path / "nope", tmp_path / "clean")


def test_folder_that_is_a_file(tmp_path: Path) -> None:
    make(tmp_path / "noisy", "a.wav")
    with pytest.raises(SpandexError, match="clean folder .* is not a folder"):
        pair_files(tmp_path / "noisy", tmp_path / "noisy" / "a.wav")


def test_folder_without_audio(tmp_path: Path) -> None:
    make(tmp_path / "noisy", "a.wav")
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "readme.txt").write_text("nothing here")
    with pytest.raises(SpandexError, match=r"clean folder .* holds no audio files \(WAV, FLAC, OGG, MP3\)"):
        pair_files(tmp_path / "noisy", tmp_path / "clean")


def test_nothing_pairs(tmp_path: Path) -> None:
    make(tmp_path / "noisy", "take1.wav")
    make(tmp_path / "clean", "reference.wav")
    with pytest.raises(SpandexError, match="no file .* pairs") as info:
        pair_files(tmp_path / "noisy", tmp_path / "clean")
    assert "take1.wav" in str(info.value) and "reference.wav" in str(info.value)


def test_duplicate_fileid_is_ambiguous(tmp_path: Path) -> None:
    make(tmp_path / "noisy", "a_snr0_fileid_7.wav", "b_snr5_fileid_07.wav")
    make(tmp_path / "clean", "clean_fileid_7.wav")
    with pytest.raises(SpandexError, match="id 7 appears twice"):
        pair_files(tmp_path / "noisy", tmp_path / "clean")


def test_an_mp3_recording_pairs_and_is_scored_as_denoise_reads_it(tmp_path: Path) -> None:
    """`spandex eval` skipped a noisy .mp3 without naming it (its folders took WAV and FLAC only), while `spandex
    denoise` and `spandex data build` read MP3: all three take the suffixes engine.files.audio reads."""
    from engine.evaluation.evaluate import evaluate
    from engine.files.netx import load_model
    from tests.reference_models import reference_path

    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    clean = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    sf.write(tmp_path / "clean" / "talk.mp3", clean, 16000, format="MP3", subtype="MPEG_LAYER_III")
    noisy = (clean + 0.05 * rng.standard_normal(clean.size)).astype(np.float32)
    sf.write(tmp_path / "noisy" / "talk.mp3", noisy, 16000, format="MP3", subtype="MPEG_LAYER_III")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnpairedFilesWarning)
        pairs = pair_files(tmp_path / "noisy", tmp_path / "clean")
    assert [(p.noisy.name, p.clean.name) for p in pairs] == [("talk.mp3", "talk.mp3")]
    scored = evaluate(load_model(reference_path("ndns_baseline.net")), pairs, backend="dense")
    # both decoded and aligned: the input scores about the SNR it was made at (noise 0.05 rms under a 0.17 rms tone)
    assert len(scored.files) == 1 and 8 < scored.files[0].si_snr_noisy < 14 and np.isfinite(scored.files[0].si_snr)


def test_the_same_name_in_another_format_pairs_where_it_is_one_file(tmp_path: Path) -> None:
    """A noisy talk.mp3 with a clean talk.wav pairs (it was left out); a name two clean files share does not."""
    make(tmp_path / "noisy", "talk.wav", "song.wav", "both.wav")
    make(tmp_path / "clean", "talk.flac", "both.wav", "song.flac", "song.wav")
    for name in ("talk", "song"):  # the noisy files in another format than their references
        (tmp_path / "noisy" / f"{name}.wav").rename(tmp_path / "noisy" / f"{name}.ogg")
    (tmp_path / "clean" / "song.wav").rename(tmp_path / "clean" / "song.oga")
    with pytest.warns(UnpairedFilesWarning, match="song") as said:
        pairs = pair_files(tmp_path / "noisy", tmp_path / "clean")
    assert sorted((p.noisy.name, p.clean.name) for p in pairs) == [("both.wav", "both.wav"), ("talk.ogg", "talk.flac")]
    names = sorted(str(tmp_path / f) for f in ("noisy/song.ogg", "clean/song.flac", "clean/song.oga"))
    assert str(said[0].message).endswith(  # (not just "no partner": it has two)
        f"(which file pairs with which is not clear where one folder holds the same name in two formats: "
        f"{', '.join(sorted(names, key=lambda n: ('/clean/' in n, n)))}; keep one of each)")
