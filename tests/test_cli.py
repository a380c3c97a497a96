"""The ``spandex`` command run as a user runs it: a real process on real files."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from engine.evaluation.metrics import si_snr
from engine.files.audio import resample
from tests.reference_models import reference_path

BASELINE = str(reference_path("ndns_baseline.net"))
REPO = Path(__file__).resolve().parents[1]


def spandex(*args, check_ok=True):
    result = subprocess.run([sys.executable, "-m", "cli.main", *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    if check_ok:
        assert result.returncode == 0, result.stderr
    return result


def assert_clean_failure(result, *fragments):
    """A non-zero exit with one line ``spandex: error: ...`` holding every fragment, and no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("spandex: error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment, "an empty fragment checks nothing"
        assert fragment in errors[0], result.stderr


@pytest.fixture(scope="module")
def noisy_file(tmp_path_factory, noisy_speech):
    noisy, clean = noisy_speech
    folder = tmp_path_factory.mktemp("audio")
    sf.write(folder / "noisy16k.wav", noisy, 16000)
    sf.write(folder / "clean16k.wav", clean, 16000)
    return folder / "noisy16k.wav"


def test_denoise_any_rate_gives_aligned_16k_mono_and_json(tmp_path, noisy_file):
    noisy, rate = sf.read(noisy_file)
    stereo44 = np.stack([resample(noisy, 16000, 44100)] * 2, axis=1)
    sf.write(tmp_path / "in.wav", stereo44, 44100)
    result = spandex("denoise", tmp_path / "in.wav", tmp_path / "out.wav", "--model", BASELINE, "--json")
    report = json.loads(result.stdout)
    out, out_rate = sf.read(tmp_path / "out.wav")
    assert out_rate == 16000 and out.ndim == 1
    assert abs(len(out) - len(noisy)) <= 1
    # time-aligned with the 16 kHz denoising of the same signal: no lag between them
    spandex("denoise", noisy_file, tmp_path / "direct.wav", "--model", BASELINE)
    reference, _ = sf.read(tmp_path / "direct.wav")
    n = min(len(out), len(reference))
    lags = np.arange(-200, 201)
    corr = [np.dot(out[200:n - 200], reference[200 + k:n - 200 + k]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0
    assert si_snr(reference[:n], out[:n]) > 12  # resampling twice moves a few threshold crossings
    for key in ("frames", "synops_per_frame", "neuronops_per_frame", "power_proxy_mops", "weight_sparsity",
                "activity_sparsity", "latency_ms", "compute_us_per_frame"):
        assert key in report
    assert report["frames"] == -(-len(noisy) // 128) + 1
    assert len(report["activity_sparsity"]) == 3
    assert report["input_rate"] == 44100 and report["input_channels"] == 2
    assert 20_000 < report["synops_per_frame"] < report["synops_dense_per_frame"]
    assert report["neuronops_per_frame"] == 257 + 512 + 512
    assert 32 < report["latency_ms"] < 40


def test_denoise_says_how_much_of_a_louder_than_full_scale_output_was_clipped(tmp_path, noisy_file):
    noisy, _ = sf.read(noisy_file)
    loud = 8.0 * noisy / np.max(np.abs(noisy))  # a float WAV may peak past 1.0
    sf.write(tmp_path / "loud.wav", loud.astype(np.float32), 16000, subtype="FLOAT")
    result = spandex("denoise", tmp_path / "loud.wav", tmp_path / "out.wav", "--model", BASELINE, "--json")
    out, _ = sf.read(tmp_path / "out.wav")
    at_full_scale = int(np.count_nonzero(np.abs(out) >= 32767 / 32768))  # (and the few just below it)
    note = [n for n in json.loads(result.stdout)["notes"] if "were clipped" in n]
    said = re.fullmatch(r"([\d,]+) output samples \(([\d.]+) %\) went past full scale and were clipped \(the output's "
                        r"format holds no more\): lower the input's level and denoise again", note[0])
    assert said, note
    count = int(said[1].replace(",", ""))
    assert at_full_scale - 10 <= count <= at_full_scale and float(said[2]) == float(f"{100 * count / loud.size:.2g}")
    assert f"note: {note[0]}" in result.stderr
    quiet = spandex("denoise", noisy_file, tmp_path / "quiet.wav", "--model", BASELINE, "--json")
    assert not any("clipped" in n for n in json.loads(quiet.stdout)["notes"])


def test_pruned_nets_cost_what_spandex_published(tmp_path, noisy_file):
    costs = {}
    for name in ("spandex_prune50", "spandex_prune75"):
        out = spandex("denoise", noisy_file, tmp_path / f"{name}.wav", "--model", reference_path(f"{name}.net"), "--json")
        costs[name] = json.loads(out.stdout)["synops_per_frame"]
    # SPANDEX measured 62k / 35k SynOps per frame on DNS data: same order on real speech here
    assert 40_000 < costs["spandex_prune50"] < 95_000
    assert 20_000 < costs["spandex_prune75"] < 55_000
    assert costs["spandex_prune75"] < 0.75 * costs["spandex_prune50"]


def test_eight_khz_stereo_is_converted_with_a_note(tmp_path, noisy_file):
    noisy, _ = sf.read(noisy_file)
    sf.write(tmp_path / "in8k.wav", np.stack([resample(noisy, 16000, 8000)] * 2, axis=1), 8000)
    result = spandex("denoise", tmp_path / "in8k.wav", tmp_path / "out.wav", "--model", BASELINE)
    assert "converted 8000 Hz, 2 channel(s) to 16000 Hz mono" in result.stderr
    assert sf.info(tmp_path / "out.wav").samplerate == 16000


@pytest.mark.parametrize("case", ["empty", "text", "nan", "silence", "missing"])
def test_bad_audio_gives_a_clear_message(tmp_path, case):
    path = tmp_path / f"{case}.wav"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("definitely not audio\n" * 50)
    elif case == "nan":
        audio = np.zeros(16000, dtype=np.float32)
        audio[100] = np.nan
        sf.write(path, audio, 16000, subtype="FLOAT")
    elif case == "silence":
        sf.write(path, np.zeros(16000), 16000)
    result = spandex("denoise", path, tmp_path / "out.wav", "--model", BASELINE, check_ok=False)
    expected = {"empty": "the file is empty (0 bytes)", "text": "not a readable audio file (expected WAV, FLAC, OGG or MP3)",
                "nan": "the audio contains NaN or infinite samples", "silence": "is silent (below -60 dBFS)",
                "missing": "no such file"}[case]
    assert_clean_failure(result, f"{case}.wav", expected)
    assert not (tmp_path / "out.wav").exists()


def test_silence_is_processed_when_asked(tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(16000), 16000)
    spandex("denoise", tmp_path / "quiet.wav", tmp_path / "out.wav", "--model", BASELINE, "--allow-silence")
    assert np.max(np.abs(sf.read(tmp_path / "out.wav")[0])) == 0.0


@pytest.mark.parametrize("model, message", [("no_such_model", "no model named 'no_such_model'"),
                                            ("garbage.net", "garbage.net: "), ("README.md", "README.md")])
def test_wrong_model_gives_a_clear_message(tmp_path, noisy_file, model, message):
    if model == "garbage.net":
        (tmp_path / model).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
        model = tmp_path / model
    elif model == "README.md":
        (tmp_path / model).write_text("# hello")
        model = tmp_path / model
    result = spandex("denoise", noisy_file, tmp_path / "out.wav", "--model", model, check_ok=False)
    assert_clean_failure(result, message)
    assert not (tmp_path / "out.wav").exists()


def test_output_never_overwrites_the_input(noisy_file):
    before = noisy_file.read_bytes()
    result = spandex("denoise", noisy_file, noisy_file, "--model", BASELINE, check_ok=False)
    assert_clean_failure(result, "same file")
    assert noisy_file.read_bytes() == before


def test_eval_pairs_ndns_names_and_writes_yaml_and_json(tmp_path, noisy_speech):
    noisy, clean = noisy_speech
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    half = len(noisy) // 2
    for i, part in enumerate((slice(0, half), slice(half, None))):
        sf.write(tmp_path / "noisy" / f"book_00{i}_snr5_fileid_{i}.wav", noisy[part], 16000)
        sf.write(tmp_path / "clean" / f"clean_fileid_{i}.wav", resample(clean[part], 16000, 48000), 48000)
    result = spandex("eval", "--model", reference_path("spandex_prune50.net"), "--noisy", tmp_path / "noisy",
                     "--clean", tmp_path / "clean", "--yaml", tmp_path / "board.yml", "--json", tmp_path / "r.json")
    assert "mean" in result.stdout and "SI-SNRi" in result.stdout
    assert ("warning: 2 of the 4 files were converted to 16000 Hz mono before scoring (e.g. the clean "
            "clean_fileid_0.wav: 48000 Hz, 1 channel(s))") in result.stderr
    board = yaml.safe_load((tmp_path / "board.yml").read_text())[0]
    report = json.loads((tmp_path / "r.json").read_text())
    assert [f["key"] for f in report["files"]] == ["0", "1"]
    # each row names its noisy file (it showed the file id alone: "0", "1")
    assert [f["noisy"] for f in report["files"]] == ["book_000_snr5_fileid_0.wav", "book_001_snr5_fileid_1.wav"]
    rows = [line.split()[0] for line in result.stdout.splitlines() if "_fileid_" in line]
    assert rows == ["book_000_snr5_fileid_0.wav", "book_001_snr5_fileid_1.wav"]
    assert board["params"] == 525312
    assert board["SI-SNR"] == pytest.approx(report["mean"]["si_snr"], abs=0.01)
    assert report["mean"]["si_snri"] == pytest.approx(report["mean"]["si_snr"] - report["mean"]["si_snr_noisy"])
    assert all(f["pesq"] is not None and 1.0 <= f["pesq"] <= 4.7 for f in report["files"])


def test_eval_limit_scores_the_first_pairs_only(tmp_path, noisy_speech):
    noisy, clean = noisy_speech
    for folder in ("noisy", "clean"):
        (tmp_path / folder).mkdir()
    second = 16000 * 2
    for i in range(3):
        sf.write(tmp_path / "noisy" / f"take{i}.wav", noisy[i * second:(i + 1) * second], 16000)
        sf.write(tmp_path / "clean" / f"take{i}.wav", clean[i * second:(i + 1) * second], 16000)
    result = spandex("eval", "--model", BASELINE, "--noisy", tmp_path / "noisy", "--clean", tmp_path / "clean",
                     "--limit", "2", "--json", tmp_path / "r.json")
    assert [f["key"] for f in json.loads((tmp_path / "r.json").read_text())["files"]] == ["take0", "take1"]
    assert "the first 2 of 3 pairs" in result.stderr
    refused = spandex("eval", "--noisy", tmp_path / "noisy", "--clean", tmp_path / "clean", "--limit", "0",
                      check_ok=False)
    assert_clean_failure(refused, "--limit 0: give at least 1 pair")


def test_eval_with_nothing_to_pair(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    result = spandex("eval", "--model", BASELINE, "--noisy", tmp_path / "a", "--clean", tmp_path / "b", check_ok=False)
    assert_clean_failure(result, "holds no audio files (WAV, FLAC, OGG, MP3)")


def test_models_lists_the_library(tmp_path, monkeypatch):
    from engine.files.netx import load_model, save_netx
    from engine.library.catalog import list_models

    user = tmp_path / "models"
    save_netx(load_model(reference_path("spandex_prune75.net")), user / "mine.net")
    (user / "mine.json").write_text('{"metrics": {"si_snr": 11.9, "power_proxy_mops": 6.0}}')
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(user))
    result = subprocess.run([sys.executable, "-m", "cli.main", "models"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0
    line = next(l for l in result.stdout.splitlines() if l.startswith("mine"))
    assert "user" in line and "79.5%" in line and "11.90" in line and " 512-512 " in line
    # a name longer than the column keeps its row in line with the header
    save_netx(load_model(reference_path("spandex_prune75.net")), user / "spandex-prune75-finetuned-again.net")
    listing = subprocess.run([sys.executable, "-m", "cli.main", "models"], capture_output=True, text=True,
                             cwd=REPO).stdout.splitlines()
    header, long_row = listing[0], next(l for l in listing if l.startswith("spandex-prune75-finetuned-again"))
    assert long_row.index(" user ") + 1 == header.index("origin")
    (user / "spandex-prune75-finetuned-again.net").unlink()
    assert [e.name for e in list_models(user_dir=user) if e.origin == "user"] == ["mine"]
    # one model's card; a broken card is said, not shown as empty
    card = subprocess.run([sys.executable, "-m", "cli.main", "models", "mine"], capture_output=True, text=True,
                          cwd=REPO)
    assert card.returncode == 0 and "SI-SNR dB: 11.90" in card.stdout and "power proxy M-Ops/s: 6.00" in card.stdout
    # a model file outside the library (a run folder's, say): the card beside it
    outside = tmp_path / "run" / "trial.net"
    save_netx(load_model(reference_path("spandex_prune75.net")), outside)
    (tmp_path / "run" / "trial.json").write_text('{"name": "trial", "metrics": {"si_snri": 3.21}}')
    by_path = subprocess.run([sys.executable, "-m", "cli.main", "models", str(outside)], capture_output=True,
                             text=True, cwd=REPO)
    assert by_path.returncode == 0 and "model: trial" in by_path.stdout and "SI-SNRi dB: 3.21" in by_path.stdout
    assert f"file: {outside}" in by_path.stdout
    (user / "mine.json").write_text('{"metrics": ')
    broken = subprocess.run([sys.executable, "-m", "cli.main", "models", "mine"], capture_output=True, text=True,
                            cwd=REPO)
    assert broken.returncode != 0 and "unreadable model card mine.json" in broken.stderr
    # a reader that stops early (`| head -1`) is not an error
    piped = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m cli.main models | head -c 10"],
                           capture_output=True, text=True, cwd=REPO)
    assert piped.returncode == 0 and piped.stdout == "name      " and piped.stderr == ""


def test_sparse_backend_writes_the_dense_backends_file(tmp_path, noisy_file, noisy_speech):
    model = reference_path("spandex_prune75.net")
    reports = {}
    for backend in ("dense", "sparse"):
        result = spandex("denoise", noisy_file, tmp_path / f"{backend}.wav", "--model", model,
                         "--backend", backend, "--json")
        reports[backend] = json.loads(result.stdout)
    np.testing.assert_array_equal(sf.read(tmp_path / "sparse.wav")[0], sf.read(tmp_path / "dense.wav")[0])
    assert reports["sparse"]["backend"] == "sparse"
    for key in ("frames", "synops_per_frame", "synops_dense_per_frame", "power_proxy_mops", "activity_sparsity"):
        assert reports["sparse"][key] == reports["dense"][key], key
    # and eval runs on it
    noisy, clean = noisy_speech
    for folder, audio in (("noisy", noisy), ("clean", clean)):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "take.wav", audio, 16000)
    result = spandex("eval", "--model", model, "--backend", "sparse", "--noisy", tmp_path / "noisy",
                     "--clean", tmp_path / "clean", "--json", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["backend"] == "sparse" and "sparse backend" in result.stdout
    assert report["mean"]["si_snri"] > 1  # it denoised real speech (2.6 dB measured)


def test_models_install_writes_a_pytorch_file_as_the_same_network_in_netx(tmp_path, monkeypatch, capsys):
    """It said "export it first", and the export (fitted to Loihi's delays) was then refused by the library."""
    from cli.main import main
    from engine.files.netx import load_model

    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(tmp_path / "library"))
    shutil.copy(reference_path("ndns_baseline.pt"), tmp_path / "trial.pt")
    assert main(["models", "--install", str(tmp_path / "trial.pt")]) == 0
    assert "written as a netx file from trial.pt" in capsys.readouterr().out
    installed, original = load_model(tmp_path / "library" / "trial.net"), load_model(tmp_path / "trial.pt")
    assert installed.neuron_counts == original.neuron_counts
    for mine, theirs in zip(installed.layers, original.layers):
        assert np.array_equal(mine.weight_mant, theirs.weight_mant) and mine.threshold_mant == theirs.threshold_mant
        assert (mine.delays is None) == (theirs.delays is None)
        assert mine.delays is None or np.array_equal(mine.delays, theirs.delays)
    assert max(int(np.max(layer.delays)) for layer in installed.layers if layer.delays is not None) > 62  # whole


def test_models_install_adds_a_run_folders_model_under_a_name(tmp_path, monkeypatch, capsys):
    from cli.main import main
    from engine.files.netx import load_model, save_netx

    user = tmp_path / "library"
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(user))
    run = tmp_path / "run"
    save_netx(load_model(reference_path("spandex_prune75.net")), run / "trial.net")
    (run / "trial.json").write_text(json.dumps({"name": "trial", "metrics": {"si_snri": 3.21}}))

    assert main(["models", "--install", str(run / "trial.net"), "--name", "keeper"]) == 0
    assert "joined the model library as keeper" in capsys.readouterr().out
    assert (user / "keeper.net").read_bytes() == (run / "trial.net").read_bytes()
    assert json.loads((user / "keeper.json").read_text()) == {"name": "keeper", "metrics": {"si_snri": 3.21}}
    assert main(["models", "keeper"]) == 0 and "SI-SNRi dB: 3.21" in capsys.readouterr().out
    # a model fine-tuned from a shipped one: its card names the parent, and the notice it must be shared with shows
    (run / "tuned.json").write_text(json.dumps({"name": "tuned", "parent": "spandex-prune75"}))
    save_netx(load_model(reference_path("spandex_prune75.net")), run / "tuned.net")
    assert main(["models", "--install", str(run / "tuned.net")]) == 0
    capsys.readouterr()
    assert main(["models", "tuned"]) == 0
    shown = capsys.readouterr().out
    assert "licence notices (its lineage's; share them with it): " in shown and "LICENSE-ndns.md" in shown, shown

    def refused(argv, *fragments):
        assert main(argv) != 0
        err = capsys.readouterr().err
        assert err.count("spandex: error: ") == 1 and "Traceback" not in err, err
        for fragment in fragments:
            assert fragment in err, err

    before = sorted(p.name for p in user.iterdir())
    trial = str(run / "trial.net")
    refused(["models", "--install", trial, "--name", "keeper"], "already holds a model named 'keeper'")
    # a shipped model's name would go on finding the shipped model
    refused(["models", "--install", trial, "--name", "spandex-dense"], "'spandex-dense' is the name of a shipped model")
    refused(["models", "--install", trial, "--name", "../escape"], "must be a plain file name")
    refused(["models", "--install", trial, "--name", "new\nline"], "no '/', '\\' or control characters")
    refused(["models", "--install", trial, "--name", "x.net"], "must not end with a file suffix")
    refused(["models", "--install", trial, "--name", ""], "--name: the name is empty")
    refused(["models", "--install", str(run / "missing.net")], "model file not found: ", "missing.net")
    refused(["models", "--install", str(run)], f"{run} is a folder, not a model file")
    refused(["models", "--install", str(run / "trial.json")], "trial.json is a model card: install the model file")
    refused(["models", "--name", "x"], "--name goes with --install FILE")
    (run / "notes.txt").write_text("not a model")
    refused(["models", "--install", str(run / "notes.txt")], "notes.txt is not a netx model file")
    (run / "trial.pt").write_text("x")
    refused(["models", "--install", str(run / "trial.pt")], "trial.pt: not a readable torch state dict")
    (run / "broken.net").write_bytes(b"not hdf5")
    refused(["models", "--install", str(run / "broken.net"), "--name", "broken"], "broken.net")
    assert sorted(p.name for p in user.iterdir()) == before  # nothing refused was written
    # a link's card is the one beside the file it leads to; the card names the model as the library lists it
    (tmp_path / "link.net").symlink_to(run / "trial.net")
    assert main(["models", "--install", str(tmp_path / "link.net")]) == 0
    assert "no card" not in capsys.readouterr().out
    assert json.loads((user / "link.json").read_text())["name"] == "link"
    # without a card it joins all the same, under its own name
    save_netx(load_model(reference_path("spandex_prune75.net")), run / "bare.net")
    assert main(["models", "--install", str(run / "bare.net")]) == 0
    assert "has no card beside it" in capsys.readouterr().out and (user / "bare.net").is_file()
    # a card left behind by a removed model would describe the next model of that name: refused
    (user / "keeper.net").unlink()
    refused(["models", "--install", str(run / "bare.net"), "--name", "keeper"],
            "holds a card named 'keeper' with no model beside it")
    refused(["models", "--install", ""], "--install is empty")  # empty is not absent
    refused(["models", "--install", trial, "--name=-x"], "must not start with '.' or '-'")
    assert main(["models", "--install", trial, "--name", "mine\u00a0too"]) == 0  # a no-break space is a character
    capsys.readouterr()
    # a library that cannot be written says so, and keeps nothing half-written
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(run / "notes.txt" / "library"))
    refused(["models", "--install", trial, "--name", "elsewhere"], "cannot write to the model library")


def test_the_command_line_starts_without_torch_or_scipy_signal():
    """`spandex --help`, and every command that fails on its arguments, starts in well under a second: torch
    (about 3 s to import) is imported by the commands that train, scipy.signal (about 1 s) where audio is resampled,
    filtered or scored — not by the parser."""
    probe = ("import sys, cli.main; cli.main.build_parser(); "
             "print(sorted(m for m in ('torch', 'scipy.signal', 'pystoi', 'pesq', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_ctrl_c_while_the_libraries_load_is_one_line_and_exit_130(monkeypatch, capsys):
    """`spandex` (cli.entry:run) and `python main.py` import the libraries after they start: a Ctrl-C then (seconds on
    a loaded machine) printed a traceback from the console script's own import."""
    import importlib.abc

    from cli.entry import run

    class Interrupted(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "cli.main":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "cli.main", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    assert run() == 130
    assert capsys.readouterr().err == "spandex: interrupted\n"
    monkeypatch.undo()  # and while the options are read (the parser is built): the same line, no traceback
    import cli.main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.main, "build_parser", interrupted)
    monkeypatch.setattr(sys, "argv", ["spandex", "models"])
    assert run() == 130
    assert capsys.readouterr().err == "spandex: interrupted\n"


@pytest.mark.slow
def test_devices_lists_what_input_and_output_take(virtual_audio):
    """`--output NAME` said "name as listed in the app": nothing listed the names from the command line."""
    run = subprocess.run([sys.executable, "-m", "cli.main", "devices"], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, **virtual_audio.jack_env()})
    print(run.stdout)
    assert run.returncode == 0 and "Traceback" not in run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["in", "out", "rate", "device"]
    feed = next(line for line in lines if "mic_feed" in line)
    speaker = next(line for line in lines if "app_out" in line)
    assert feed.split()[3].startswith("mic_feed") and int(feed.split()[0]) > 0  # a source: --input takes it
    assert int(speaker.split()[1]) > 0 and "16000" in speaker  # a sink at the server's rate: --output takes it
