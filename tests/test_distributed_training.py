"""Data-parallel training through torchrun + DistributedDataParallel, on 2 CPU processes (gloo).

The real command line a cluster user types, on the tiny real dataset: it finishes, rank 0 alone reports and
writes, the checkpoint holds each process's own data stream, and the processes hold the same network at every
checkpoint (the trainer refuses to go on otherwise — the second test shows that check catching a difference).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from engine.files.netx import load_model
from engine.training import events as ev
from engine.training import trainer
from engine.training.checkpoint import load_checkpoint
from engine.training.config import dump_config
from engine.training.distributed import Workers, replicas_agree
from tests.test_training_runs import tiny_config

REPO = Path(__file__).resolve().parents[1]


def test_torchrun_two_processes_train_one_network(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, steps=6, batch_size=4, eval_every=3, log_every=1, eval_clips=2)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(dump_config(config))
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "cli.main", "train", str(recipe), "--out", str(run_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # rank 0 alone reports: each step once, one validation per evaluation step, one finish
    lines = result.stdout.splitlines()
    assert sum(line.startswith("step 6/6") for line in lines) == 1
    assert sum(line.startswith("validation at step") for line in lines) == 2
    assert sum(line.startswith("finished at step 6") for line in lines) == 1
    state = load_checkpoint(run_dir / "checkpoint.pt")
    assert state["step"] == 6
    streams = state["numpy_rng"]  # one per process, each its own
    assert isinstance(streams, list) and len(streams) == 2 and streams[0] != streams[1]
    model = load_model(run_dir / "tiny.net")
    assert model.neuron_counts == (257, 48, 48, 257)
    steps = [h for h in state["history"] if h["event"] == "step"]
    assert [h["step"] for h in steps] == [1, 2, 3, 4, 5, 6]


def _agreement(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        workers = Workers(rank=rank, world_size=2)
        same = [torch.arange(6.0), torch.ones(2, 3)]
        differs = [torch.arange(6.0), torch.ones(2, 3) + (1e-7 if rank == 1 else 0.0)]
        results[rank] = (replicas_agree(same, workers), replicas_agree(differs, workers))
    finally:
        dist.destroy_process_group()


def test_replica_check_sees_a_one_ulp_difference():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_agreement, args=(port, results), nprocs=2, join=True)
        assert dict(results) == {0: (True, False), 1: (True, False)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_stopping_in_a_validation(rank: int, port: int, dataset: str, run_dir: str, stop: bool, results) -> None:
    """One process of a 2-process run; with ``stop``, rank 0 is asked to stop once its first validation has begun
    (as a Ctrl-C reaches rank 0 alone when only it is in the foreground), rank 1 never is."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        batches: list[int] = []
        validate_all = trainer.validate

        def counting(model, clips, batch=16, progress=None):
            def seen(done: int, total: int) -> None:
                batches.append(done)
                if progress is not None:
                    progress(done, total)
            return validate_all(model, clips, batch, seen)

        trainer.validate = counting
        config = tiny_config(Path(dataset), steps=6, batch_size=4, eval_every=3, log_every=1, eval_clips=4,
                             eval_batch=2, checkpoint_seconds=1e9)
        events: list = []
        result = trainer.run_training(config, run_dir, emit=events.append,
                                      should_stop=lambda: stop and rank == 0 and len(batches) >= 1)
        results[rank] = (type(result).__name__, result.step, [e.step for e in events if isinstance(e, ev.Evaluated)],
                         len(batches))
    finally:
        dist.destroy_process_group()


def _spawn_two(function, args: tuple, timeout_s: float = 180.0) -> None:
    """Both processes to their end, or the test fails (a collective one process skips would hang the other)."""
    context = mp.spawn(function, args=args, nprocs=2, join=False)
    deadline = time.monotonic() + timeout_s
    while not context.join(timeout=1.0):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            raise AssertionError(f"the processes were still running after {timeout_s:.0f} s: a collective deadlock?")


def test_a_stop_in_rank_0s_validation_stops_both_processes_and_a_resume_makes_it(tiny_dataset, tmp_path):
    run_dir = str(tmp_path / "run")
    with mp.Manager() as manager:
        results = manager.dict()
        _spawn_two(_train_stopping_in_a_validation, (_free_port(), str(tiny_dataset), run_dir, True, results))
        stopped = dict(results)
        stopped_at = load_checkpoint(Path(run_dir) / "checkpoint.pt")["step"]
        results.clear()
        _spawn_two(_train_stopping_in_a_validation, (_free_port(), str(tiny_dataset), run_dir, False, results))
        resumed = dict(results)
    # rank 0 dropped its validation after one of its two batches; both stopped at that step, with a checkpoint
    assert stopped == {0: ("Cancelled", 3, [], 1), 1: ("Cancelled", 3, [], 0)}
    assert stopped_at == 3
    # the resume made step 3's validation first, then step 6's, and finished in both processes
    assert resumed[0][:3] == ("Finished", 6, [3, 6]) and resumed[1][:2] == ("Finished", 6)
    state = load_checkpoint(Path(run_dir) / "checkpoint.pt")
    assert [h["step"] for h in state["history"] if h["event"] == "evaluated"] == [3, 6]


def test_only_a_process_that_joined_a_run_leaves_without_the_interpreters_teardown(monkeypatch):
    """A torchrun worker skips the teardown (a gloo thread aborted one at exit); an app or an eval started where
    WORLD_SIZE happens to be set must not (their exit handlers stop Lava's processes)."""
    from cli import main as cli_main
    from engine.training import distributed

    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setattr(distributed, "group_joined", False)
    assert not cli_main._one_of_several_processes()
    monkeypatch.setattr(distributed, "group_joined", True)
    assert cli_main._one_of_several_processes()
