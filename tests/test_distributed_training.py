"""Data-parallel training through torchrun + DistributedDataParallel, on 2 CPU processes (gloo).

The real command line a cluster user types, on the tiny real dataset: it finishes, rank 0 alone reports and
writes, the checkpoint holds each process's own data stream, and the processes hold the same network at every
checkpoint (the trainer refuses to go on otherwise — the second test shows that check catching a difference).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from engine.files.netx import load_model
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
