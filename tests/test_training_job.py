"""A training job in its own process, as the GUI panel drives it: progress through a queue, cancel, resume."""

import os
import signal
from pathlib import Path

from engine.files.netx import load_model
from engine.stop_signals import TERMINAL_SIGNALS
from engine.training import events as ev
from engine.training.config import TrainConfig
from engine.training.job import TrainingJob
from tests.test_stop_signals import ignored_signals


def config(dataset: Path, steps: int) -> TrainConfig:
    return TrainConfig(name="panel-run", dataset=str(dataset), hidden_sizes=(32, 32), steps=steps, batch_size=2,
                       segment_seconds=0.5, eval_every=6, log_every=3, threads=1, eval_clips=2)


def test_job_reports_progress_and_finishes(tiny_dataset, tmp_path):
    job = TrainingJob(config(tiny_dataset, 6), tmp_path / "run")
    job.start()
    events = job.wait(timeout=240)
    assert job.finished and not job.is_running()
    kinds = [type(e) for e in events if not isinstance(e, ev.Loading)]
    assert kinds[0] is ev.Started and kinds[-1] is ev.Finished, events[-1]
    assert any(isinstance(e, ev.Loading) for e in events)
    assert [e.step for e in events if isinstance(e, ev.StepReport)] == [3, 6]
    assert [e.step for e in events if isinstance(e, ev.Evaluated)] == [6]
    assert load_model(events[-1].model_path).name == "panel-run"
    assert job.poll() == []  # nothing after the terminal event


def test_cancel_stops_after_a_checkpoint_and_a_new_job_resumes(tiny_dataset, tmp_path):
    job = TrainingJob(config(tiny_dataset, 100_000), tmp_path / "run")
    job.start()
    seen = []
    while not any(isinstance(e, ev.StepReport) for e in seen):
        seen += job.poll(timeout=60)
        assert not job.finished, seen
    job.cancel()
    seen += job.wait(timeout=120)
    cancelled = seen[-1]
    assert isinstance(cancelled, ev.Cancelled) and 3 <= cancelled.step < 100_000
    assert Path(cancelled.checkpoint).is_file()

    again = TrainingJob(config(tiny_dataset, 100_000), tmp_path / "run")
    again.start()
    first: list = []
    while not any(isinstance(e, ev.Started) for e in first):
        first += again.poll(timeout=60)
    assert next(e for e in first if isinstance(e, ev.Started)).start_step == cancelled.step
    again.kill()  # killed without a checkpoint: poll() says so instead of waiting forever
    rest = again.wait(timeout=30)
    assert isinstance(rest[-1], ev.Failed) and "ended unexpectedly" in rest[-1].message


def test_bad_settings_fail_in_the_job_with_a_message(tmp_path):
    job = TrainingJob(config(tmp_path / "no-such-dataset", 5), tmp_path / "run")
    job.start()
    events = job.wait(timeout=120)
    assert isinstance(events[-1], ev.Failed) and "does not exist" in events[-1].message


def test_ctrl_c_at_the_terminal_leaves_the_run_to_the_app_which_cancels_it_with_a_checkpoint(tiny_dataset, tmp_path):
    """A terminal's Ctrl-C reaches the app's whole process group, the training process too: it must not die
    mid-step (it did, as "Failed: KeyboardInterrupt", its work since the last checkpoint lost) but go on until
    the app cancels it, and then checkpoint."""
    job = TrainingJob(config(tiny_dataset, 100_000), tmp_path / "run")
    job.start()
    assert set(TERMINAL_SIGNALS) <= ignored_signals(job.pid)  # from the start, while it still imports torch
    seen: list = []
    while not any(isinstance(e, ev.StepReport) for e in seen):
        seen += job.poll(timeout=60)
        assert not job.finished, seen
    os.kill(job.pid, signal.SIGINT)
    steps = [e.step for e in seen if isinstance(e, ev.StepReport)]
    while [e.step for e in seen if isinstance(e, ev.StepReport)] == steps:  # it trains on
        seen += job.poll(timeout=60)
        assert not job.finished, seen[-1]
    job.cancel()
    seen += job.wait(timeout=120)
    assert isinstance(seen[-1], ev.Cancelled), seen[-1]
    assert Path(seen[-1].checkpoint).is_file()


def test_sigterm_to_the_training_process_checkpoints_and_stops(tiny_dataset, tmp_path):
    """A logout or shutdown sends SIGTERM to every process: the run checkpointed nothing and lost its steps."""
    job = TrainingJob(config(tiny_dataset, 100_000), tmp_path / "run")
    job.start()
    seen: list = []
    while not any(isinstance(e, ev.StepReport) for e in seen):
        seen += job.poll(timeout=60)
        assert not job.finished, seen
    os.kill(job.pid, signal.SIGTERM)
    seen += job.wait(timeout=120)
    assert isinstance(seen[-1], ev.Cancelled) and seen[-1].step >= 3, seen[-1]
    assert Path(seen[-1].checkpoint).is_file()


def test_a_training_process_killed_before_any_checkpoint_says_there_is_none_to_resume(tiny_dataset, tmp_path):
    job = TrainingJob(config(tiny_dataset, 100_000), tmp_path / "run")
    job.start()
    job.kill()
    events = job.wait(timeout=30)
    assert isinstance(events[-1], ev.Failed)
    assert events[-1].message.endswith("it had saved no checkpoint yet: start it again"), events[-1].message
