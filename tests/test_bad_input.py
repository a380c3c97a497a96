"""The bad-input table (docs/bad-input.md): every row run as a user runs it — `spandex` in a real process, in a
folder of real files. Each gives a clear one-line message naming what is wrong, a non-zero exit and no
traceback, and leaves every file that was there unchanged (compared by SHA-256), with nothing added."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.reference_models import reference_path

REPO = Path(__file__).resolve().parents[1]
GOOD_YAML = "name: run\ndataset: data\nsteps: 4\n"


@dataclass
class Case:
    id: str
    args: list[str]
    message: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    """Files to create first (relative to the test's folder): text or bytes; "<audio>" writes the noisy clip."""
    prepare: Callable[[Path], None] | None = None


def _symlink_out(folder: Path) -> None:
    (folder / "link.wav").symlink_to(folder / "real.wav")


def _json_link(folder: Path) -> None:
    (folder / "link.json").symlink_to(folder / "real.json")


def _model_here(folder: Path) -> None:
    shutil.copyfile(reference_path("ndns_baseline.net"), folder / "m.net")


def _model_bad_sharpening(folder: Path) -> None:
    import h5py

    _model_here(folder)
    with h5py.File(folder / "m.net", "a") as handle:
        handle["layer/3"].attrs["spandex_decoder"] = '{"sharpening": 5}'


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe.wav")


def _immutable(folder: Path) -> None:
    if subprocess.run(["chattr", "+i", str(folder / "locked.wav")], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root and a file system that supports it)")


def _evil_run(folder: Path) -> None:
    """A run folder whose checkpoint is a pickle that would create PWNED when unpickled."""
    run = folder / "run"
    run.mkdir()
    (run / "config.yaml").write_text(f"name: run\ndataset: {folder / 'data'}\nsteps: 4\nhidden_sizes: [8, 8]\n")
    code = ("import pickle, torch, os\n"
            "class Evil:\n"
            "    def __reduce__(self):\n"
            f"        return (os.system, ('touch {folder / 'PWNED'}',))\n"
            f"torch.save({{'format': 'spandex-checkpoint-1', 'step': 1, 'x': Evil()}}, {str(run / 'checkpoint.pt')!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def _shipped_dense_here(folder: Path) -> None:
    """assets/models/spandex-dense.net here, a link to the shipped file (the library name's file by another path)."""
    (folder / "assets" / "models").mkdir(parents=True)
    (folder / "assets" / "models" / "spandex-dense.net").symlink_to(REPO / "assets" / "models" / "spandex-dense.net")


def _init_in_the_run_folder(folder: Path) -> None:
    """ud/m.net: a copy of the official baseline, in the folder the run is asked to write to under that name."""
    _dataset(folder)
    (folder / "ud").mkdir()
    shutil.copy(reference_path("ndns_baseline.net"), folder / "ud" / "m.net")


def _dataset(folder: Path) -> None:
    for split in ("training_set", "validation_set"):
        for kind in ("noisy", "clean"):
            (folder / "data" / split / kind).mkdir(parents=True)
            sf.write(folder / "data" / split / kind / "a.wav", np.full(8000, 0.1, np.float32), 16000)


def _malicious_run(folder: Path) -> None:
    _dataset(folder)
    _evil_run(folder)


NET = "{baseline}"
P50 = "{prune50}"
DENOISE = ["denoise", "in.wav"]
MODEL = ["--model", NET]
BLEND = ["--share", "0.5", "--dataset", "data", "--out", "b.net"]
VALIDATION = {"data/validation_set/noisy/x.wav": "<audio>", "data/validation_set/clean/x.wav": "<audio>"}

CASES = [
    # --- training settings (YAML, CLI options): checked before anything starts ---------------------------------
    Case("yaml-text-number", ["train", "bad.yaml"], "learning_rate = 'abc': must be a number",
         {"bad.yaml": GOOD_YAML + "learning_rate: abc\n"}),
    Case("yaml-text-integer", ["train", "bad.yaml"], "steps = 'ten': must be a whole number",
         {"bad.yaml": "name: run\ndataset: data\nsteps: ten\n"}),
    Case("yaml-fraction-integer", ["train", "bad.yaml"], "batch_size = 2.5: must be a whole number",
         {"bad.yaml": GOOD_YAML + "batch_size: 2.5\n"}),
    Case("yaml-a-list", ["train", "bad.yaml"], "expected a mapping of settings (name: ..., dataset: ...), got a list",
         {"bad.yaml": "- name: run\n- steps: 3\n"}),
    Case("yaml-empty", ["train", "bad.yaml"], "the file holds no settings", {"bad.yaml": ""}),
    Case("yaml-syntax", ["train", "bad.yaml"], "not a readable YAML file", {"bad.yaml": "name: [run\n"}),
    Case("yaml-binary", ["train", "bad.yaml"], "not a readable YAML file", {"bad.yaml": b"\xff\xfe\x00garbage"}),
    Case("yaml-unknown-key", ["train", "bad.yaml"], "unknown setting 'learnig_rate'",
         {"bad.yaml": GOOD_YAML + "learnig_rate: 0.1\n"}),
    Case("yaml-yes-number", ["train", "bad.yaml"], "steps: true is not a number",
         {"bad.yaml": GOOD_YAML + "steps: yes\n"}),
    Case("yaml-zero-batch", ["train", "bad.yaml"], "batch_size = 0: must be at least 1",
         {"bad.yaml": GOOD_YAML + "batch_size: 0\n"}),
    Case("yaml-nan", ["train", "bad.yaml"], "learning_rate = nan: must be a finite number",
         {"bad.yaml": GOOD_YAML + "learning_rate: .nan\n"}),
    Case("yaml-negative-seed", ["train", "bad.yaml"], "seed = -1: must be at least 0",
         {"bad.yaml": GOOD_YAML + "seed: -1\n"}),
    Case("yaml-path-name", ["train", "bad.yaml"], "name '../escape' must be a plain file name",
         {"bad.yaml": "name: ../escape\ndataset: data\n"}),
    Case("yaml-sparsity-1.5", ["train", "bad.yaml"], "pruning.final_sparsity = 1.5: must be below 1",
         {"bad.yaml": GOOD_YAML + "pruning: {final_sparsity: 1.5}\n"}),
    Case("yaml-regulariser-kind", ["train", "bad.yaml"], "regularizer.kind = 'l2': must be one of 'lp' or 'hoyer'",
         {"bad.yaml": GOOD_YAML + "regularizer: {weight: 1, kind: l2}\n"}),
    Case("yaml-section-not-mapping", ["train", "bad.yaml"], "pruning = 0.5: must be a mapping of settings",
         {"bad.yaml": GOOD_YAML + "pruning: 0.5\n"}),
    Case("config-missing", ["train", "missing.yaml"], "configuration file not found: missing.yaml"),
    Case("config-a-folder", ["train", "configs"], "configs is a folder, not a configuration file",
         {"configs/keep.txt": "x"}),
    Case("resume-no-run", ["train", "--resume", "nowhere"], "nowhere holds no training run (no config.yaml)"),
    Case("cli-negative-lr", ["prune", NET, "--sparsity", "0.6", "--lr", "-1", "--dataset", "data"],
         "learning_rate = -1.0: must be above 0"),
    Case("cli-p-above-1", ["finetune", NET, "--reg-weight", "5", "--p", "2", "--dataset", "data"],
         "regularizer.p = 2.0: must be at most 1"),
    Case("prune-below-model-sparsity", ["prune", P50, "--sparsity", "0.1", "--dataset", "data"],
         "already has 59.0% zero weights: choose a target sparsity above that"),
    Case("prune-below-model-sparsity-short-run", ["prune", P50, "--sparsity", "0.1", "--steps", "5", "--dataset", "data"],
         "already has 59.0% zero weights"),  # (not first the schedule's length, then this)
    Case("prune-schedule-too-long", ["prune", NET, "--sparsity", "0.5", "--steps", "5", "--dataset", "data"],
         "the schedule's last prune comes at step 100, after the run's 5 steps"),
    Case("prune-library-a-file", ["prune", NET, "--sparsity", "0.6", "--dataset", "data", "--out", "run"],
         "/library (SPANDEX_MODELS_DIR): ", {"library": "a file where the model library should be"}, _dataset),
    Case("prune-out-holds-other-files", ["prune", NET, "--sparsity", "0.6", "--dataset", "data", "--out", "mine",
                                         "--name", "foo"],
         "mine holds files of no training run (foo.json, foo.net, history.json; no config.yaml): the run would write its "
         "model, card and history over them; give another folder",
         {"mine/foo.net": "my own", "mine/foo.json": "{}", "mine/history.json": "{}", "mine/train.log": "a log"},
         _dataset),
    Case("finetune-over-its-own-init", ["finetune", "ud/m.net", "--out", "ud", "--name", "m", "--dataset", "data"],
         "the run would write its model ud/m.net over the model it starts from, ud/m.net: give another --name or --out",
         {}, _init_in_the_run_folder),
    Case("prune-missing-dataset", ["prune", NET, "--sparsity", "0.6", "--dataset", "nowhere", "--out", "run"],
         "dataset folder nowhere does not exist (read from the working folder, "),
    Case("prune-empty-dataset", ["prune", NET, "--sparsity", "0.6", "--dataset", "data", "--out", "run"],
         "data has no training_set/ folder", {"data/readme.txt": "empty"}),
    Case("finetune-unknown-model", ["finetune", "no-such-model", "--dataset", "data"],
         "no model named 'no-such-model'"),
    Case("finetune-teacher-unknown", ["finetune", NET, "--teacher", "no-such-teacher", "--dataset", "data"],
         "teacher: no model named 'no-such-teacher'"),
    Case("finetune-teacher-weight-2", ["finetune", NET, "--teacher", NET, "--teacher-weight", "2", "--dataset",
                                       "data"], "teacher_weight = 2.0: must be at most 1"),
    Case("finetune-teacher-negative-weight", ["finetune", NET, "--teacher", NET, "--teacher-weight", "-1",
                                              "--dataset", "data"], "teacher_weight = -1.0: must be above 0"),
    Case("finetune-teacher-weight-alone", ["finetune", NET, "--teacher-weight", "0.5", "--dataset", "data"],
         "teacher_weight = 0.5 needs a teacher (--teacher MODEL)"),
    Case("finetune-teacher-not-a-model", ["finetune", NET, "--teacher", "notes.net", "--dataset", "data"],
         "teacher: notes.net: not a readable netx HDF5 file", {"notes.net": "just text\n"}),
    Case("finetune-second-teacher-unknown", ["finetune", NET, "--teacher", NET, "--teacher", "no-such-teacher",
                                             "--dataset", "data"], "teacher: no model named 'no-such-teacher'"),
    Case("finetune-teacher-empty", ["finetune", NET, "--teacher", NET, "--teacher", "", "--dataset", "data"],
         "--teacher needs a model: a library name or a netx file (it was given empty)"),
    Case("finetune-teacher-twice", ["finetune", NET, "--teacher", NET, "--teacher", NET, "--dataset", "data"],
         "is given twice: an ensemble averages different models; give each once"),
    Case("finetune-teacher-a-folder", ["finetune", NET, "--teacher", "teachers/", "--dataset", "data"],
         "teacher: teachers is a folder, not a model file", {"teachers/keep.txt": "x"}),
    Case("finetune-reg-without-weight", ["finetune", NET, "--reg", "hoyer", "--dataset", "data"],
         "--reg only shapes the activity regulariser, which is off without a --reg-weight LAMBDA above 0"),
    Case("finetune-reg-weight-0", ["finetune", NET, "--reg-weight", "0", "--p", "0.5", "--dataset", "data"],
         "--p only shapes the activity regulariser, which is off without a --reg-weight LAMBDA above 0"),
    Case("finetune-hoyer-with-p", ["finetune", NET, "--reg-weight", "10", "--reg", "hoyer", "--p", "0.5", "--dataset",
                                   "data"], "--p 0.5 is the p of --reg lp; --reg hoyer has none: leave --p out"),
    Case("resume-with-reg-shape", ["train", "--resume", "run", "--reg", "lp", "--p", "0.5"],
         "--reg and --p only shape the activity regulariser, which is off without a --reg-weight LAMBDA above 0",
         {"run/config.yaml": "name: r\ndataset: data\n"}),
    Case("resume-with-other-settings", ["train", "--resume", "run", "--teacher", NET, "--steps", "9"],
         "--resume continues run with its own settings; --steps, --teacher would be ignored",
         {"run/config.yaml": "name: r\ndataset: data\n"}),
    Case("resume-with-init", ["train", "--resume", "run", "--init", NET],
         "--resume continues run with its own settings; --init would be ignored",
         {"run/config.yaml": "name: r\ndataset: data\n"}),
    Case("train-init-unknown", ["train", "good.yaml", "--init", "no-such-model"],
         "init: no model named 'no-such-model'", {"good.yaml": GOOD_YAML}),
    Case("train-init-empty", ["train", "good.yaml", "--init", ""],
         "--init needs a model: a library name or a netx file (it was given empty)", {"good.yaml": GOOD_YAML}),
    Case("train-init-not-a-model", ["train", "good.yaml", "--init", "notes.net"],
         "init: notes.net: not a readable netx HDF5 file", {"good.yaml": GOOD_YAML, "notes.net": "just text\n"}),
    Case("train-out-a-file", ["train", "good.yaml", "--out", "in.wav"],
         "--out in.wav is a file, not a folder: name a folder for the run", {"good.yaml": GOOD_YAML, "in.wav": "<audio>"}),
    Case("train-out-under-a-file", ["train", "good.yaml", "--out", "in.wav/run"],
         "--out in.wav/run: in.wav is a file, not a folder", {"good.yaml": GOOD_YAML, "in.wav": "<audio>"}),
    Case("app-file-a-folder", ["--file", "songs"], "--file songs: a folder, not an audio file", {"songs/a.txt": "x"}),
    Case("malicious-checkpoint", ["train", "--resume", "run"],
         "refused: the checkpoint asks to load posix.system", prepare=_malicious_run),
    # --- denoise: the input ----------------------------------------------------------------------------------
    Case("in-missing", ["denoise", "nothing.wav", "out.wav", *MODEL], "nothing.wav: no such file"),
    Case("in-empty", [*DENOISE, "out.wav", *MODEL], "in.wav: the file is empty (0 bytes)", {"in.wav": b""}),
    Case("in-text", [*DENOISE, "out.wav", *MODEL], "in.wav: not a readable audio file (expected WAV, FLAC, OGG or MP3)",
         {"in.wav": "definitely not audio\n" * 50}),
    Case("in-text-mp3", ["denoise", "in.mp3", "out.wav", *MODEL], "in.mp3: not a readable audio file (expected WAV, "
         "FLAC, OGG or MP3): its contents are not audio libsndfile can decode", {"in.mp3": "definitely not audio\n" * 50}),
    Case("in-nan", [*DENOISE, "out.wav", *MODEL], "in.wav: the audio contains NaN or infinite samples",
         {"in.wav": "<nan>"}),
    Case("in-silent", [*DENOISE, "out.wav", *MODEL], "in.wav is silent (below -60 dBFS)", {"in.wav": "<silence>"}),
    Case("out-only-an-extension", [*DENOISE, ".wav", *MODEL], "OUT .wav: the file has no name before its extension; "
         "give one, e.g. out.wav", {"in.wav": "<audio>"}),
    Case("in-channels-cancel", [*DENOISE, "out.wav", *MODEL],
         "in.wav: its 2 channels cancel out when mixed to mono (one is the other inverted", {"in.wav": "<anti-phase>"}),
    Case("in-too-short", [*DENOISE, "out.wav", *MODEL], "in.wav: too short: 100 samples", {"in.wav": "<short>"}),
    Case("in-a-folder", ["denoise", "folder", "out.wav", *MODEL], "folder: a folder, not an audio file", {"folder/x.txt": "x"}),
    Case("model-unknown", [*DENOISE, "out.wav", "--model", "no_such_model"], "no model named 'no_such_model'",
         {"in.wav": "<audio>"}),
    Case("model-garbage", [*DENOISE, "out.wav", "--model", "garbage.net"], "garbage.net",
         {"in.wav": "<audio>", "garbage.net": b"\x89HDF\r\n\x1a\n" + b"\0" * 100}),
    # --- denoise: the output ---------------------------------------------------------------------------------
    Case("out-is-in", [*DENOISE, "in.wav", *MODEL], "OUT is the same file as IN", {"in.wav": "<audio>"}),
    Case("out-symlink", [*DENOISE, "link.wav", *MODEL], "OUT link.wav is a symbolic link to",
         {"in.wav": "<audio>", "real.wav": "<audio>"}, _symlink_out),
    Case("out-dev-null", [*DENOISE, "/dev/null", *MODEL], "OUT /dev/null is a device, not a regular file",
         {"in.wav": "<audio>"}),
    Case("out-dev-full", [*DENOISE, "/dev/full", *MODEL], "OUT /dev/full is a device, not a regular file",
         {"in.wav": "<audio>"}),
    Case("out-fifo", [*DENOISE, "pipe.wav", *MODEL], "OUT pipe.wav is a named pipe, not a regular file",
         {"in.wav": "<audio>"}, _fifo),
    Case("out-dot-slash", [*DENOISE, "./", *MODEL], "OUT ./ names a folder: give a file name", {"in.wav": "<audio>"}),
    Case("out-a-folder", [*DENOISE, "results", *MODEL], "OUT results is a folder: give a file name",
         {"in.wav": "<audio>", "results/keep.txt": "x"}),
    Case("out-mp3", [*DENOISE, "out.mp3", *MODEL], "OUT out.mp3: unknown audio format ('.mp3')",
         {"in.wav": "<audio>"}),
    Case("out-no-extension", [*DENOISE, "out", *MODEL], "OUT out: unknown audio format (no extension)",
         {"in.wav": "<audio>"}),
    Case("out-under-a-file", [*DENOISE, "notes.txt/out.wav", *MODEL], "notes.txt is a file, not a folder",
         {"in.wav": "<audio>", "notes.txt": "x"}),
    Case("out-immutable", [*DENOISE, "locked.wav", *MODEL], "OUT locked.wav cannot be replaced: it is protected",
         {"in.wav": "<audio>", "locked.wav": "<audio>"}, _immutable),
    # --- the app -------------------------------------------------------------------------------------------
    Case("app-buffer-negative", ["--buffer", "-3"], "argument --buffer: -3: give 1 to 100 hops of 8 ms"),
    Case("app-buffer-not-a-number", ["--buffer", "two"], "argument --buffer: 'two' is not a whole number of 8 ms hops"),
    Case("app-file-missing", ["--file", "missing.wav"], "--file missing.wav: no such file"),
    Case("app-file-and-input", ["--input", "mic", "--file", "clip.wav"],
         "argument --file: not allowed with argument --input", {"clip.wav": "<audio>"}),
    Case("app-file-not-audio", ["--file", "notes.txt"], "--file notes.txt: ", {"notes.txt": "not audio"}),
    Case("app-model-unknown", ["--model", "nosuch"], "--model: no model named 'nosuch' in the library"),
    Case("app-model-not-a-model", ["--model", "spandex-dense", "--model", "notes.net"],
         "--model: notes.net: not a readable netx HDF5 file", {"notes.net": "just text\n"}),
    Case("app-model-two-bad", ["--model", "nosuch", "--model", "spandex-dense", "--model", "notes.net"],
         "and no such file; --model: notes.net: not a readable netx HDF5 file", {"notes.net": "just text\n"}),
    Case("app-model-a-folder", ["--model", "models"], "--model: models is a folder, not a model file",
         {"models/keep.txt": "x"}),
    Case("app-model-ten", [a for _ in range(10) for a in ("--model", "spandex-prune90")],
         "--model: 10 models given; the app runs at most 9 at once"),
    Case("app-model-empty", ["--model", ""], "--model: a model is needed: a library name or a netx file (it was given "
                                            "empty)"),
    Case("denoise-unknown-option", ["denoise", "--bogus", "in.wav", "out.wav"],
         "spandex denoise: error: unrecognized arguments: --bogus", {"in.wav": "<audio>"}),
    Case("eval-unknown-option-and-required-missing", ["eval", "--bogus"],
         "spandex eval: error: unrecognized arguments: --bogus"),
    Case("models-empty", ["models", ""], "a model is needed: a library name or a netx file (it was given empty)"),
    Case("eval-model-empty", ["eval", "--model", "", "--noisy", "a", "--clean", "b"],
         "a model is needed: a library name or a netx file (it was given empty)",
         {"a/x.wav": "<audio>", "b/x.wav": "<audio>"}),
    Case("models-a-folder", ["models", "models"], "models is a folder, not a model file", {"models/keep.txt": "x"}),
    Case("model-empty", [*DENOISE, "out.wav", "--model", ""],
         "a model is needed: a library name or a netx file (it was given empty)", {"in.wav": "<audio>"}),
    # --- data build: counts and lengths, before any source is read ------------------------------------------
    Case("data-build-negative-clips", ["data", "build", "out", "--speech", "s", "--noise", "n", "--train-clips", "-5"],
         "--train-clips -5: give at least 1 clip"),
    Case("data-build-no-validation-clips", ["data", "build", "out", "--speech", "s", "--noise", "n", "--val-clips", "0"],
         "--val-clips 0: give at least 1 clip"),
    Case("data-build-clip-seconds-nan", ["data", "build", "out", "--speech", "s", "--noise", "n", "--clip-seconds",
                                         "nan"], "clips must be 1 to 120 s long, got nan (--clip-seconds)"),
    Case("data-build-clip-seconds-huge", ["data", "build", "out", "--speech", "s", "--noise", "n", "--clip-seconds",
                                          "1e9"], "clips must be 1 to 120 s long, got 1e+09 (--clip-seconds)"),
    Case("data-build-val-fraction", ["data", "build", "out", "--speech", "s", "--noise", "n", "--val-fraction", "1.5"],
         "--val-fraction 1.5: give the share of groups held out for validation, between 0 and 1"),
    # --- eval ------------------------------------------------------------------------------------------------
    Case("eval-nothing-to-pair", ["eval", *MODEL, "--noisy", "a", "--clean", "b"], "the noisy folder a holds no audio files (WAV, FLAC, OGG, MP3)",
         {"a/x.txt": "x", "b/y.txt": "y"}),
    Case("eval-json-device", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--json", "/dev/null"],
         "--json /dev/null is a device", {"a/x.wav": "<audio>", "b/x.wav": "<audio>"}),
    Case("eval-json-is-yaml", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--json", "r", "--yaml", "r"],
         "--json and --yaml name the same file", {"a/x.wav": "<audio>", "b/x.wav": "<audio>"}),
    Case("eval-clean-silent", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--json", "r.json"],
         "b/y.wav: the clean reference is digital silence: no SI-SNR can be measured against it; leave the pair "
         "(y.wav) out", {"a/x.wav": "<audio>", "b/x.wav": "<audio>", "a/y.wav": "<audio>", "b/y.wav": "<silence>"}),
    Case("eval-clean-dc", ["eval", *MODEL, "--noisy", "a", "--clean", "b"],
         "b/y.wav: the clean reference is a constant offset (DC) with no sound: no SI-SNR can be measured against it",
         {"a/x.wav": "<audio>", "b/x.wav": "<audio>", "a/y.wav": "<audio>", "b/y.wav": "<dc>"}),
    Case("eval-limit", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--limit", "0"],
         "--limit 0: give at least 1 pair to score", {"a/x.wav": "<audio>", "b/x.wav": "<audio>"}),
    Case("eval-json-over-a-recording", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--json", "a/x.wav"],
         "--json a/x.wav: an audio file's name ('.wav') for a text report; name it .json, e.g. results.json",
         {"a/x.wav": "<audio>", "b/x.wav": "<audio>"}),
    Case("eval-json-over-the-models-card", ["eval", "--model", "m.net", "--noisy", "a", "--clean", "b", "--json",
                                            "m.json"],
         "--json m.json is the card of the model m.net: refusing to write over it",
         {"a/x.wav": "<audio>", "b/x.wav": "<audio>", "m.json": "{}"}, _model_here),
    Case("eval-json-over-another-models-card", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--json", "m.json"],
         "--json m.json is the card of the model m.net: refusing to write over it",
         {"a/x.wav": "<audio>", "b/x.wav": "<audio>", "m.json": "{}"}, _model_here),
    Case("eval-json-link", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--json", "link.json"],
         "is a symbolic link to", {"a/x.wav": "<audio>", "b/x.wav": "<audio>", "real.json": "{}"}, _json_link),
    Case("eval-yaml-folder", ["eval", *MODEL, "--noisy", "a", "--clean", "b", "--yaml", "a"],
         "--yaml a is a folder: give a file name, e.g. a/results.yaml", {"a/x.wav": "<audio>", "b/x.wav": "<audio>"}),
    Case("eval-same-folder", ["eval", *MODEL, "--noisy", "a", "--clean", "a/"],
         "--noisy a and --clean a/ are the same folder", {"a/x.wav": "<audio>"}),
    # --- loihi-report ----------------------------------------------------------------------------------------
    Case("loihi-json-device", ["loihi-report", NET, "--json", "/dev/null"], "--json /dev/null is a device"),
    Case("loihi-json-link", ["loihi-report", NET, "--json", "link.json"], "is a symbolic link to",
         {"real.json": "{}"}, _json_link),
    Case("loihi-json-over-the-model", ["loihi-report", "m.net", "--json", "m.net"],
         "--json m.net: a model file's name ('.net') for a text report; name it .json", {}, _model_here),
    Case("loihi-json-over-the-models-card", ["loihi-report", "m.net", "--json", "m.json"],
         "--json m.json is the card of the model m.net: refusing to write over it", {"m.json": "{}"}, _model_here),
    Case("loihi-json-over-another-models-card", ["loihi-report", NET, "--json", "m.json"],
         "--json m.json is the card of the model m.net: refusing to write over it", {"m.json": "{}"}, _model_here),
    Case("loihi-json-folder", ["loihi-report", NET, "--json", "out"],
         "--json out is a folder: give a file name, e.g. out/loihi.json", {"out/keep.txt": "x"}),
    Case("loihi-same-model-twice", ["loihi-report", "m.net", "./m.net"],
         "./m.net, m.net: given more than once (the same model file)", {}, _model_here),
    # --- blend -----------------------------------------------------------------------------------------------
    Case("blend-with-itself", ["blend", "spandex-dense", "assets/models/spandex-dense.net", *BLEND],
         "spandex-dense and assets/models/spandex-dense.net are the same model file: a blend with itself is that model "
         "again", VALIDATION, _shipped_dense_here),
    Case("blend-layouts", ["blend", "spandex-dense", "spandex-prune75", *BLEND], "spandex-dense and spandex-prune75 "
         "cannot be blended: their layouts differ (257-512-512-257 against 257-479-245-257)", VALIDATION),
    Case("blend-share-percent", ["blend", NET, P50, "--share", "80", "--dataset", "data", "--out", "b.net"],
         "share 80: give the first model's share of the weights, from 0 to 1 (0.8 for 80 %)", VALIDATION),
    Case("blend-dataset-a-file", ["blend", NET, P50, "--share", "0.5", "--dataset", "notes.txt", "--out", "b.net"],
         "dataset notes.txt is a file, not a folder", {"notes.txt": "x"}),
    Case("blend-out-not-netx", ["blend", NET, P50, "--share", "0.5", "--dataset", "data", "--out", "b.wav"],
         "--out b.wav: a model is written as a netx file; name it .net", VALIDATION),
    Case("blend-card-a-folder", ["blend", NET, P50, *BLEND], "--out's card b.json (written beside OUT) is a folder",
         {**VALIDATION, "b.json/keep.txt": "x"}),
    # --- sharpen, --sharpening --------------------------------------------------------------------------------
    Case("sharpen-strength", ["sharpen", NET, "--strength", "5", "--dataset", "data", "--out", "s.net"],
         "--strength 5.0: give a sharpening from 0 (the N-DNS mask, relu(y + 1)) to 4", VALIDATION),
    Case("sharpen-without-out", ["sharpen", NET, "--strength", "0.5", "--dataset", "data"],
         "sharpen --strength writes a model: give --out OUT.net", VALIDATION),
    Case("sharpen-sweep-with-out", ["sharpen", NET, "--sweep", "--dataset", "data", "--out", "s.net"],
         "sharpen --sweep writes nothing", VALIDATION),
    Case("sharpen-out-not-netx", ["sharpen", NET, "--strength", "0.5", "--dataset", "data", "--out", "s.wav"],
         "--out s.wav: a model is written as a netx file; name it .net", VALIDATION),
    Case("denoise-sharpening", ["denoise", "in.wav", "out.wav", "--sharpening", "-1"],
         "--sharpening -1.0: give a mask sharpening from 0 (the network's own mask) to 4", {"in.wav": "<audio>"}),
    Case("model-bad-sharpening", ["denoise", "in.wav", "out.wav", "--model", "m.net"],
         "m.net: mask sharpening 5 is outside 0 … 4 (the output layer's 'spandex_decoder' attribute",
         {"in.wav": "<audio>"}, _model_bad_sharpening),
    Case("models-not-a-model", ["models", "notes.txt"], "notes.txt: not a readable netx HDF5 file",
         {"notes.txt": "hello"}),
    Case("models-missing-file", ["models", "runs/gone.net"], "model file not found: runs/gone.net"),
    Case("models-install-name-taken", ["models", "--install", "run/trial.net", "--name", "keeper"],
         "the library already holds a model named 'keeper'", {"run/trial.net": "x", "library/keeper.net": "mine"}),
    Case("models-a-device", ["models", "/dev/null"], "/dev/null is not a regular file, not a model file"),
    Case("models-install-bad-pt", ["models", "--install", "trial.pt"], "trial.pt: not a readable torch state dict",
         {"trial.pt": "x"}),
    Case("export-out-a-folder", ["export", NET, "exports"], "OUT exports is a folder: give a file name",
         {"exports/keep.txt": "x"}),
    Case("export-out-symlink", ["export", NET, "link.net"], "OUT link.net is a symbolic link to",
         {"real.net": "mine"}, prepare=lambda folder: (folder / "link.net").symlink_to(folder / "real.net")),
    Case("export-out-not-netx", ["export", NET, "model.wav"], "OUT model.wav: an exported model is a netx file"),
    Case("export-card-a-folder", ["export", NET, "m.net"], "OUT's card m.json (written beside OUT) is a folder",
         {"m.json/keep.txt": "x"}),
    Case("export-other-licence", ["export", NET, "m.net"], "LICENSE-ndns.md is not the licence notice "
         "LICENSE-ndns.md that comes with the model", {"LICENSE-ndns.md": "my own notes"}),
]


def _write(folder: Path, files: dict[str, str | bytes], noisy: np.ndarray) -> None:
    audio = {"<audio>": noisy, "<silence>": np.zeros(16000, np.float32), "<short>": noisy[:100],
             "<anti-phase>": np.stack([noisy, -noisy], axis=1),  # a channel wired inverted
             "<dc>": np.full(16000, 0.01, np.float32)}  # a constant offset, nothing else
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content == "<nan>":
            samples = noisy.copy()
            samples[100] = np.nan
            sf.write(path, samples, 16000, subtype="FLOAT")
        elif content in audio:
            sf.write(path, audio[content], 16000)
        else:
            path.write_text(content)


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's SHA-256, a link's target, a folder, a device or pipe's kind."""
    state = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            state[key] = "link -> " + os.readlink(path)
        elif stat.S_ISREG(mode):
            state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[key] = "folder" if stat.S_ISDIR(mode) else f"mode {stat.S_IFMT(mode):o}"
    return state


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_clear_line_and_changes_nothing(case: Case, tmp_path: Path, noisy_speech):
    noisy = noisy_speech[0][:16000 * 3].astype(np.float32)
    _write(tmp_path, case.files, noisy)
    if case.prepare is not None:
        case.prepare(tmp_path)
    devices = {p: os.stat(p).st_mode for p in ("/dev/null", "/dev/full")}
    before = snapshot(tmp_path)
    args = [a.format(baseline=reference_path("ndns_baseline.net"), prune50=reference_path("spandex_prune50.net"))
            for a in case.args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPANDEX_MODELS_DIR": str(tmp_path / "library"),
           "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("SPANDEX_DEBUG", None)
    try:
        result = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path / "locked.wav")], capture_output=True)
    output = result.stdout + result.stderr
    assert result.returncode not in (0, 70), output  # 70: an internal error, not a message about the input
    assert "Traceback" not in output and "internal error" not in output, output
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and re.match(r"spandex( [a-z-]+)*: error: ", errors[0]), result.stderr  # (a command's usage)
    assert case.message in errors[0], result.stderr
    assert snapshot(tmp_path) == before  # nothing changed, nothing added (no run folder, no temporary file)
    assert {p: os.stat(p).st_mode for p in devices} == devices
    assert not (tmp_path / "PWNED").exists()  # the malicious checkpoint ran nothing
