"""One training run — from scratch, fine-tuning, GMP pruning, activity regularisation, distillation — resumable,
cancellable.

:func:`run_training` is the whole loop. It reports through ``emit`` (see :mod:`engine.training.events`), polls
``should_stop`` between steps, and keeps everything in its run folder::

    RUN/config.yaml        the settings (a resumed run must match them)
    RUN/checkpoint.pt      the latest checkpoint (atomic; at most ``checkpoint_seconds`` of work is lost
                           if the process is killed; a cancel checkpoints first and loses nothing)
    RUN/history.json       every report so far (for plots), rewritten at each checkpoint
    RUN/NAME.net, NAME.json  the exported model and its model card, when the run finishes

Calling it again on the same folder and config resumes from the checkpoint, with the optimizer state and
both random generators restored, so a resumed run computes what an uninterrupted one would have.
It runs in the calling process; :mod:`engine.training.job` runs it in a process of its own.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from engine.constants import HOP
from engine.dsp.level import LevelParams
from engine.errors import SpandexError
from engine.evaluation.report import card_metrics, validation_measured_on
from engine.files.atomic import write_text_atomic
from engine.files.digest import file_sha256  # a resumed run checks its init and teacher are still those files
from engine.files.netx import load_model, save_netx
from engine.files.output import check_run_folder
from engine.library.card import card_model_name, host_processing, read_card
from engine.library.catalog import model_file, resolve_model
from engine.library.licences import copy_notices, lineage_notices, named_with_licences
from engine.snn.compaction import drop_idle_neurons
from engine.snn.model import SDNNModel
from engine.training import events as ev
from engine.training import fused
from engine.training.averaging import WeightAverage
from engine.training.checkpoint import load_checkpoint, save_checkpoint
from engine.training.config import TrainConfig, check_same_run, differing_settings, dump_config
from engine.training.dataset import PairedClips
from engine.training.dataset_layout import fresh_sources, split_folder, training_split_identity
from engine.training.device import backward_dtype, keep_freed_memory, training_device
from engine.training.distributed import (
    Workers,
    data_rng,
    finish_together,
    from_main,
    gather_to_all,
    join,
    leave,
    replicas_agree,
    share_of_batch,
    sum_over_workers,
)
from engine.training.fresh_mixtures import FreshMixtures
from engine.training.graph import SDNNGraph
from engine.training.intelligibility import intelligibility_loss
from engine.training.loss import BatchSpectra, batch_spectra, denoise_batch, masked_denoise, ndns_loss
from engine.training.prefetch import BatchPrefetcher
from engine.training.pruning import mask_sparsity, prune_masks
from engine.training.run_folder import CHECKPOINT_NAME, held_alone
from engine.training.schedule import GMPSchedule
from engine.training.validation import validate
from engine.training.widening import widen

Emit = Callable[[ev.Event], None]


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up over ``warmup_steps``, then constant or cosine decay to ``final_learning_rate``."""
    if config.warmup_steps and step <= config.warmup_steps:
        return config.learning_rate * step / config.warmup_steps
    if config.final_learning_rate is None:
        return config.learning_rate
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    low, high = config.final_learning_rate, config.learning_rate
    return low + 0.5 * (high - low) * (1 + math.cos(math.pi * progress))


def make_optimizer(config: TrainConfig, parameters: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """RAdam (N-DNS's choice, for long runs from scratch) or Adam (fine-tuning: see ``TrainConfig.optimizer``)."""
    kind = {"radam": torch.optim.RAdam, "adam": torch.optim.Adam}[config.optimizer]
    return kind(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)


def load_training_data(config: TrainConfig, emit: Emit,
                       stop: Callable[[], bool] | None = None) -> PairedClips | FreshMixtures:
    """The training split: sources mixed afresh at every step (``spandex data build --fresh``), else the
    dataset's fixed clips. ``stop()`` true while they load: :class:`StoppedWhileLoading`."""
    sources = fresh_sources(config.dataset)
    if sources is not None:
        recipe = config.mixing_recipe()
        return FreshMixtures.load(sources, recipe, seed=config.seed,
                                  progress=_loading_reporter("train", emit, what="source folders", stop=stop))
    return PairedClips.load(split_folder(config.dataset, "train"), compact=True,
                            progress=_loading_reporter("train", emit, stop=stop))


class StoppedWhileLoading(Exception):
    """A stop was asked for while the data loaded (minutes, for a large split): the run stops there."""


def build_graph(config: TrainConfig, init: SDNNModel | None = None) -> tuple[SDNNGraph, str]:
    """The starting graph and a description of where it came from; ``init``: ``config.init`` already loaded."""
    if config.init == "scratch":
        sizes = (257, *config.hidden_sizes, 257)
        graph = SDNNGraph(sizes, threshold_mant=config.threshold_mant, max_delay=config.max_delay,
                          train_thresholds=config.train_thresholds, seed=config.seed)
        parent = "scratch"
    else:
        model = init if init is not None else resolve_model(config.init)
        graph = SDNNGraph.from_model(model, max_delay=config.max_delay, train_thresholds=config.train_thresholds,
                                     freeze_zeros=config.keep_zeros)
        parent = named_with_licences(card_model_name(model, config.init), config.init)
        if config.widen is not None:
            graph = widen(graph, config.widen, seed=config.seed)
    if config.level_input is not None:
        graph.input_level = (graph.input_level or LevelParams()) if config.level_input else None
    return graph, parent


def load_teacher(spec: str) -> tuple[SDNNModel, str]:
    """The model a run distils from and its file's SHA-256 (a library name can come to mean another file: a
    resumed run checks it still has the same teacher); a bad spec's message says it is the teacher."""
    try:
        path = model_file(spec)
        model = load_model(path)
    except SpandexError as exc:
        raise SpandexError(f"teacher: {exc}") from None
    return model, file_sha256(path)


class Teacher(torch.nn.Module):
    """The frozen networks a run distils from, as one: the mean of their masks (one network: its own mask)."""

    def __init__(self, graphs: list[SDNNGraph]) -> None:
        super().__init__()
        self.graphs = torch.nn.ModuleList(graphs)
        self.requires_grad_(False)

    def mask(self, noisy_magnitude: torch.Tensor) -> torch.Tensor:
        masks = [graph(noisy_magnitude).mask for graph in self.graphs]
        return masks[0] if len(masks) == 1 else torch.stack(masks).mean(dim=0)


def load_teachers(specs: tuple[str, ...]) -> list[tuple[SDNNModel, str, str]]:
    """:func:`load_teacher` of each model of an ensemble, with its network's digest
    (:meth:`SDNNModel.content_digest`), refused where two are one network (a copy of a file under another name: the
    ensemble would weigh it twice and pay for it twice)."""
    loaded = [(model, file_digest, model.content_digest()) for model, file_digest in map(load_teacher, specs)]
    seen: dict[str, str] = {}
    for spec, (_, _, network) in zip(specs, loaded, strict=True):
        twin = seen.setdefault(network, spec)
        if twin != spec:
            raise SpandexError(f"teachers {twin!r} and {spec!r} are the same network: an ensemble averages different "
                               f"models; give each once")
    return loaded


def build_teacher(config: TrainConfig) -> tuple[Teacher | None, str | None, str | None]:
    """What a run distils from (``config.teachers``), its file's SHA-256 and its network's digest, an ensemble's each
    joined by "+", or (None, None, None)."""
    if config.teacher is None:
        return None, None, None
    models, file_digests, networks = zip(*load_teachers(config.teachers), strict=True)
    graphs = [SDNNGraph.from_model(model, max_delay=0) for model in models]  # 0: only the delays it has
    return Teacher(graphs), "+".join(file_digests), "+".join(networks)


@dataclass(frozen=True)
class _Batch:
    """A step's batch: its spectra and, when distilling, what the teacher makes of it (audio, magnitudes)."""

    spectra: BatchSpectra
    taught: tuple[torch.Tensor, torch.Tensor] | None


class _ValidationStopped(Exception):
    """A stop asked for during a validation: the run checkpoints without it, and a resume makes it first."""


class _Run:
    """The state of one run and the steps that change it (in one process of ``workers``, on ``device``)."""

    def __init__(self, config: TrainConfig, run_dir: Path, emit: Emit, device: torch.device = torch.device("cpu"),
                 workers: Workers = Workers()) -> None:
        self.config, self.run_dir, self.emit = config, run_dir, emit
        self.device, self.workers = device, workers
        self.checkpoint_path = run_dir / CHECKPOINT_NAME
        init = None if config.init == "scratch" else resolve_model(config.init)  # loaded once: what it trains from
        self.graph, self.parent = build_graph(config, init)
        self.init_sha256 = None if init is None else file_sha256(model_file(config.init))  # the card's: which file
        self.init_network = None if init is None else init.content_digest()  # a resume's check: which network
        self.training_data = training_split_identity(config.dataset)
        self.validation_data: str | None = None  # the clips its validations were on (a checkpoint's, or the first)
        self.graph.to(device)
        self.graph.backward_dtype = backward_dtype(config.backward_precision, device)
        self.teacher, self.teacher_sha256, self.teacher_network = build_teacher(config)
        if self.teacher is not None:
            self.teacher.to(device)
        # what the step calls: the graph, or its DDP wrapper that averages gradients over the processes
        self.model = self.graph if not workers.distributed else DistributedDataParallel(
            self.graph, device_ids=[device] if device.type == "cuda" else None)
        self.optimizer = make_optimizer(config, [p for p in self.graph.parameters() if p.requires_grad])
        self.average = None if config.weight_average is None else WeightAverage(self.graph, config.weight_average)
        """With ``weight_average``: the moving average of the weights, which the run validates and exports."""
        self.regularizer = config.regularizer.build() if config.regularizer else None
        self.rng = data_rng(config.seed, workers)
        self.prefetcher: BatchPrefetcher | None = None
        self.batch_rows = share_of_batch(config.batch_size, workers)
        self.step = 0
        self.elapsed_s = 0.0
        self.history: list[dict] = []
        self.window: list[tuple[float, float, float]] = []
        """(loss, SI-SNR, regulariser) of each step since the last step report: the next report averages them,
        and a checkpoint keeps them, so that the first report after a resume is the uninterrupted run's."""
        self.schedule: GMPSchedule | None = None
        if config.pruning is not None:
            self.schedule = config.pruning.schedule(mask_sparsity(self.masks))

    @property
    def masks(self) -> list[torch.Tensor]:
        return [self.graph.mask(i) for i in range(self.graph.n_layers)]

    # --- persistence -----------------------------------------------------------------------------------

    def state(self) -> dict:
        """The checkpoint's contents (collective: with several processes every one must call it)."""
        data_state = self.rng.bit_generator.state if self.prefetcher is None else self.prefetcher.generator_state
        rng_states = gather_to_all(data_state, self.workers)
        return {
            "step": self.step, "elapsed_s": self.elapsed_s, "graph": self.graph.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": rng_states[0] if len(rng_states) == 1 else rng_states,
            "torch_rng": torch.get_rng_state(), "history": self.history, "report_window": self.window,
            "schedule_initial": None if self.schedule is None else self.schedule.initial_sparsity,
            "config": self.config.to_dict(), "parent": self.parent, "teacher_sha256": self.teacher_sha256,
            "init_sha256": self.init_sha256, "training_data": self.training_data,
            "validation_data": self.validation_data,
            "init_network": self.init_network, "teacher_network": self.teacher_network,
            "weight_average": None if self.average is None else self.average.state_dict(),
        }

    def restore(self, state: dict) -> None:
        changed = differing_settings(TrainConfig.from_dict(state["config"], "the checkpoint's settings"), self.config)
        if changed:  # (RUN/config.yaml edited after the checkpoint: resuming would train and describe another run)
            raise SpandexError(f"{self.run_dir / 'config.yaml'} no longer has the settings its checkpoint was made "
                               f"with (differing: {', '.join(changed)}); put them back to resume, or start a new run")
        if not _same_network(state, "init", self.init_network, self.init_sha256):  # (its layout may differ: first)
            raise SpandexError(f"init {self.config.init!r} is no longer the network this run started from (its "
                               f"layout, weights, thresholds, delays or input encoding changed); resume with that "
                               f"model, or start a new run")
        if state.get("training_data", self.training_data) != self.training_data:
            raise SpandexError(f"the dataset {self.config.dataset} is no longer the one this run started with (its "
                               f"training split was built again, or another way); resume with that data, or start "
                               f"a new run")
        self.stop_prefetching()
        self.graph.load_state_dict(state["graph"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.average is not None:  # (the config matches the checkpoint's: it has one too)
            self.average.load_state_dict(state["weight_average"])
        self.step, self.elapsed_s, self.history = state["step"], state["elapsed_s"], state["history"]
        self.validation_data = state.get("validation_data")  # (none in older checkpoints)
        self.window = [tuple(values) for values in state.get("report_window", [])]  # (none in older checkpoints)
        rng_states = state["numpy_rng"] if isinstance(state["numpy_rng"], list) else [state["numpy_rng"]]
        if len(rng_states) == self.workers.world_size:
            self.rng.bit_generator.state = rng_states[self.workers.rank]
        else:  # saved by another number of processes: fresh streams, as reproducible
            self.rng = data_rng(self.config.seed, self.workers, self.step)
        torch.set_rng_state(state["torch_rng"])
        self.parent = state.get("parent", self.parent)
        if not _same_network(state, "teacher", self.teacher_network, self.teacher_sha256):  # a name: another file
            changed = self._changed_teachers(state)
            one = len(changed) == 1
            raise SpandexError(f"the teacher{'' if one else 's'} {', '.join(map(repr, changed))} "
                               f"{'is' if one else 'are'} no longer the network{'' if one else 's'} this run started "
                               f"with (layout, weights, thresholds, delays or input encoding changed); resume with "
                               f"{'that model' if one else 'those models'}, or start a new run")
        if self.config.pruning is not None and state["schedule_initial"] is not None:
            self.schedule = self.config.pruning.schedule(state["schedule_initial"])

    def _changed_teachers(self, state: dict) -> list[str]:
        """Which of the run's teachers differ from the checkpoint's: by each network where the checkpoint keeps
        them one by one, else all of them."""
        before, now = str(state.get("teacher_network")).split("+"), str(self.teacher_network).split("+")
        if "teacher_network" not in state or len(before) != len(now):
            return list(self.config.teachers)
        return [spec for spec, old, new in zip(self.config.teachers, before, now, strict=True) if old != new]

    def save(self) -> None:
        """Checkpoint (collective; rank 0 writes), after checking that all processes hold the same network."""
        if not replicas_agree(list(self.graph.state_dict().values()), self.workers):
            raise SpandexError(f"step {self.step}: the training processes no longer hold the same network "
                               f"(nondeterministic kernels or a changed process?); resume from the last checkpoint")
        state = self.state()
        if self.workers.is_main:
            save_checkpoint(self.checkpoint_path, state)
            write_text_atomic(self.run_dir / "history.json", json.dumps(self.history))
            self.emit(ev.Checkpointed(self.step, str(self.checkpoint_path)))

    # --- the work --------------------------------------------------------------------------------------

    def train_step(self, clips: PairedClips | FreshMixtures, samples: int) -> tuple[float, float, float]:
        config = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, self.step + 1)
        batch = self.next_batch(clips, samples)
        out = self.model(batch.spectra.noisy_magnitude)
        if out.sharpening:  # a sharpened mask (engine/snn/mask.py) is not the fused kernels' relu(y + 1)
            denoised, magnitude = denoise_batch(out.mask, batch.spectra.noisy_spectrum, samples,
                                                batch.spectra.noisy_magnitude)
        else:
            denoised, magnitude = masked_denoise(out.y, batch.spectra.noisy_spectrum, samples,
                                                 batch.spectra.noisy_magnitude)
        loss, score = ndns_loss(batch.spectra.clean, denoised, batch.spectra.clean_magnitude, magnitude,
                                config.mse_weight)
        if config.intelligibility_weight:
            loss = loss + config.intelligibility_weight * intelligibility_loss(batch.spectra.clean_magnitude,
                                                                               magnitude)
        if batch.taught is not None:  # distillation: also match what the teacher makes of the same batch
            taught, taught_magnitude = batch.taught
            imitation, _ = ndns_loss(taught, denoised, taught_magnitude, magnitude, config.mse_weight)
            loss = (1.0 - config.distillation_weight) * loss + config.distillation_weight * imitation
        regularization = torch.zeros((), device=self.device)
        if self.regularizer is not None:
            regularization = self.regularizer(out.spikes)
            loss = loss + regularization
        # the step's numbers, averaged over the processes: all of them see the same and stop together
        stats = sum_over_workers(torch.stack([loss, score.nanmean().nan_to_num(0.0), regularization]).detach(),
                                 self.workers)  # (a batch of silent targets only has no SI-SNR: 0 is reported)
        loss_value, score_value, reg_value = (stats / self.workers.world_size).tolist()
        if not math.isfinite(loss_value):
            resume = ("resume continues from the last checkpoint" if (self.run_dir / CHECKPOINT_NAME).is_file()
                      else "no checkpoint was written yet: start the run again")
            raise SpandexError(f"the loss became {loss_value} at step {self.step + 1}; lower the learning rate "
                               f"({resume})")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.graph.parameters(), config.grad_clip)
        self.optimizer.step()
        self.graph.clamp_parameters()
        if self.average is not None:
            self.average.update(self.graph)
        self.step += 1
        return loss_value, score_value, reg_value

    def next_batch(self, clips: PairedClips | FreshMixtures, samples: int) -> _Batch:
        """The step's batch from ``clips``, with what the step needs of it before its own network runs, on the
        step's device. The next one is drawn on a worker thread meanwhile; on a CPU run that thread also makes its
        spectra and its teacher's output, which a free core then takes off the step's time."""
        on_cpu = self.device.type == "cpu"
        if self.prefetcher is None or not self.prefetcher.serves(clips.batch, self.batch_rows, samples):
            self.stop_prefetching()
            self.prefetcher = BatchPrefetcher(clips.batch, self.rng, self.batch_rows, samples,
                                              prepare=self._prepare if on_cpu else None)
        batch = self.prefetcher.next()
        if on_cpu:
            return batch
        noisy, clean = batch  # on a GPU these are quicker there than on the worker
        return self._prepare((noisy.to(self.device, non_blocking=True), clean.to(self.device, non_blocking=True)))

    def _prepare(self, batch: tuple[torch.Tensor, torch.Tensor]) -> _Batch:
        spectra = batch_spectra(batch)
        if self.teacher is None:
            return _Batch(spectra, None)
        with torch.no_grad():  # (grad mode is per thread: this does not touch the step's)
            taught = denoise_batch(self.teacher.mask(spectra.noisy_magnitude), spectra.noisy_spectrum,
                                   spectra.noisy.shape[-1], spectra.noisy_magnitude)
        return _Batch(spectra, taught)

    def stop_prefetching(self) -> None:
        """Drop the batch drawn ahead: the generator is back where the steps so far left it."""
        if self.prefetcher is not None:
            self.prefetcher.close()
            self.prefetcher = None

    def agree(self, flag: bool) -> bool:
        """True when ``flag`` is true in any of the processes (collective)."""
        if not self.workers.distributed:
            return flag
        return bool(sum_over_workers(torch.tensor([float(flag)], device=self.device), self.workers).item() > 0)

    def prune_to(self, target: float) -> None:
        scope = self.config.pruning.scope if self.config.pruning else "global"
        weights = [self.graph.weights[i] for i in range(self.graph.n_layers)]
        new = prune_masks(weights, self.masks, target, scope, seed=self.config.seed * 100003 + self.step)
        for index, mask in enumerate(new):
            self.graph.set_mask(index, mask)
            if self.average is not None:  # (it took the masks of before at this step's update)
                self.average.graph.set_mask(index, mask)
        layer = tuple(1.0 - float(m.mean()) for m in new)
        self.emit(ev.Pruned(self.step, target, mask_sparsity(new), layer))

    def exported(self, name: str, source: str | None = None, averaged: bool = True) -> SDNNModel:
        """The model as it would be exported now (with ``weight_average``, the average's unless not ``averaged``);
        with ``drop_idle_neurons``, without its idle hidden neurons."""
        graph = self.average.graph if self.average is not None and averaged else self.graph
        model = graph.to_model(name, source=source)
        return drop_idle_neurons(model) if self.config.drop_idle_neurons else model

    def evaluate(self, clips: PairedClips, should_stop: Callable[[], bool] = lambda: False) -> ev.Evaluated | None:
        """Validate the network as it is now and report it; None if ``should_stop`` asks for a stop first (checked
        after every batch of clips: a stop does not wait for minutes of validation on a large split)."""
        def stop_if_asked(done: int, total: int) -> None:
            if done < total and should_stop():  # (after the last batch: nothing left to save time on)
                raise _ValidationStopped

        start = time.perf_counter()
        try:
            last_step_si_snri = None if self.average is None else validate(
                self.exported(self.config.name, averaged=False), clips, self.config.eval_batch, stop_if_asked).si_snri
            model = self.exported(self.config.name)
            result = validate(model, clips, self.config.eval_batch, stop_if_asked)
        except _ValidationStopped:
            return None
        event = ev.Evaluated(
            step=self.step, si_snr=result.si_snr, si_snri=result.si_snri,
            synops_per_frame=result.synops_per_frame, power_proxy_mops=result.power_proxy_mops,
            weight_sparsity=model.weight_sparsity, layer_sparsity=model.layer_weight_sparsity(),
            activity_sparsity=result.activity_sparsity, seconds=time.perf_counter() - start,
            neurons=tuple(model.neuron_counts), dropped_idle=self.config.drop_idle_neurons,
            last_step_si_snri=last_step_si_snri)
        self.history.append({"event": "evaluated", **event.__dict__})
        self.emit(event)
        return event

    def evaluation_at(self, step: int) -> ev.Evaluated | None:
        """The validation of ``step`` this run reported (its history, a checkpoint's included), or None."""
        for entry in reversed(self.history):
            if entry.get("event") == "evaluated" and entry.get("step") == step:
                return ev.Evaluated(**{key: value for key, value in entry.items() if key != "event"})
        return None

    def check_validation_split(self, validation: PairedClips) -> None:
        """Validate on the clips the run was validated on so far (a resumed run), or note them (a new one)."""
        now = f"{len(validation)} clips, audio {validation.fingerprint}"
        if self.validation_data is not None and self.validation_data != now and self.step > 0:
            raise SpandexError(f"the validation split of {self.config.dataset} is no longer the one this run was "
                               f"validated on ({self.validation_data}; now {now}): its numbers before and after would "
                               f"not compare; resume with that split, or start a new run")
        self.validation_data = now

    def cancel(self) -> ev.Cancelled:
        """Checkpoint (collective) and say the run stopped there."""
        self.save()
        cancelled = ev.Cancelled(self.step, str(self.checkpoint_path))
        self.emit(cancelled)
        return cancelled

    def export(self, evaluation: ev.Evaluated, train: PairedClips | FreshMixtures, validation: PairedClips) -> ev.Finished:
        config = self.config
        model = self.exported(config.name, source=str(self.run_dir / f"{config.name}.net"))
        model_path = save_netx(model, self.run_dir / f"{config.name}.net")
        card = model_card(config, model, evaluation, self.parent, train, validation, self.elapsed_s,
                          trained_layout=self.graph.sizes)
        if self.teacher_sha256 is not None:  # which files the teachers' names meant
            teacher_sha256, *ensemble_sha256 = self.teacher_sha256.split("+")
            card["training"]["teacher_sha256"] = teacher_sha256
            if ensemble_sha256:
                card["training"]["teacher_ensemble_sha256"] = ensemble_sha256
        started = self.evaluation_at(0) if config.init != "scratch" else None
        if started is not None:  # where it started, measured on the same clips (before any step)
            card["metrics"]["start_si_snri"] = started.si_snri
        card_path = write_text_atomic(self.run_dir / f"{config.name}.json", json.dumps(card, indent=2))
        return ev.Finished(self.step, str(model_path), str(card_path), card["metrics"], self._copy_licences(),
                           pruned_to=None if config.pruning is None else config.pruning.final_sparsity)

    def _copy_licences(self) -> tuple[str, ...]:
        """The licence notices of the model the run started from and its lineage, copied beside the run's model
        (as narrow, blend and export do); none for a run from scratch, or when that model is gone by now."""
        if self.config.init == "scratch":
            return ()
        try:
            source = model_file(self.config.init)
            notices = lineage_notices(source, read_card(source)[0])
        except (SpandexError, OSError):
            return ()
        return tuple(copy.name for copy in copy_notices(notices, self.run_dir))


def model_card(config: TrainConfig, model, evaluation: ev.Evaluated, parent: str,
               train: PairedClips | FreshMixtures, validation: PairedClips, elapsed_s: float,
               trained_layout: tuple[int, ...]) -> dict:
    """What `spandex models` and the GUI show about a trained model: data, recipe, metrics.

    ``trained_layout`` is the network the run trained (its parent's, widened or not; from scratch, the recipe's
    ``hidden_sizes``), which the exported model has unless its idle neurons were dropped."""
    data = {"dataset": str(config.dataset), "train_clips": len(train), "train_hours": train.seconds / 3600,
            "validation_clips": len(validation), "validation_hours": validation.seconds / 3600}
    if isinstance(train, FreshMixtures):
        data["train_clips"] = None  # no fixed clips: train_hours is the clean speech mixed from
        data["train_mixing"] = train.describe()
    manifest = Path(config.dataset) / "manifest.json"
    if manifest.is_file():
        described = json.loads(manifest.read_text())
        # the splits this run read; a held-out test split is the reports', never a training run's
        data["sources"] = {k: v for k, v in described.get("splits", {}).items() if k in ("train", "validation")}
    return {
        "name": config.name,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "parent": parent,
        "data": data,
        "recipe": config.to_dict(),
        "trained_layout": list(trained_layout),
        **host_processing(model),
        "training": {"steps": config.steps, "wall_time_s": round(elapsed_s, 1), "threads": config.threads,
                     "compiled_loops": config.device == "cpu" and fused.available(),
                     "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}"},
        "metrics": {**card_metrics(evaluation, model, validation_measured_on(config.dataset, validation)),
                    "clips": len(validation)},
    }


def _same_network(state: dict, role: str, network: str | None, file_sha256: str | None) -> bool:
    """Whether the checkpoint's ``role`` ("init" or "teacher") is the network the run has now: by what the networks
    compute (the same model saved again is the same), or by file bytes in a checkpoint from before that was kept."""
    if f"{role}_network" in state:
        return state[f"{role}_network"] == network
    return state.get(f"{role}_sha256", file_sha256) == file_sha256


def prepare_run_dir(config: TrainConfig, run_dir: str | os.PathLike) -> Path:
    """Create ``run_dir`` for ``config``, or check that the run already in it is this config's."""
    run_dir = Path(run_dir)
    check_run_folder(run_dir, f"the run folder {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / "config.yaml"
    before = check_same_run(config, run_dir)
    if before != config:  # new, or other notes, threads or device: the folder says what the run now goes on with
        write_text_atomic(saved, dump_config(config))
    return run_dir


def _loading_reporter(split: str, emit: Emit, what: str = "clips",
                      stop: Callable[[], bool] | None = None) -> Callable[[int, int], None]:
    """Emit :class:`Loading` about every 2 % of the clips or folders (and at the end); raise
    :class:`StoppedWhileLoading` once ``stop()`` is true."""
    def report(done: int, total: int) -> None:
        if stop is not None and stop():
            raise StoppedWhileLoading
        if done == total or done % max(1, total // 50) == 0:
            emit(ev.Loading(split, done, total, what))
    return report


def run_training(config: TrainConfig, run_dir: str | os.PathLike, emit: Emit = lambda e: None,
                 should_stop: Callable[[], bool] = lambda: False,
                 stop_while_loading: bool = False) -> ev.Finished | ev.Cancelled:
    """Train, reporting through ``emit``; returns (and emits) the final Finished or Cancelled event.

    ``should_stop()`` is asked before each step and between the batches of a validation; with
    ``stop_while_loading`` also as each clip of the data loads (a user's stop, not a count of calls: minutes of
    loading a large split are not waited out).

    Raises :class:`SpandexError` for bad settings or data (nothing written but ``run_dir``'s config).
    Started by ``torchrun`` with several processes, it trains data-parallel (:mod:`engine.training.distributed`);
    only rank 0 emits, validates and writes.
    """
    torch.set_num_threads(config.threads)
    keep_freed_memory()
    workers, device = join(training_device(config.device))
    try:
        result = _train(config, run_dir, emit if workers.is_main else lambda e: None, should_stop, device, workers,
                        stop_while_loading)
        finish_together(workers)
        return result
    finally:
        leave(workers)


def _train(config: TrainConfig, run_dir: str | os.PathLike, emit: Emit, should_stop: Callable[[], bool],
           device: torch.device, workers: Workers, stop_while_loading: bool) -> ev.Finished | ev.Cancelled:
    run_dir = Path(run_dir)
    check_run_folder(run_dir, f"the run folder {run_dir}")
    run_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as held:
        refused: SpandexError | None = None
        if workers.is_main:  # rank 0 alone holds the folder and writes there; the others hear whether it may
            try:
                held.enter_context(held_alone(run_dir))
                prepare_run_dir(config, run_dir)
            except SpandexError as exc:
                refused = exc
            except OSError as exc:  # (a full disk, a read-only folder: the others must hear it too, not hang)
                refused = SpandexError(f"the run folder {run_dir}: {exc.strerror or exc}")
        refused = from_main(refused, workers)
        if refused is not None:
            raise refused
        # the network, its teacher and the checkpoint first: what makes a run impossible (a model that cannot be
        # widened so, a teacher that changed) is said before the data's minutes of loading
        run = _Run(config, run_dir, emit, device, workers)
        if run.checkpoint_path.is_file():
            run.restore(load_checkpoint(run.checkpoint_path))
        try:
            return _steps(run, config, emit, should_stop, workers, stop_while_loading)
        finally:
            run.stop_prefetching()


def _owed_validation(run: _Run, validation: PairedClips,
                     should_stop: Callable[[], bool]) -> ev.Evaluated | ev.Cancelled | None:
    """The validation of the step a run starts at: at step 0 of a run from a model, the model it starts from, on the
    clips the run is measured on (a short fine-tune of a trained 8-bit model can lose, docs/training.md); later, the
    validation of a step a stop cut short before this resume. Read from the run's history, else made now (as stoppable
    as any); one made up after step 0 is checkpointed, so that a rerun reads it (at step 0 nothing is written: a run
    that fails before its first step leaves no folder). Cancelled (checkpointed) if a stop comes first; None in the
    processes that do not validate. Collective."""
    evaluation, made = None, False
    if run.workers.is_main:
        evaluation = run.evaluation_at(run.step)
        if evaluation is None:
            evaluation = run.evaluate(validation, should_stop)
            made = evaluation is not None
    if run.agree(run.workers.is_main and evaluation is None):
        return run.cancel()
    if run.agree(made and run.step > 0):
        run.save()
    return evaluation


def _steps(run: _Run, config: TrainConfig, emit: Emit, should_stop: Callable[[], bool],
           workers: Workers, stop_while_loading: bool) -> ev.Finished | ev.Cancelled:
    """Load the data, then train, validate and checkpoint ``run`` to its last step."""
    # (several processes agree on a stop at a step, below)
    stop = should_stop if stop_while_loading and not workers.distributed else None
    try:
        train = load_training_data(config, emit, stop)
        validation = PairedClips.load(split_folder(config.dataset, "validation"), limit=config.eval_clips,
                                      progress=_loading_reporter("validation", emit, stop=stop))
    except StoppedWhileLoading:  # checkpointed where it is (a resumed run: as it was), not after minutes of loading
        return run.cancel()
    run.check_validation_split(validation)
    samples = int(round(config.segment_seconds * 16000)) // HOP * HOP
    emit(ev.Started(str(run.run_dir), config.steps, run.step, len(train), train.seconds, len(validation),
                    config.teacher, config.distillation_weight, config.teacher_ensemble,
                    slower_loops=fused.why_unavailable() if run.device.type == "cpu" else None,
                    fresh_mixtures=isinstance(train, FreshMixtures),
                    mixing_unused=bool(config.mixing) and not isinstance(train, FreshMixtures),
                    intelligibility_weight=config.intelligibility_weight))
    last_eval: ev.Evaluated | None = None
    if (run.step == 0 and config.init != "scratch") or (
            run.step > 0 and (run.step % config.eval_every == 0 or run.step == config.steps)):
        owed = _owed_validation(run, validation, should_stop)
        if isinstance(owed, ev.Cancelled):
            return owed
        last_eval = owed
    if run.step == 0 and run.schedule is not None and run.schedule.initial_sparsity > mask_sparsity(run.masks):
        run.prune_to(run.schedule.initial_sparsity)

    last_save = time.monotonic()
    window_start, timed = time.monotonic(), 0  # the wall time of the steps this process made since the last report
    while run.step < config.steps:
        if run.agree(should_stop()):
            return run.cancel()
        tick = time.monotonic()
        run.window.append(run.train_step(train, samples))
        timed += 1
        if run.schedule is not None and run.schedule.is_pruning_step(run.step):
            run.prune_to(run.schedule.sparsity_at(run.step))
        if run.step % config.log_every == 0 or run.step == config.steps:
            now = time.monotonic()
            loss, si, reg = (float(np.mean(v)) for v in zip(*run.window))
            report = ev.StepReport(run.step, config.steps, loss, si, reg,
                                   run.optimizer.param_groups[0]["lr"], mask_sparsity(run.masks),
                                   (now - window_start) / timed, run.elapsed_s)
            run.history.append({"event": "step", **report.__dict__})
            emit(report)
            run.window, window_start, timed = [], now, 0
        saved = False
        if run.step % config.eval_every == 0 or run.step == config.steps:
            paused = time.monotonic()
            if workers.is_main:
                last_eval = run.evaluate(validation, should_stop)  # None if a stop came first
            if run.agree(workers.is_main and last_eval is None):  # the checkpoint without it; a resume makes it
                run.elapsed_s += time.monotonic() - tick
                return run.cancel()
            run.save()
            saved, last_save = True, time.monotonic()
            window_start += last_save - paused  # a step report's seconds a step are the steps' alone
        run.elapsed_s += time.monotonic() - tick  # wall time of the run: steps, evaluations, checkpoints
        if not saved and run.agree(time.monotonic() - last_save >= config.checkpoint_seconds):
            run.save()
            last_save = time.monotonic()
    finished = None
    if workers.is_main:
        assert last_eval is not None and last_eval.step == run.step  # (the last step's, made or read above)
        finished = run.export(last_eval, train, validation)
        emit(finished)
    return from_main(finished, workers)
