"""Training runs end to end on a tiny real dataset: validation equals the streaming engine, GMP reaches its
target, activity regularisation lowers measured SynOps, checkpoints are atomic, and a killed training process
resumes from its last checkpoint exactly as if it had never stopped."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.dsp.level import LevelParams
from engine.errors import SpandexError
from engine.evaluation.evaluate import evaluate
from engine.files.netx import load_model
from engine.files.pairing import pair_files
from engine.snn.compaction import idle_hidden_neurons
from engine.training import checkpoint as checkpoint_module
from engine.training import events as ev
from engine.training import trainer as trainer_module
from engine.training.checkpoint import load_checkpoint, save_checkpoint
from engine.training.config import ConfigError, PruningConfig, RegularizerConfig, TrainConfig, dump_config, load_config
from engine.training.dataset import PairedClips
from engine.training.trainer import run_training
from engine.training.validation import validate
from tests.reference_models import reference_path

REPO = Path(__file__).resolve().parents[1]


def tiny_config(dataset: Path, **changes) -> TrainConfig:
    """A from-scratch run of a small network: a step takes a few hundredths of a second."""
    settings = dict(name="tiny", dataset=str(dataset), hidden_sizes=(48, 48), steps=20, batch_size=3,
                    segment_seconds=0.5, learning_rate=0.01, eval_every=10, log_every=5, threads=1, seed=3)
    settings.update(changes)
    return TrainConfig(**settings)


def started(events: list) -> ev.Started:
    return next(e for e in events if isinstance(e, ev.Started))


def stop_after(steps: int) -> Callable[[], bool]:
    """A ``should_stop`` that asks a run to stop once it has made ``steps`` steps (it is asked before each step, and
    after each batch of a validation: keep validations out of the first ``steps`` steps)."""
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > steps

    return should_stop


def collect(config: TrainConfig, run_dir: Path, **kwargs) -> list:
    events: list = []
    run_training(config, run_dir, emit=events.append, **kwargs)
    return events


def test_validation_equals_the_streaming_engine(tiny_dataset):
    model = load_model(reference_path("spandex_prune75.net"))
    folder = tiny_dataset / "validation_set"
    result = validate(model, PairedClips.load(folder, limit=3))
    engine = evaluate(model, pair_files(folder / "noisy", folder / "clean")[:3])
    assert result.synops_per_frame == engine.report["synops_per_frame"]  # the same events, exactly
    assert list(result.activity_sparsity) == engine.report["activity_sparsity"]
    assert result.power_proxy_mops == pytest.approx(engine.report["power_proxy_mops"], rel=1e-12)
    assert result.si_snr == pytest.approx(engine.mean("si_snr"), abs=1e-6)
    assert result.si_snr_noisy == pytest.approx(engine.mean("si_snr_noisy"), abs=1e-9)


def test_a_levelled_run_validates_as_the_engine_streams_and_its_model_and_card_keep_the_levelling(
        tiny_dataset, tmp_path):
    events = collect(tiny_config(tiny_dataset, steps=4, eval_every=4, level_input=True), tmp_path / "run")
    finished = events[-1]
    model = load_model(finished.model_path)
    assert model.encoder.level == LevelParams()
    assert json.loads(Path(finished.card_path).read_text())["input_level"] == LevelParams().to_dict()
    folder = tiny_dataset / "validation_set"
    result = validate(model, PairedClips.load(folder, limit=3))
    engine = evaluate(model, pair_files(folder / "noisy", folder / "clean")[:3])
    assert result.synops_per_frame == engine.report["synops_per_frame"]  # levelled alike, the same events
    assert result.si_snr == pytest.approx(engine.mean("si_snr"), abs=1e-6)
    # and a fine-tune that turns it off gives a model without it
    events = collect(tiny_config(tiny_dataset, steps=2, eval_every=2, init=finished.model_path, level_input=False,
                                 name="plain"), tmp_path / "plain")
    assert load_model(events[-1].model_path).encoder.level is None


def test_a_run_reports_trains_and_exports(tiny_dataset, tmp_path):
    events = collect(tiny_config(tiny_dataset), tmp_path / "run")
    loading = [e for e in events if isinstance(e, ev.Loading)]
    assert (loading[-1].split, loading[-1].done, loading[-1].total) == ("validation", 6, 6)
    assert events.index(loading[-1]) < events.index(started(events))  # data first, then the run
    assert started(events).start_step == 0
    assert isinstance(events[-1], ev.Finished)
    steps = [e for e in events if isinstance(e, ev.StepReport)]
    assert [e.step for e in steps] == [5, 10, 15, 20]
    evals = [e for e in events if isinstance(e, ev.Evaluated)]
    assert [e.step for e in evals] == [10, 20]
    assert evals[-1].synops_per_frame > 0 and np.isfinite(evals[-1].si_snr)
    model = load_model(events[-1].model_path)
    assert model.neuron_counts == (257, 48, 48, 257)
    card = events[-1].metrics
    assert card["si_snr"] == evals[-1].si_snr and card["params"] == 257 * 48 * 2 + 48 * 48
    assert (tmp_path / "run" / "history.json").is_file()


def test_gmp_reaches_the_target_and_never_regrows(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, init=str(reference_path("ndns_baseline.net")), steps=10, eval_every=10,
                         learning_rate=0.001, pruning=PruningConfig(final_sparsity=0.6, frequency=2, n_prunes=4),
                         drop_idle_neurons=True)
    events = collect(config, tmp_path / "run")
    pruned = [e for e in events if isinstance(e, ev.Pruned)]
    assert [e.step for e in pruned] == [2, 4, 6, 8]
    sparsities = [e.weight_sparsity for e in pruned]
    assert sparsities == sorted(sparsities) and sparsities[-1] == pytest.approx(0.6, abs=1e-5)
    final = load_model(events[-1].model_path)
    # 8-bit rounding may zero a few more; the exported net is smaller (below): 60 % of the baseline's weights
    assert 1 - final.n_nonzero_synapses / 525_312 >= 0.6
    # exported without its idle hidden neurons (the baseline has 48 in its second hidden layer), and the
    # card's power proxy counts the neurons the exported net has
    assert not any(m.any() for m in idle_hidden_neurons(final)) and final.neuron_counts[2] <= 512 - 48
    metrics = events[-1].metrics
    neuronops = sum(final.neuron_counts[:-1])
    assert metrics["power_proxy_mops"] == pytest.approx((metrics["synops_per_frame"] + 10 * neuronops) / 8e-3 / 1e6)
    assert pruned[-1].layer_sparsity[2] > pruned[-1].layer_sparsity[0]  # global: the output layer goes first


@pytest.fixture(scope="module")
def unregularised_synops(tiny_dataset, tmp_path_factory) -> float:
    events = collect(tiny_config(tiny_dataset, **REG_RUN), tmp_path_factory.mktemp("plain"))
    return events[-1].metrics["synops_per_frame"]


REG_RUN = dict(steps=20, eval_every=20, batch_size=4, segment_seconds=1.0)


@pytest.mark.parametrize("kind, p, weight", [("lp", 1.0, 50.0), ("lp", 0.5, 50.0), ("hoyer", 1.0, 200.0)])
def test_activity_regularisation_lowers_measured_synops(tiny_dataset, tmp_path, unregularised_synops, kind, p,
                                                        weight):
    regularizer = RegularizerConfig(weight=weight, kind=kind, p=p)
    events = collect(tiny_config(tiny_dataset, **REG_RUN, regularizer=regularizer), tmp_path / "run")
    assert events[-1].metrics["synops_per_frame"] < 0.9 * unregularised_synops
    assert any(e.regularization > 0 for e in events if isinstance(e, ev.StepReport))


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"step": 7, "weights": torch.ones(3)})

    def crash_midway(obj, target):
        Path(target).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash_midway)
    with pytest.raises(OSError):
        save_checkpoint(path, {"step": 8})
    assert load_checkpoint(path)["step"] == 7  # the previous checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left behind
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(SpandexError, match="not a readable SPANDEX checkpoint"):
        load_checkpoint(path)


def test_resume_after_kill_continues_from_the_last_checkpoint(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, steps=40, eval_every=40, log_every=2, checkpoint_seconds=0.0)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(dump_config(config))
    run_dir = tmp_path / "killed"
    command = [sys.executable, "-m", "cli.main", "train", str(recipe), "--out", str(run_dir)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in process.stdout:
            if line.startswith("step 12/40"):
                break
        os.killpg(process.pid, signal.SIGKILL)  # no chance to checkpoint or clean up
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(run_dir / "checkpoint.pt")["step"]
    assert 11 <= killed_at < 40  # checkpoints every step here; the one of step 12 may not be written yet
    resumed = subprocess.run([sys.executable, "-m", "cli.main", "train", "--resume", str(run_dir)], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {killed_at} of 40" in resumed.stdout
    # the resumed run is the run that was never interrupted, to the last bit
    uninterrupted = collect(config, tmp_path / "straight")
    a, b = load_model(run_dir / "tiny.net"), load_model(uninterrupted[-1].model_path)
    for x, y in zip(a.layers, b.layers):
        np.testing.assert_array_equal(x.weight_mant, y.weight_mant)
        np.testing.assert_array_equal(x.delays if x.delays is not None else [],
                                      y.delays if y.delays is not None else [])
    # and so are the losses it reported, the first report after the resume included: the checkpoint keeps the
    # steps since the last report, which that report averages with the steps after the resume
    def losses(path: Path) -> dict:
        history = load_checkpoint(path / "checkpoint.pt")["history"]
        return {h["step"]: h["loss"] for h in history if h["event"] == "step"}

    assert losses(run_dir) == losses(tmp_path / "straight") and len(losses(run_dir)) == 20


def test_cancel_checkpoints_first_and_a_rerun_resumes(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, steps=30, eval_every=30, checkpoint_seconds=1e9, log_every=5)
    events = collect(config, tmp_path / "run", should_stop=stop_after(7))
    assert isinstance(events[-1], ev.Cancelled) and events[-1].step == 7
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 7  # nothing lost
    rest = collect(config, tmp_path / "run")
    assert started(rest).start_step == 7 and isinstance(rest[-1], ev.Finished) and rest[-1].step == 30
    # the report at step 10 averages steps 6-10, two of them made before the cancel: as an uninterrupted run's
    straight = collect(config, tmp_path / "straight")
    reports = [[(e.step, e.loss, e.si_snr) for e in events if isinstance(e, ev.StepReport)]
               for events in (events + rest, straight)]
    assert [step for step, *_ in reports[0]] == [5, 10, 15, 20, 25, 30] and reports[0] == reports[1]


def test_a_stop_during_a_validation_does_not_wait_for_it_and_a_resume_validates_that_step(tiny_dataset, tmp_path,
                                                                                          monkeypatch):
    """A stop (a hang-up, Ctrl-C, the panel's cancel) had waited for the validation under way, minutes on a large
    split, before its checkpoint."""
    batches: list[tuple[int, int]] = []
    validate_all = trainer_module.validate

    def counting(model, clips, batch=16, progress=None):
        def seen(done: int, total: int) -> None:
            batches.append((done, total))
            if progress is not None:
                progress(done, total)
        return validate_all(model, clips, batch, seen)

    monkeypatch.setattr(trainer_module, "validate", counting)
    config = tiny_config(tiny_dataset, steps=20, eval_every=10, eval_batch=2, checkpoint_seconds=1e9)
    run_dir = tmp_path / "run"

    def evaluated(events: list) -> list[int]:
        return [e.step for e in events if isinstance(e, ev.Evaluated)]

    first = collect(config, run_dir, should_stop=lambda: len(batches) >= 1)  # asked once a validation has begun
    assert batches == [(2, 6)]  # one batch of three: the stop came before the second
    assert isinstance(first[-1], ev.Cancelled) and first[-1].step == 10 and evaluated(first) == []
    assert load_checkpoint(run_dir / "checkpoint.pt")["step"] == 10
    batches.clear()
    second = collect(config, run_dir, should_stop=lambda: len(batches) >= 4)  # stops in step 20's validation
    assert evaluated(second) == [10] and second[-1].step == 20 and isinstance(second[-1], ev.Cancelled)
    batches.clear()
    third = collect(config, run_dir, should_stop=lambda: len(batches) >= 1)  # and in the make-up of step 20's
    assert batches == [(2, 6)] and evaluated(third) == [] and isinstance(third[-1], ev.Cancelled)
    third = collect(config, run_dir)
    assert evaluated(third) == [20] and isinstance(third[-1], ev.Finished)
    assert evaluated(collect(config, run_dir)) == []  # run again when finished: exports again, validates nothing
    straight = collect(config, tmp_path / "straight")
    def validations(folder: Path) -> list[dict]:  # what the run's plots read
        return [{k: v for k, v in h.items() if k != "seconds"}
                for h in json.loads((folder / "history.json").read_text()) if h["event"] == "evaluated"]

    assert validations(run_dir) == validations(tmp_path / "straight")
    assert [h["step"] for h in validations(run_dir)] == [10, 20]
    for x, y in zip(load_model(third[-1].model_path).layers, load_model(straight[-1].model_path).layers):
        np.testing.assert_array_equal(x.weight_mant, y.weight_mant)


def test_a_step_reports_seconds_of_steps_not_of_the_validation_between_them(tiny_dataset, tmp_path, monkeypatch):
    """The first report after a validation had counted the validation's seconds as its steps' (2.95 s/step)."""
    validate_all = trainer_module.validate

    def slow(*args, **kwargs):
        time.sleep(3.0)
        return validate_all(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "validate", slow)
    config = tiny_config(tiny_dataset, steps=10, eval_every=3, log_every=5, eval_clips=2)
    reports = [e for e in collect(config, tmp_path / "run") if isinstance(e, ev.StepReport)]
    assert [r.step for r in reports] == [5, 10]  # each window holds a 3-s validation (steps 3, and 6 and 9)
    assert all(r.seconds_per_step < 0.5 for r in reports), [r.seconds_per_step for r in reports]


def test_a_run_folder_refuses_other_settings(tiny_dataset, tmp_path):
    collect(tiny_config(tiny_dataset, steps=2, eval_every=2), tmp_path / "run")
    with pytest.raises(SpandexError, match="other settings .*learning_rate"):
        collect(tiny_config(tiny_dataset, steps=2, eval_every=2, learning_rate=0.5), tmp_path / "run")
    # how it computes is not part of the run: another thread count continues it
    events = collect(tiny_config(tiny_dataset, steps=2, eval_every=2, threads=2), tmp_path / "run")
    assert isinstance(events[-1], ev.Finished)


def test_yaml_exponents_are_numbers(tmp_path):
    """PyYAML reads `1e-5` as a string (YAML 1.1 wants a dot); the schema reads it as the number it is."""
    path = tmp_path / "exp.yaml"
    path.write_text("name: x\ndataset: d\nweight_decay: 1e-5\nsteps: 1e3\nlearning_rate: 3E-4\n")
    config = load_config(path)
    assert (config.weight_decay, config.steps, config.learning_rate) == (1e-5, 1000, 3e-4)
    assert isinstance(config.steps, int) and isinstance(config.weight_decay, float)


@pytest.mark.parametrize("line, message", [
    ("steps: yes", "steps: true is not a number"),  # not one step
    ("learning_rate: on", "learning_rate: true is not a number"),
    ("mse_weight: off", "mse_weight: false is not a number"),
    ("pruning: {final_sparsity: true}", "pruning.final_sparsity: true is not a number"),
    ("mixing: {clean_share: no}", "mixing: clean_share: false is not a number"),
    ("mixing: {speed: [yes, 1.1]}", "mixing: speed: true is not a number"),  # inside a range too
    ("hidden_sizes: [512, on]", "hidden_sizes: true is not a number"),
    ("weight_average: yes", "weight_average: true is not a number (give the average's decay, such as 0.999)"),
    ("backward_precision: yes", "backward_precision = True: must be one of 'auto', 'float32' or 'bfloat16'"),  # a choice
])
def test_yaml_yes_and_no_are_not_numbers(tmp_path, line, message):
    """YAML 1.1 reads yes/no/on/off/true/false as booleans, which pydantic would take as 1 and 0."""
    path = tmp_path / "yes.yaml"
    path.write_text(f"name: x\ndataset: d\n{line}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert message in str(refused.value)
    path.write_text("name: x\ndataset: d\ntrain_thresholds: yes\nkeep_zeros: off\nlevel_input: no\n")  # yes/no ones
    config = load_config(path)
    assert (config.train_thresholds, config.keep_zeros, config.level_input) == (True, False, False)


def test_bad_configs_are_refused_with_their_names(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndataset: d\nsteps: 10\nlearnig_rate: 0.1\n")
    with pytest.raises(SpandexError, match="unknown setting.*learnig_rate"):
        load_config(path)
    path.write_text("name: x\ndataset: d\nsteps: 0\npruning: {final_sparsity: 1.5}\n")
    with pytest.raises(SpandexError, match="steps = 0: must be at least 1"):
        load_config(path)
    path.write_text("name: x\ndataset: d\npruning: {final_sparsity: 0.5, frequncy: 3}\n")
    with pytest.raises(SpandexError, match="unknown setting 'pruning.frequncy'"):
        load_config(path)
    with pytest.raises(SpandexError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_a_run_folder_another_process_trains_in_is_refused_and_left_to_it(tiny_dataset, tmp_path):
    """Two processes in one run folder each overwrote the other's checkpoints and model (both ran to the end)."""
    from engine.training.run_folder import RunInUse, held_alone, kept_only_once_started

    run_dir = tmp_path / "run"
    run_training(tiny_config(tiny_dataset, steps=2, eval_every=2), run_dir)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                               f"fd = os.open({str(run_dir)!r}, os.O_RDONLY)\n"
                               "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUse, match=f"^{run_dir} is being trained in by another process now"):
            with kept_only_once_started(run_dir):
                run_training(tiny_config(tiny_dataset, steps=4, eval_every=2), run_dir)
        assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # nothing of the other run touched
    finally:
        holder.kill()
        holder.wait()
    with held_alone(run_dir):  # released with its process: free again
        pass


def test_a_stop_while_the_data_loads_stops_there_with_a_checkpoint_to_resume(tiny_dataset, tmp_path):
    """The stop was seen only after the whole split had loaded (minutes for a large one) and a first validation."""
    asked: list[int] = []

    def stop_at_the_second_clip() -> bool:
        asked.append(1)
        return len(asked) >= 2

    events: list = []
    result = run_training(tiny_config(tiny_dataset, steps=4, eval_every=2), tmp_path / "run", emit=events.append,
                          should_stop=stop_at_the_second_clip, stop_while_loading=True)
    assert isinstance(result, ev.Cancelled) and result.step == 0 and len(asked) == 2
    assert not any(isinstance(e, ev.Started) for e in events)  # before the clips had all loaded
    assert Path(result.checkpoint).is_file()
    finished = run_training(tiny_config(tiny_dataset, steps=4, eval_every=2), tmp_path / "run")
    assert isinstance(finished, ev.Finished) and finished.step == 4


def test_a_resume_on_a_validation_split_built_again_is_refused(tiny_dataset, tmp_path):
    """Resumed silently, its numbers after the rebuild were printed (and stored on its card) beside those before."""
    import shutil

    import soundfile as sf

    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    config = tiny_config(data, steps=6, eval_every=3)
    assert isinstance(run_training(config, tmp_path / "run", should_stop=stop_after(4)), ev.Cancelled)
    clean = sorted((data / "validation_set" / "clean").iterdir())[0]
    audio, rate = sf.read(clean, dtype="float32")
    sf.write(clean, 0.5 * audio, rate)  # a clip of the split made again
    with pytest.raises(SpandexError, match=r"^the validation split of .* is no longer the one this run was validated "
                                           r"on \(6 clips, audio [0-9a-f]{7}; now 6 clips, audio [0-9a-f]{7}\)"):
        run_training(config, tmp_path / "run")
    sf.write(clean, audio, rate)  # put back: it resumes
    assert isinstance(run_training(config, tmp_path / "run"), ev.Finished)


def test_a_run_folder_holding_only_other_files_is_used_and_they_are_left_alone(tiny_dataset, tmp_path):
    """`mkdir R; spandex train … --out R | tee R/train.log`: the log (or lost+found, .nfs files) is not the run's."""
    run_dir = tmp_path / "R"
    (run_dir / "lost+found").mkdir(parents=True)
    (run_dir / "train.log").write_text("the run's output so far\n")
    finished = run_training(tiny_config(tiny_dataset, steps=2, eval_every=2), run_dir)
    assert isinstance(finished, ev.Finished)
    assert (run_dir / "train.log").read_text() == "the run's output so far\n" and (run_dir / "lost+found").is_dir()
