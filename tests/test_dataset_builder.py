"""The dataset builder (N-DNS layout, mixing, disjoint validation) and the training-side reader."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from engine.dsp.mixing import active_rms
from engine.errors import SpandexError
from engine.files.audio import load_audio
from engine.files.pairing import pair_files
from engine.training.dataset import PairedClips
from engine.training.dataset_builder import MixSpec
from engine.training.dataset_layout import dataset_summary, split_folder, training_split_identity
from engine.training.sources import AudioGroup, check_disjoint, hold_out, scan_groups
from tests.corpus import REPO
from tests.training_data import CLIP_SECONDS

NOISY_NAME = re.compile(r"^[\w-]+_[\w-]+_snr(-?\d+)_tl(-\d+)_fileid_(\d+)\.wav$")



def stop_builds_in_training(monkeypatch):
    """Make `spandex data build` stop as at a Ctrl-C once the training split has its first clip; returns the builder
    it replaced."""
    import cli.data_command

    build = cli.data_command.build_dataset

    def stopped_in_training(*a, progress=None, **kw):
        def stop(split: str, done: int, total: int) -> None:
            if split == "train" and done == 1:
                raise KeyboardInterrupt
        return build(*a, progress=stop, **kw)

    monkeypatch.setattr(cli.data_command, "build_dataset", stopped_in_training)
    return build

def test_layout_names_and_mixing_follow_ndns(tiny_dataset):
    for split, count in (("training_set", 24), ("validation_set", 6)):
        folder = tiny_dataset / split
        for sub in ("clean", "noise", "noisy"):
            assert len(list((folder / sub).glob("*.wav"))) == count
        pairs = pair_files(folder / "noisy", folder / "clean")
        assert len(pairs) == count
        for pair in pairs[:6]:
            snr, level, fileid = map(int, NOISY_NAME.match(pair.noisy.name).groups())
            assert pair.clean.name == f"clean_fileid_{fileid}.wav"
            noisy, clean = load_audio(pair.noisy), load_audio(pair.clean)
            noise = load_audio(folder / "noise" / f"noise_fileid_{fileid}.wav")
            assert noisy.size == clean.size == noise.size == int(CLIP_SECONDS * 16000)
            np.testing.assert_allclose(noisy, clean + noise, atol=2e-4)  # 16-bit files
            assert -5 <= snr <= 20 and -35 <= level <= -15
            measured = 20 * np.log10(active_rms(clean) / active_rms(noise))
            assert measured == pytest.approx(snr, abs=0.2)
            rms_db = 20 * np.log10(np.sqrt(np.mean(noisy.astype(np.float64) ** 2)))
            assert rms_db <= level + 0.2  # at the target, or below it where clipping was guarded


def test_manifest_records_disjoint_sources(tiny_dataset):
    manifest = json.loads((tiny_dataset / "manifest.json").read_text())
    splits = manifest["splits"]
    assert set(splits["train"]["speech_groups"]).isdisjoint(splits["validation"]["speech_groups"])
    assert set(splits["train"]["noise_groups"]).isdisjoint(splits["validation"]["noise_groups"])
    train_files = {f for clip in manifest["clips"]["train"] for f in clip["speech_files"] + clip["noise_files"]}
    val_files = {f for clip in manifest["clips"]["validation"] for f in clip["speech_files"] + clip["noise_files"]}
    assert train_files and val_files and train_files.isdisjoint(val_files)
    # training got generated noise too (a group of its own), validation only real recordings
    kinds = {clip["noise_group"] for clip in manifest["clips"]["train"]}
    assert any(k.startswith("gen-") for k in kinds) and "keys-a" in kinds
    assert {clip["noise_group"] for clip in manifest["clips"]["validation"]} == {"keys-b"}


def test_paired_clips_read_the_split(tiny_dataset):
    train = PairedClips.load(split_folder(tiny_dataset, "train"), compact=True)
    exact = PairedClips.load(split_folder(tiny_dataset, "train"))
    assert len(train) == 24 and train.noisy[0].dtype == np.int16
    noisy, clean = train.clip(3)
    np.testing.assert_allclose(noisy, exact.noisy[3], atol=np.abs(exact.noisy[3]).max() / 30000)
    x, s = train.batch(np.random.default_rng(0), 5, 8000)
    assert tuple(x.shape) == tuple(s.shape) == (5, 8000)
    assert float(x.abs().max()) > 0
    groups = list(train.batches_in_order(10))
    assert sorted(i for indices, _, _ in groups for i in indices) == list(range(24))
    # a split folder is its own split
    assert split_folder(tiny_dataset / "validation_set", "validation") == tiny_dataset / "validation_set"


def grouped_sources(tmp_path: Path, speech_files: list[Path], noise_files: list[Path]) -> tuple[Path, Path]:
    """``tmp_path``/speech with four speakers of three files and ``tmp_path``/noise with four kinds of five (links)."""
    speech, noise = tmp_path / "speech", tmp_path / "noise"
    for folder, files, group in ((speech, speech_files[:12], "speaker"), (noise, noise_files[:20], "kind")):
        for i, path in enumerate(files):
            (folder / f"{group}{i % 4}").mkdir(parents=True, exist_ok=True)
            (folder / f"{group}{i % 4}" / path.name).symlink_to(path)
    return speech, noise


def test_cli_builds_and_holds_out_whole_groups(tmp_path, speech_corpus, keyboard_noise_files):
    speech, noise = grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    out = tmp_path / "data"
    args = ["data", "build", str(out), "--speech", str(speech), "--noise", str(noise), "--train-clips", "4",
            "--val-clips", "2", "--clip-seconds", "1.5", "--val-fraction", "0.25"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    train_groups = set(manifest["splits"]["train"]["speech_groups"])
    val_groups = set(manifest["splits"]["validation"]["speech_groups"])
    assert len(val_groups) == 1 and len(train_groups) == 3 and train_groups.isdisjoint(val_groups)
    stamp = (out / "training_set" / "clean" / "clean_fileid_0.wav").stat().st_mtime_ns
    assert main(args) == 0  # same settings: complete splits are kept, not rebuilt
    assert (out / "training_set" / "clean" / "clean_fileid_0.wav").stat().st_mtime_ns == stamp
    assert not list(out.glob("*.partial"))


def test_a_stopped_cli_build_says_so_and_its_refusals_name_the_command(tmp_path, capsys, monkeypatch, speech_corpus,
                                                                        keyboard_noise_files):
    """Stopped, `spandex data build` said only "interrupted"; the refusal of its unfinished split said to run "that
    build" again without saying which; a split folder given as the dataset itself was not refused at all."""
    import cli.data_command

    speech, noise = grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    monkeypatch.chdir(tmp_path)
    args = ["data", "build", "data", "--speech", "speech", "--noise", "noise", "--train-clips", "4", "--val-clips", "2",
            "--clip-seconds", "1.5", "--val-fraction", "0.25"]
    assert main(args) == 0
    build = stop_builds_in_training(monkeypatch)
    capsys.readouterr()
    changed = [*args[:args.index("--train-clips") + 1], "5", *args[args.index("--train-clips") + 2:]]
    assert main(changed) == 130
    err = capsys.readouterr().err
    assert "data is unfinished: run the same command again to finish it (the splits already made are kept)" in err
    command = f"cd {tmp_path} && spandex data build data --speech speech --noise noise --train-clips 5"
    for refused in (lambda: split_folder(tmp_path / "data", "train"), lambda: split_folder(tmp_path / "data" /
                                                                                              "training_set", "train")):
        with pytest.raises(SpandexError, match=r"its training_set/ is not one its last `spandex data build` finished "
                                               r".*: run that build again to finish it: " + re.escape(command)):
            refused()
    assert main(["eval", "--model", str(REPO / "assets" / "models" / "spandex-frugal.net"), "--noisy",
                 "data/training_set/noisy", "--clean", "data/training_set/clean"]) == 1
    assert "its training_set/ is not one its last `spandex data build` finished" in capsys.readouterr().err
    monkeypatch.setattr(cli.data_command, "build_dataset", build)
    assert main(changed) == 0
    assert "validation_set/ kept: built before from these sources and settings" in capsys.readouterr().out
    assert len(pair_files(tmp_path / "data" / "training_set" / "noisy", tmp_path / "data" / "training_set" / "clean")) == 5


def test_cli_adds_a_held_out_test_set_that_shares_nothing(tmp_path, capsys, speech_corpus, keyboard_noise_files):
    folders = {}
    for name, files in (("speech", speech_corpus[:8]), ("val-speech", speech_corpus[8:12]),
                        ("test-speech", speech_corpus[12:16]), ("noise", keyboard_noise_files[:8]),
                        ("val-noise", keyboard_noise_files[8:12]), ("test-noise", keyboard_noise_files[12:16])):
        for i, path in enumerate(files):
            group = tmp_path / name / f"{name}-{i % 2}"
            group.mkdir(parents=True, exist_ok=True)
            (group / path.name).symlink_to(path)
        folders[name] = str(tmp_path / name)
    out = tmp_path / "data"
    args = ["data", "build", str(out), "--train-clips", "3", "--val-clips", "2", "--test-clips", "2",
            "--clip-seconds", "1.5", *[f"--{name}={folder}" for name, folder in folders.items()]]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["splits"]["test"]["speech_groups"]) == {"test-speech-0", "test-speech-1"}
    assert set(manifest["splits"]["test"]["noise_groups"]) == {"test-noise-0", "test-noise-1"}
    assert len(pair_files(split_folder(out, "test") / "noisy", out / "test_set" / "clean")) == 2
    # a test group that validation (or training) already uses is refused before anything is written
    clash = [a.replace(folders["test-noise"], folders["val-noise"]) for a in args]
    assert main([a.replace(str(out), str(tmp_path / "clash")) for a in clash]) != 0
    assert "test shares group(s) val-noise-0, val-noise-1 with validation" in capsys.readouterr().err
    assert not (tmp_path / "clash").exists()
    assert main([a for a in args if not a.startswith("--test-noise")]) != 0
    assert "needs both --test-speech and --test-noise" in capsys.readouterr().err


def test_bad_sources_are_refused_clearly(tmp_path, speech_corpus):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpandexError, match="no audio files"):
        scan_groups([tmp_path / "empty"], "training speech")
    with pytest.raises(SpandexError, match="does not exist"):
        scan_groups([tmp_path / "missing"], "training speech")
    one = [AudioGroup("alice", tuple(speech_corpus[:3]))]
    with pytest.raises(SpandexError, match="only one group"):
        hold_out(one, 0.2, 0, "speech")
    with pytest.raises(SpandexError, match="shares group"):
        check_disjoint(one, [AudioGroup("alice", tuple(speech_corpus[3:5]))], "speech")
    with pytest.raises(SpandexError, match="both training and validation"):
        check_disjoint(one, [AudioGroup("bob", tuple(speech_corpus[2:4]))], "speech")
    with pytest.raises(SpandexError):
        MixSpec(snr_db=(20, -5))
    with pytest.raises(SpandexError, match="dataset folder"):
        split_folder(tmp_path / "nowhere", "train")


def test_summary_for_a_dataset_picker(tiny_dataset, tmp_path):
    summary = dataset_summary(tiny_dataset)
    assert summary["train_pairs"] == 24 and summary["validation_pairs"] == 6
    assert "talker3" in summary["sources"]["validation"]["speech_groups"]
    (tmp_path / "noisy").mkdir()
    with pytest.raises(SpandexError):
        dataset_summary(tmp_path)


def test_small_dataset_script_builds_a_try_it_dataset(tmp_path, speech_corpus):
    # a relative OUT is read from the caller's working folder, not from the repository the script runs in
    run = subprocess.run(["bash", str(REPO / "scripts" / "make_small_dataset.sh"), "small"], cwd=tmp_path,
                         capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not (REPO / "small").exists()
    summary = dataset_summary(tmp_path / "small")
    assert summary["train_pairs"] == 64 and summary["validation_pairs"] == 8
    assert set(summary["sources"]["validation"]["noise_groups"]) == {"babble"}
    # run again: the same dataset, its splits kept, so a run started on it still resumes (its sources had lain in a
    # new temporary folder each time: every split was made again and every run on it was refused)
    identity = training_split_identity(tmp_path / "small")
    again = subprocess.run(["bash", str(REPO / "scripts" / "make_small_dataset.sh"), "small"], cwd=tmp_path,
                           capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "training_set/ kept" in again.stdout and "validation_set/ kept" in again.stdout, again.stdout
    assert training_split_identity(tmp_path / "small") == identity


def test_a_cards_measured_on_tells_a_split_built_again_from_the_one_it_replaced():
    """Same dataset folder, as many clips of the same length: only the audio differs, and so does the text a card
    keeps (the library and scripts/measure_card_check.py compare it)."""
    from engine.evaluation.report import validation_measured_on
    from engine.training.dataset import PairedClips

    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(1024).astype(np.float32) for _ in range(4)]
    first = PairedClips(["0", "1"], clips[:2], clips[2:])
    again = PairedClips(["0", "1"], clips[:2], [clips[3], clips[2]])
    same = PairedClips(["0", "1"], [c.copy() for c in clips[:2]], [c.copy() for c in clips[2:]])
    assert validation_measured_on("build/data/x", first) == validation_measured_on("build/data/x", same)
    assert validation_measured_on("build/data/x", first) != validation_measured_on("build/data/x", again)
    assert validation_measured_on("build/data/x", first).startswith("validation split of build/data/x (2 clips, ")


def test_cli_notes_a_validation_speaker_whose_recordings_carry_a_hiss(tmp_path, capsys, speech_corpus,
                                                                        keyboard_noise_files):
    """Its recordings would be references that count their own hiss as a model's error: said, named, built anyway."""
    import soundfile as sf

    from engine.files.audio import load_audio

    rng = np.random.default_rng(3)
    folders = {"speech": tmp_path / "speech", "val-speech": tmp_path / "val-speech", "noise": tmp_path / "noise",
               "val-noise": tmp_path / "val-noise"}
    for name, files in (("speech", speech_corpus[:4]), ("val-speech", speech_corpus[4:8]),
                        ("noise", keyboard_noise_files[:4]), ("val-noise", keyboard_noise_files[4:8])):
        for i, path in enumerate(files):
            group = folders[name] / f"{name}-{i % 2}"
            group.mkdir(parents=True, exist_ok=True)
            if name == "val-speech" and i % 2:  # group val-speech-1: the same reader over a steady hiss
                audio = load_audio(path)
                hiss = 10 ** (-12 / 20) * np.sqrt(np.mean(audio**2)) * rng.standard_normal(audio.size)
                sf.write(group / path.name, (audio + hiss).astype(np.float32), 16000)
            else:
                (group / path.name).symlink_to(path)
    args = ["data", "build", str(tmp_path / "data"), "--train-clips", "2", "--val-clips", "2", "--clip-seconds", "1.5",
            *[f"--{name}={folder}" for name, folder in folders.items()]]
    assert main(args) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith("note: validation speech group val-speech-1: its recordings' "
                                                   "background lies only ")
    assert notes[0].endswith("to leave it out: --skip-group val-speech-1")
    # as the note says: --skip-group leaves a validation group out too (it once reached training's groups only)
    assert main(["data", "build", str(tmp_path / "data2"), *args[3:], "--skip-group", "val-speech-1"]) == 0
    captured = capsys.readouterr()
    assert "skipped groups: val-speech-1" in captured.out and "note:" not in captured.err
    manifest = json.loads((tmp_path / "data2" / "manifest.json").read_text())
    assert set(manifest["splits"]["validation"]["speech_groups"]) == {"val-speech-0"}


@pytest.mark.parametrize(("out", "said"), [
    ("afile.txt", "OUT afile.txt is a file, not a folder: name a folder for the dataset"),
    ("afile.txt/sub", "OUT afile.txt/sub: afile.txt is a file, not a folder: name a folder for the dataset"),
    ("dangling", "OUT dangling is a symbolic link to nowhere, which does not exist: give the folder's own path"),
    ("dangling/sub", "OUT dangling/sub: dangling is a symbolic link to nowhere, which does not exist"),
])
def test_an_out_that_cannot_be_a_folder_is_refused_in_words_before_the_sources_are_read(tmp_path, capsys, monkeypatch,
                                                                                       out, said):
    """`spandex data build` said "File exists: afile.txt" or "Not a directory: afile.txt/sub", and only after it had
    scanned every source: here the sources do not even exist, and OUT is what is refused."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile.txt").write_text("notes")
    (tmp_path / "dangling").symlink_to("nowhere")
    assert main(["data", "build", out, "--speech", "no-speech", "--noise", "no-noise"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"spandex: error: {said}") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt", "dangling"]
    assert (tmp_path / "afile.txt").read_text() == "notes"


def test_out_in_a_source_folder_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch, speech_corpus,
                                                                      keyboard_noise_files):
    """`spandex data build speech/data --speech speech` was accepted: the next build reading speech/ took the dataset's
    training_set/ and validation_set/ for speakers (noisy mixtures as clean targets, validation clips in training)."""
    grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    (tmp_path / "val" / "reader").mkdir(parents=True)
    (tmp_path / "val" / "reader" / "a.wav").symlink_to(speech_corpus[20])
    monkeypatch.chdir(tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for out, said in (("speech", "OUT speech is the training speech folder speech: a build that reads speech would "
                                 "take this dataset's clips for recordings; give OUT outside every source folder"),
                      ("speech/data", "OUT speech/data lies inside the training speech folder speech"),
                      ("./noise/kind1/data", "OUT ./noise/kind1/data lies inside the training noise folder noise"),
                      ("val/new", "OUT val/new lies inside the validation speech folder val")):
        assert main(["data", "build", out, "--speech", "speech", "--noise", "noise", "--val-speech", "val"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"spandex: error: {said}") and err.count("\n") == 1, err
    assert main(["data", "build", "data", "--speech", "data/training_set/clean", "--noise", "noise"]) == 1
    assert ("the training speech folder data/training_set/clean lies inside training_set/ of OUT data, which the build "
            "replaces") in capsys.readouterr().err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_dataset_in_a_source_folder_is_never_read_as_recordings(tmp_path, capsys, monkeypatch, speech_corpus,
                                                                  keyboard_noise_files):
    """A dataset inside a speaker's folder is skipped with a note (its clips are not that speaker's recordings); a source
    folder that is a dataset, or lies in one, is refused."""
    grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    monkeypatch.chdir(tmp_path)
    small = ["--noise", "noise", "--train-clips", "2", "--val-clips", "1", "--clip-seconds", "1.5", "--val-fraction",
             "0.25"]
    assert main(["data", "build", "data", "--speech", "speech", *small]) == 0
    (tmp_path / "data").rename(tmp_path / "speech" / "speaker0" / "old")  # finished, then one stopped halfway:
    (tmp_path / "speech" / "speaker1" / "stopped").mkdir()
    (tmp_path / "speech" / "speaker1" / "stopped" / "manifest.json").write_text('{"format": "spandex-dataset-1"}')
    (tmp_path / "speech" / "speaker1" / "stopped" / "training_set.partial").symlink_to(
        tmp_path / "speech" / "speaker0" / "old" / "training_set", target_is_directory=True)
    capsys.readouterr()
    assert main(["data", "build", "again", "--speech", "speech", *small]) == 0
    err = capsys.readouterr().err
    for dataset in ("speech/speaker0/old", "speech/speaker1/stopped"):
        assert (f"note: training speech: skipped {dataset}: a dataset `spandex data build` made (manifest.json), not "
                f"recordings") in err
    manifest = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert {**manifest["splits"]["train"]["speech_groups"], **manifest["splits"]["validation"]["speech_groups"]} == {
        f"speaker{i}": 3 for i in range(4)}
    for source, said in (("speech/speaker0/old", "the training speech folder speech/speaker0/old is a dataset"),
                         ("speech/speaker0/old/training_set", "the training speech folder "
                          f"speech/speaker0/old/training_set lies inside {tmp_path.resolve()}/speech/speaker0/old, a dataset")):
        assert main(["data", "build", "other", "--speech", source, *small]) == 1
        assert capsys.readouterr().err.startswith(f"spandex: error: {said} `spandex data build` made (manifest.json)")
    assert not (tmp_path / "other").exists()


def _as_mp3(source: Path, mp3: Path) -> Path:
    import soundfile as sf

    audio, rate = sf.read(source, dtype="float32")
    mp3.parent.mkdir(parents=True, exist_ok=True)
    sf.write(mp3, audio, rate, format="MP3", subtype="MPEG_LAYER_III")
    return mp3


def test_mp3_recordings_are_read_as_denoise_reads_them(tmp_path, capsys, monkeypatch, speech_corpus,
                                                       keyboard_noise_files):
    """A speaker folder of MP3s vanished from the group list without a word, and an MP3-only folder gave "no audio files
    (WAV, FLAC, OGG) found", while `spandex denoise` reads MP3 (libsndfile): the builder reads them the same way, and so
    do fresh mixtures."""
    from engine.training.fresh_mixtures import FreshMixtures

    speech, noise = grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    for link in (speech / "speaker3").iterdir():
        _as_mp3(link, link.with_suffix(".mp3"))
        link.unlink()
    val_noise = tmp_path / "mp3-noise"
    for i, path in enumerate(keyboard_noise_files[40:46]):
        _as_mp3(path, val_noise / f"mp3-kind{i % 2}" / f"{path.stem}.mp3")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "build", "data", "--speech", "speech", "--noise", "noise", "--val-noise", "mp3-noise",
                 "--train-clips", "3", "--val-clips", "2", "--clip-seconds", "1.5", "--val-fraction", "0.25"]) == 0
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    speech_groups = {**manifest["splits"]["train"]["speech_groups"], **manifest["splits"]["validation"]["speech_groups"]}
    assert speech_groups["speaker3"] == 3
    assert manifest["splits"]["validation"]["noise_groups"] == {"mp3-kind0": 3, "mp3-kind1": 3}
    assert all(Path(f).suffix == ".mp3" for clip in manifest["clips"]["validation"] for f in clip["noise_files"])
    assert len(pair_files(tmp_path / "data" / "validation_set" / "noisy", tmp_path / "data" / "validation_set" /
                          "clean")) == 2
    fresh = tmp_path / "fresh"
    _as_mp3(speech_corpus[0], fresh / "speech" / "alice" / "a.mp3")
    _as_mp3(keyboard_noise_files[0], fresh / "noise" / "keys" / "k.mp3")
    loaded = FreshMixtures.load(fresh)
    assert [pool.name for pool in loaded.speech] == ["alice"] and [pool.name for pool in loaded.noise] == ["keys"]


def test_a_first_build_that_fails_leaves_nothing_and_a_rebuild_keeps_what_it_finished(tmp_path, capsys, monkeypatch,
                                                                                      speech_corpus,
                                                                                      keyboard_noise_files):
    """A bad source file stopped the build with a clear message but left OUT holding manifest.json and
    training_set.partial/ (bad-input.md promises nothing added). Here the training split is finished before the
    validation noise's bad files are met."""
    grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    for name, content in (("empty.wav", b""), ("notes.wav", b"not audio\n")):
        (tmp_path / "bad-noise" / "hiss").mkdir(parents=True, exist_ok=True)
        (tmp_path / "bad-noise" / "hiss" / name).write_bytes(content)
    (tmp_path / "good-noise" / "hum").mkdir(parents=True)
    for path in keyboard_noise_files[30:35]:
        (tmp_path / "good-noise" / "hum" / path.name).symlink_to(path)
    (tmp_path / "empty-folder").mkdir()
    monkeypatch.chdir(tmp_path)
    small = ["--speech", "speech", "--noise", "noise", "--train-clips", "2", "--val-clips", "1", "--clip-seconds", "1.5",
             "--val-fraction", "0.25"]
    for out in ("new/data", "empty-folder"):
        assert main(["data", "build", out, *small, "--val-noise", "bad-noise"]) == 1
        assert capsys.readouterr().err.startswith("spandex: error: cannot use bad-noise/hiss/")
    assert not (tmp_path / "new").exists() and list((tmp_path / "empty-folder").iterdir()) == []

    assert main(["data", "build", "data", *small, "--val-noise", "good-noise"]) == 0
    stamp = (tmp_path / "data" / "training_set" / "clean" / "clean_fileid_0.wav").stat().st_mtime_ns
    assert main(["data", "build", "data", *small, "--val-noise", "bad-noise"]) == 1  # a rebuild: what was done stays
    assert (tmp_path / "data" / "training_set" / "clean" / "clean_fileid_0.wav").stat().st_mtime_ns == stamp
    assert not list((tmp_path / "data").glob("*.partial"))
    assert "train" in json.loads((tmp_path / "data" / "manifest.json").read_text())["splits"]
    capsys.readouterr()
    assert main(["data", "build", "data", *small, "--val-noise", "good-noise"]) == 0
    assert "training_set/ kept: built before from these sources and settings" in capsys.readouterr().out


def test_a_stopped_first_build_is_named_unfinished_with_the_command_to_finish_it(tmp_path, capsys, monkeypatch,
                                                                                 speech_corpus, keyboard_noise_files):
    """After a first build stopped by Ctrl-C, `spandex prune --dataset OUT` (as train) said "OUT has no training_set/
    folder and is not itself a split", not that OUT holds an unfinished build and how to finish it."""

    grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    monkeypatch.chdir(tmp_path)
    stop_builds_in_training(monkeypatch)
    assert main(["data", "build", "data", "--speech", "speech", "--noise", "noise", "--train-clips", "3",
                 "--clip-seconds", "1.5", "--val-fraction", "0.25"]) == 130
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["manifest.json"]  # no half-written split
    capsys.readouterr()
    assert main(["prune", "spandex-dense", "--sparsity", "0.8", "--dataset", "data", "--steps", "20", "--frequency",
                 "2", "--prunes", "5"]) == 1
    assert capsys.readouterr().err == (
        "spandex: error: data: its training_set/ is not one its last `spandex data build` finished (manifest.json does "
        "not list a train split: a build stopped while making it, or one that made none): run that build again to "
        f"finish it: cd {tmp_path} && spandex data build data --speech speech --noise noise --train-clips 3 "
        "--clip-seconds 1.5 --val-fraction 0.25\n")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "build").exists()


def test_a_validation_file_with_a_training_files_bytes_is_refused_under_any_name(tmp_path, capsys, monkeypatch,
                                                                                speech_corpus, keyboard_noise_files):
    """Overlap was checked by path only: a byte-for-byte copy of a training file in a validation group, under another
    name, was accepted (docs/training.md says the builder refuses a validation set sharing a file with training)."""
    speech, noise = grouped_sources(tmp_path, speech_corpus, keyboard_noise_files)
    original = sorted((noise / "kind1").iterdir())[2]
    (tmp_path / "val-noise" / "hum").mkdir(parents=True)
    for path in keyboard_noise_files[30:33]:
        (tmp_path / "val-noise" / "hum" / path.name).symlink_to(path)
    same_size = bytearray(original.read_bytes())
    same_size[-1] ^= 1  # one sample's lowest bit: the same size, other bytes (not a copy)
    (tmp_path / "val-noise" / "hum" / "nearly.wav").write_bytes(same_size)
    train, validation = scan_groups([noise], "training noise"), scan_groups([tmp_path / "val-noise"], "noise")
    check_disjoint(train, validation, "noise")
    (tmp_path / "val-noise" / "hum" / "renamed.wav").write_bytes(original.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["data", "build", "data", "--speech", "speech", "--noise", "noise", "--val-noise", "val-noise",
                 "--val-fraction", "0.25"]) == 1
    assert capsys.readouterr().err == (f"spandex: error: noise: validation file val-noise/hum/renamed.wav is a copy of "
                                       f"training file noise/kind1/{original.name} (the same bytes); validation must "
                                       f"use other recordings\n")
    assert not (tmp_path / "data").exists()
