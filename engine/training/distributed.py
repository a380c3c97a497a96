"""Data-parallel training over several processes: who this process is, and the few collective steps a run needs.

``torchrun --nproc_per_node N -m cli.main train CONFIG`` starts N copies of one run. Each reads torchrun's
``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``, joins the process group (gloo on CPUs, nccl on CUDA GPUs, one GPU
per process) and draws its own share of every batch from its own random stream; DistributedDataParallel
averages the gradients, so all processes hold the same weights after every step. Only rank 0 reports, runs
validation and writes checkpoints, history and the exported model. A single process (no torchrun) is a world
of one and none of this happens.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from engine.errors import SpandexError

group_joined = False
"""Whether this process has been one of a run's several processes (:func:`join` made it so); the CLI then leaves
at once at its end (cli/main.py says why)."""


@dataclass(frozen=True)
class Workers:
    """This process's place among the run's processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False
    """True when this run created the process group (and destroys it at the end)."""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def join(device: torch.device) -> tuple[Workers, torch.device]:
    """Join the run's processes (if torchrun started several) and pick this process's device.

    On CUDA each process takes the GPU of its ``LOCAL_RANK``. A process group that the caller has already
    initialised is used as it is.
    """
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local, owns = int(os.environ.get("LOCAL_RANK", rank)), False
    else:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return Workers(), device
        rank, local, owns = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), True
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise SpandexError(f"process {rank} wants GPU {local}, but this machine has "
                               f"{torch.cuda.device_count()}: start at most that many processes per node")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    global group_joined
    group_joined = True
    if owns:
        # rank 0 validates while the others wait at the next step: give that wait an hour, not nccl's 10 min
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=datetime.timedelta(hours=1))
    return Workers(rank, world, local, owns), device


def finish_together(workers: Workers) -> None:
    """After a run that ended normally: wait until every process has, so that none tears the group down while
    another still talks to it (a gloo process leaving early can abort at exit)."""
    if workers.world_size > 1 and dist.is_initialized():
        dist.barrier()


def leave(workers: Workers) -> None:
    if workers.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def share_of_batch(batch_size: int, workers: Workers) -> int:
    """Each process's rows of a ``batch_size`` batch (the recipe's batch is the whole step's, on any world)."""
    if batch_size % workers.world_size:
        raise SpandexError(f"batch_size {batch_size} does not split over {workers.world_size} processes: "
                           f"use a multiple of {workers.world_size}")
    return batch_size // workers.world_size


def data_rng(seed: int, workers: Workers, step: int = 0) -> np.random.Generator:
    """This process's batch-drawing generator: the run's own for one process, an independent stream per rank
    otherwise (``step`` > 0: a fresh stream for a run resumed on another number of processes)."""
    if not workers.distributed and step == 0:
        return np.random.default_rng(seed)
    return np.random.default_rng([seed, step, workers.rank])


def sum_over_workers(values: torch.Tensor, workers: Workers) -> torch.Tensor:
    """``values`` summed over all processes (itself for one)."""
    if workers.distributed:
        dist.all_reduce(values)
    return values


def gather_to_all(obj, workers: Workers) -> list:
    """Every process's ``obj``, in rank order, on every process."""
    if not workers.distributed:
        return [obj]
    out = [None] * workers.world_size
    dist.all_gather_object(out, obj)
    return out


def from_main(obj, workers: Workers):
    """Rank 0's ``obj`` on every process."""
    if not workers.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def replicas_agree(tensors: list[torch.Tensor], workers: Workers) -> bool:
    """True when every process holds exactly the same ``tensors`` (compared by a float64 fingerprint)."""
    if not workers.distributed:
        return True
    with torch.no_grad():
        fingerprint = [(float(t.double().sum()), float(t.double().square().sum())) for t in tensors]
    return all(f == fingerprint for f in gather_to_all(fingerprint, workers))
