"""`spandex prune`, `finetune` and `train` on a tiny real dataset: results join the library; bad input is a
clear error, never a traceback."""

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cli.main import build_parser, main
from engine.files.netx import load_model, save_netx
from engine.library.card import card_lines
from engine.training import fused
from engine.training.graph import SDNNGraph
from engine.training.recipes import fine_tune_config
from tests.reference_models import reference_path

REPO = Path(__file__).resolve().parents[1]
TINY = ["--steps", "4", "--batch-size", "2", "--segment-seconds", "0.5", "--eval-every", "4", "--eval-clips", "2",
        "--threads", "1"]


@pytest.fixture
def library(tmp_path, monkeypatch):
    folder = tmp_path / "library"
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(folder))
    return folder


def test_prune_then_finetune_with_regularisation_join_the_library(tiny_dataset, tmp_path, library, capsys):
    code = main(["prune", str(reference_path("ndns_baseline.net")), "--sparsity", "0.6", "--frequency", "1",
                 "--prunes", "2", "--dataset", str(tiny_dataset), "--name", "pruned-test",
                 "--out", str(tmp_path / "prune-run"), *TINY])
    assert code == 0
    out = capsys.readouterr().out
    assert "pruned at step 2: 60.0% of synapses" in out and "validation at step 4" in out
    pruned = load_model(library / "pruned-test.net")
    assert pruned.weight_sparsity >= 0.6
    card = json.loads((library / "pruned-test.json").read_text())
    assert card["recipe"]["pruning"]["final_sparsity"] == 0.6 and "si_snr" in card["metrics"]

    code = main(["finetune", "pruned-test", "--dataset", str(tiny_dataset), "--reg-weight", "5", "--reg", "hoyer",
                 "--name", "frugal-test", "--out", str(tmp_path / "ft-run"), *TINY])
    assert code == 0
    tuned = load_model(library / "frugal-test.net")
    for parent, child in zip(pruned.layers, tuned.layers):
        assert not (child.weight_mant[parent.weight_mant == 0]).any()  # pruned stays pruned
    assert json.loads((library / "frugal-test.json").read_text())["recipe"]["regularizer"]["kind"] == "hoyer"
    # the same command again, its run finished and installed: said so (it had said "nothing was trained: choose
    # another --name", as if the library's model were another's)
    capsys.readouterr()
    assert main(["finetune", "pruned-test", "--dataset", str(tiny_dataset), "--reg-weight", "5", "--reg", "hoyer",
                 "--name", "frugal-test", "--out", str(tmp_path / "ft-run"), *TINY]) == 1
    assert (f"the run in {tmp_path / 'ft-run'} has finished, and its model is in the library as 'frugal-test'"
            in capsys.readouterr().err)

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "pruned-test" in listing and "frugal-test" in listing

    # the same name again: refused, the library keeps the first model
    code = main(["finetune", "pruned-test", "--dataset", str(tiny_dataset), "--name", "frugal-test",
                 "--out", str(tmp_path / "ft-run-2"), *TINY])
    assert code == 1
    err = capsys.readouterr().err
    assert "already holds a model named 'frugal-test'" in err and "nothing was trained" in err
    assert not (tmp_path / "ft-run-2").exists()  # refused before the run, not after it


@pytest.mark.parametrize("args, message", [
    (["prune", "NET", "--sparsity", "1.5", "--dataset", "D"], "--sparsity 1.5: sparsity is a fraction below 1 (e.g. 0.015"),
    (["prune", "NET", "--sparsity", "90", "--dataset", "D"], "--sparsity 90: sparsity is a fraction below 1 (e.g. 0.9 for 90 %)"),
    (["prune", "NET", "--sparsity", "150", "--dataset", "D"], "final_sparsity = 150.0: must be below 1"),
    (["prune", "NET", "--sparsity", "0.5"], "no dataset given"),
    (["finetune", "no-such-model", "--dataset", "D"], "no model named 'no-such-model'"),
    (["train"], "give a recipe file"),
    (["train", "missing.yaml"], "configuration file not found"),
    (["train", "--resume", "nowhere"], "holds no training run"),
    (["prune", "NET", "--sparsity", "0.5", "--dataset", "no-such-dir", "--steps", "1", "--prunes", "1", "--frequency", "1"],
     "dataset folder no-such-dir does not exist (read from the working folder, "),
])
def test_bad_input_is_a_clear_error(args, message, library, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [str(reference_path("ndns_baseline.net")) if a == "NET" else a for a in args]
    assert main(args) == 1
    assert message in capsys.readouterr().err



def test_a_second_signal_stops_a_run_at_once_and_the_status_still_names_the_signal(tiny_dataset, tmp_path, capsys,
                                                                                     monkeypatch):
    """Two SIGTERMs: the first asks for a checkpoint, the second aborts at once — exit 143 and "(SIGTERM)", not
    130. In process, the run a stand-in that signals itself twice (two real signals in a row may arrive as one)."""
    from engine.training import trainer

    def signalled_twice(config, run_dir, emit, should_stop, stop_while_loading=False):
        os.kill(os.getpid(), signal.SIGTERM)
        assert should_stop()  # the first one asked for a stop after this step
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("the second signal did not stop the run at once")

    monkeypatch.setattr(trainer, "run_training", signalled_twice)
    (tmp_path / "r.yaml").write_text(f"name: r\ndataset: {tiny_dataset}\nsteps: 10\nhidden_sizes: [32, 32]\n")
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert main(["train", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "run")]) == 128 + signal.SIGTERM
    said = capsys.readouterr().err
    assert ("SIGTERM: stopping after this step, or now if validating (checkpointing first; a second signal aborts at "
            "once)") in said
    assert said.rstrip().endswith("spandex: interrupted (SIGTERM)"), said
    assert {s: signal.getsignal(s) for s in before} == before  # the command's handlers are gone again


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "sighup"])
def test_ctrl_c_on_prune_names_a_resume_command_that_exists_and_resumes(tiny_dataset, tmp_path, library, signum):
    """Ctrl-C (or a kill) checkpoints; the command the message names is a real one, and it finishes and installs
    the run. The exit status is the shell's 128 + the signal's number."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPANDEX_MODELS_DIR": str(library)}
    args = ["prune", str(reference_path("ndns_baseline.net")), "--sparsity", "0.6", "--frequency", "1", "--prunes", "2",
            "--dataset", str(tiny_dataset), "--name", "cancelled", "--out", str(tmp_path / "run"), "--steps", "30",
            "--batch-size", "2", "--segment-seconds", "0.5", "--eval-every", "30", "--eval-clips", "2",
            "--threads", "1"]
    process = subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=REPO, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("step "):
            process.send_signal(signum)
            break
    out = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=120) == 128 + signum, process.stderr.read()
    said = process.stderr.read()
    assert f"{signal.Signals(signum).name}: stopping after this step, or now if validating (checkpointing first; " \
        in said  # SIGHUP too
    assert ("press Ctrl-C again" in said) == (signum == signal.SIGINT), said
    resume = out.split("Resume with: ")[1].splitlines()[0]
    assert resume == f"spandex train --resume {tmp_path / 'run'} --install"
    words = shlex.split(resume)
    build_parser().parse_args(words[1:])  # a command spandex has (argparse would exit on an unknown one)
    finished = subprocess.run([sys.executable, "-m", "cli.main", *words[1:]], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert "resuming at step" in finished.stdout and (library / "cancelled.net").is_file()


def test_resuming_with_install_under_a_taken_name_says_how_to_finish_and_install_otherwise(tiny_dataset, tmp_path,
                                                                                           library, capsys):
    """--resume keeps the run's name (it takes no --name): when the library has since taken that name, the refusal
    gives the two commands that finish the run and add its model under another name, and they work."""
    run = tmp_path / "run"
    assert main(["prune", str(reference_path("ndns_baseline.net")), "--sparsity", "0.6", "--frequency", "1",
                 "--prunes", "2", "--dataset", str(tiny_dataset), "--name", "taken", "--out", str(run), "--no-install",
                 *TINY]) == 0
    library.mkdir(exist_ok=True)
    save_netx(load_model(reference_path("ndns_baseline.net")), library / "taken.net")  # the name, taken meanwhile
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--install"]) == 1
    err = capsys.readouterr().err
    assert "already holds a model named 'taken'" in err and "nothing was trained" in err
    finish = f"spandex train --resume {run}"
    install = f"spandex models --install {run / 'taken.net'} --name OTHER"
    assert f"({finish})" in err and f"({install})" in err and "choose another --name" not in err
    assert main(shlex.split(finish)[1:]) == 0
    assert main([*shlex.split(install)[1:-1], "taken-2"]) == 0
    assert load_model(library / "taken-2.net").weight_sparsity >= 0.6  # the run's model, not the one in the way
    assert json.loads((library / "taken-2.json").read_text())["name"] == "taken-2"


def test_a_run_that_fails_before_its_first_step_leaves_no_folder(tiny_dataset, tmp_path, library, capsys):
    """Clips too short to train on pass the folder check and fail the run; the corrected command (other settings,
    same run folder) then starts instead of being told the folder "holds a run with other settings"."""
    import numpy as np
    import soundfile as sf

    short = tmp_path / "short"
    for split in ("training_set", "validation_set"):
        for kind in ("noisy", "clean"):
            (short / split / kind).mkdir(parents=True)
            sf.write(short / split / kind / "a.wav", np.zeros(200, np.float32), 16000)
    run = tmp_path / "runs" / "fixed"
    args = ["prune", str(reference_path("ndns_baseline.net")), "--sparsity", "0.6", "--frequency", "1",
            "--prunes", "2", "--name", "fixed", "--out", str(run), *TINY]
    assert main([*args, "--dataset", str(short)]) == 1
    assert "a.wav: too short" in capsys.readouterr().err
    assert not run.exists()
    assert main([*args, "--dataset", str(tiny_dataset), "--lr", "0.002", "--no-install"]) == 0
    assert (run / "fixed.net").is_file()


@pytest.mark.parametrize("command", ["prune", "finetune"])
def test_fine_tuning_commands_show_the_defaults_they_run_with(command, capsys):
    """`spandex prune/finetune --help` names the steps, batch, rate and validation interval a run takes when
    neither an option nor --config sets them: the values the run's config then holds."""
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    config = fine_tune_config("spandex-dense", "spandex-dense", None)
    assert f"optimizer steps in all (default {config.steps}," in shown
    assert f"training segments a step (default {config.batch_size}," in shown
    assert f"length of each training segment (default {config.segment_seconds}," in shown
    assert (f"learning rate (default {config.learning_rate:g}, {config.optimizer.capitalize()}, cosine to "
            f"{config.final_learning_rate:g},") in shown
    assert f"validate every N steps (default {config.eval_every}," in shown
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    assert "optimizer steps in all (default: the recipe's)" in " ".join(capsys.readouterr().out.split())


def test_a_fine_tune_keeps_its_parents_smaller_layout_and_its_card_says_so(tiny_dataset, tmp_path, library, capsys,
                                                                             monkeypatch):
    """A parent whose idle neurons were dropped (fewer than the recipe's 512 hidden neurons) is fine-tuned in its
    own layout; the card says the layout is the parent's, and, when idle neurons are dropped again, which layout
    they were dropped from (the one the run trained, not the recipe's hidden sizes). Validation lines say what
    their share of zero weights counts, beside the steps' pruned share."""
    graph = SDNNGraph((257, 24, 20, 257), seed=3)
    with torch.no_grad():  # 4 first-layer neurons with nothing in or out: idle
        graph.weights[0][:4] = 0
        graph.weights[1][:, :4] = 0
    parent = save_netx(graph.to_model("small-parent"), tmp_path / "small-parent.net")

    assert main(["finetune", str(parent), "--dataset", str(tiny_dataset), "--name", "kept-layout",
                 "--out", str(tmp_path / "kept"), *TINY]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "zero (pruned or rounded to 0, of the 257-24-20-257 network;" in out
    lines = card_lines(json.loads((library / "kept-layout.json").read_text()))
    assert "  neurons per layer: 257-24-20-257 (its parent's)" in lines

    assert (json.loads((library / "kept-layout.json").read_text())["training"]["compiled_loops"]
            is fused.available())
    assert "note: the loops over frames run on torch's kernels" not in out or not fused.available()

    monkeypatch.setenv(fused.SWITCH, "0")  # as on a machine without a C compiler: same run, and a note says so
    assert main(["finetune", str(parent), "--dataset", str(tiny_dataset), "--name", "dropped-again",
                 "--drop-idle-neurons", "--out", str(tmp_path / "dropped"), *TINY]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"note: the loops over frames run on torch's kernels, about 1.3 times slower a step than the compiled " \
           f"ones, which are switched off ({fused.SWITCH}=0)" in out
    assert json.loads((library / "dropped-again.json").read_text())["training"]["compiled_loops"] is False
    assert "zero (pruned or rounded to 0, of the 257-20-20-257 network without idle neurons;" in out
    card = json.loads((library / "dropped-again.json").read_text())
    assert card["trained_layout"] == [257, 24, 20, 257] and card["metrics"]["neurons"] == [257, 20, 20, 257]
    shown = " ".join(card_lines(card))
    assert "idle neurons dropped from 257-24-20-257:" in shown and "(its parent's)" not in shown


def test_a_fine_tuning_recipe_that_leaves_settings_out_takes_the_fine_tuning_defaults(tmp_path):
    """`spandex finetune MODEL --config R`: what R leaves out is what the help shows (Adam at 3e-3, 400 steps, the
    name MODEL-finetuned), not a from-scratch run's settings (RAdam at 1e-2, which unlearns the parent)."""
    recipe = tmp_path / "short.yaml"
    recipe.write_text("dataset: somewhere\nthreads: 1\nsteps: 50\n")
    config = fine_tune_config("spandex-dense", "spandex-dense", None, recipe=recipe)
    plain = fine_tune_config("spandex-dense", "spandex-dense", None)
    assert config.steps == 50 and config.threads == 1 and config.dataset == "somewhere"  # the recipe's
    assert (config.name, config.optimizer, config.learning_rate, config.final_learning_rate, config.eval_every) == \
        (plain.name, plain.optimizer, plain.learning_rate, plain.final_learning_rate, plain.eval_every) == \
        ("spandex-dense-finetuned", "adam", 0.003, 0.0003, 100)
    # a recipe's own name does not name the runs of the models it fine-tunes (each would take the same run folder)
    recipe.write_text("name: lineup\ndataset: somewhere\nsteps: 50\n")
    assert fine_tune_config("spandex-prune75", "spandex-prune75", None, recipe=recipe).name == "spandex-prune75-finetuned"
    assert fine_tune_config("spandex-dense", "spandex-dense", None, recipe=recipe, name="mine").name == "mine"


def test_a_resume_from_another_folder_says_its_paths_are_the_starting_folders(tmp_path, monkeypatch, capsys):
    """A run's config.yaml keeps its paths as they were typed: resumed from elsewhere, the refusal says why."""
    from engine.training.config import TrainConfig, dump_config

    run = tmp_path / "runs" / "mine"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(dump_config(TrainConfig(name="mine", dataset="build/data/small",
                                                             init="spandex-prune75", teacher="models/teacher.net")))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume", str(run)]) != 0
    said = capsys.readouterr().err
    assert "teacher" in said and "names dataset build/data/small, teacher models/teacher.net relative to the folder " \
                                 "the run was started in: resume it from there" in said
    assert "init spandex-prune75" not in said  # a library name is not a path
    assert len(said.strip().splitlines()) == 1


def test_a_finished_run_asked_again_with_other_settings_says_which_not_nothing_to_do(tmp_path, library):
    """`spandex finetune M --steps 4` finished and installed; the same with --steps 5 is another run: the folder's
    settings differ, which the refusal names (it said "has finished ... nothing to do")."""
    from cli.training_run import run_foreground
    from engine.errors import SpandexError
    from engine.training.config import dump_config

    finished = fine_tune_config("spandex-prune75", "spandex-prune75", None, dataset="data", steps=4)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(dump_config(finished))
    library.mkdir()
    for folder in (run, library):
        (folder / f"{finished.name}.net").write_bytes(b"the same model")
    with pytest.raises(SpandexError, match=r"holds a finished run with other settings \(differing: steps\): for a "
                                           r"new run, give another --name or --out"):  # (resuming it does nothing)
        run_foreground(finished.replace(steps=5), run, install=True)
    with pytest.raises(SpandexError, match="has finished, and its model is in the library .*nothing to do"):
        run_foreground(finished, run, install=True)
