"""Shared by ``spandex train``, ``prune`` and ``finetune``: their common options, and running a job in the
foreground with progress lines, Ctrl-C (SIGINT) or SIGTERM cancelling cleanly after a checkpoint."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from engine.errors import SpandexError
from engine.files.output import check_run_folder
from engine.library.catalog import (
    check_library_writable,
    check_name_free,
    install_model,
    resolve_model,
    user_models_dir,
)
from engine.stop_signals import (
    STOP_SIGNALS,
    interrupted,
    silence_closed_output,
    silence_hung_up_terminal,
    terminal_hung_up,
)
from engine.training import events as ev
from engine.training.config import TrainConfig, check_same_run, teacher_phrase
from engine.training.dataset_layout import dataset_summary
from engine.training.recipes import fine_tune_defaults


def add_training_options(parser: argparse.ArgumentParser, defaults: Mapping[str, object] | None = None) -> None:
    """Options every training command takes (they override the config's values).

    ``defaults``: the values a command uses when neither an option nor a recipe sets them, shown in the help
    (``spandex prune``/``finetune``: :func:`engine.training.recipes.fine_tune_defaults`); without it, each
    comes from the recipe the command reads (``spandex train``).
    """
    def shown(key: str, help_text: str) -> str:
        if defaults is None:
            return f"{help_text} (default: the recipe's)"
        return f"{help_text} (default {defaults[key]}, unless a --config recipe sets it)"

    group = parser.add_argument_group("training")
    group.add_argument("--dataset", metavar="DIR", help="dataset folder (training_set/, validation_set/)")
    group.add_argument("--steps", type=int, help=shown("steps", "optimizer steps in all"))
    group.add_argument("--batch-size", type=int, help=shown("batch_size", "training segments a step"))
    group.add_argument("--segment-seconds", type=float, help=shown("segment_seconds", "length of each training segment"))
    group.add_argument("--lr", type=float, dest="learning_rate", help=shown("learning_rate", "learning rate"))
    group.add_argument("--eval-every", type=int, help=shown("eval_every", "validate every N steps"))
    group.add_argument("--eval-clips", type=int, help="validate on the first N validation clips only (default: all)")
    group.add_argument("--threads", type=int, help="torch threads (default: the recipe's, else 2)")
    group.add_argument("--device", help="cpu (default), cuda or cuda:N; several GPUs or machines: start the "
                                        "command with torchrun (see docs/training.md)")
    group.add_argument("--seed", type=int, help="random seed" + (" (default: the recipe's, else 0)" if defaults is None
                                                             else " (default 0)"))
    group.add_argument("--train-thresholds", action="store_const", const=True,
                       help="learn each layer's delta threshold too (N-DNS does; it trades SI-SNR for SynOps)")
    group.add_argument("--drop-idle-neurons", action="store_const", const=True,
                       help="export without the hidden neurons that have no nonzero weight in or out, and the "
                            "synapses into them: the same output from a smaller network, fewer NeuronOps and "
                            "SynOps (its weight sparsity is then that of the smaller network)")
    distil = parser.add_argument_group("knowledge distillation")
    distil.add_argument("--teacher", metavar="MODEL", action="append",
                        help="library name or netx/.pt file to distil from: the run also learns to match its denoised "
                             "output; given more than once, the output of them all, their masks averaged (an "
                             "ensemble)")
    distil.add_argument("--teacher-weight", type=float, metavar="W",
                        help="share of the loss from matching the teacher (above 0, at most 1; default 0.5)")
    reg = parser.add_argument_group("activity regularisation (Narduzzi et al. 2022)")
    reg.add_argument("--reg-weight", type=float, metavar="LAMBDA", help="λ; 0 or absent: off")
    reg.add_argument("--reg", choices=("lp", "hoyer"), help="ψ: L_p (default) or Hoyer")
    reg.add_argument("--p", type=float, help="p of L_p (default 1; 0.5, 0.01, ...)")
    out = parser.add_argument_group("output")
    out.add_argument("--name", help="name of the resulting model")
    out.add_argument("--out", metavar="RUN_DIR", help="run folder: checkpoints, history, the exported model "
                                                    "(default build/runs/NAME)")


def fine_tune_help_defaults() -> dict[str, object]:
    """What ``spandex prune``/``finetune`` run with when neither an option nor ``--config`` says otherwise, as
    their help shows it."""
    settings = fine_tune_defaults("MODEL", None)
    return {**settings, "learning_rate": f"{settings['learning_rate']:g}, {settings['optimizer'].capitalize()}, cosine to {settings['final_learning_rate']:g}"}


def overrides(args: argparse.Namespace) -> dict:
    """The common options the user gave, as config settings."""
    keys = ("init", "dataset", "steps", "batch_size", "segment_seconds", "learning_rate", "eval_every", "eval_clips",
            "threads", "device", "seed", "name", "train_thresholds", "drop_idle_neurons", "teacher_weight")
    values = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    teachers = getattr(args, "teacher", None)  # --teacher A [--teacher B ...]: A, with B... averaged in
    if teachers and not all(teacher.strip() for teacher in teachers):
        raise SpandexError("--teacher needs a model: a library name or a netx file (it was given empty)")
    if teachers:
        values["teacher"], values["teacher_ensemble"] = teachers[0], teachers[1:]
    weight, kind, p = getattr(args, "reg_weight", None), getattr(args, "reg", None), getattr(args, "p", None)
    if not weight and (kind is not None or p is not None):  # absent or 0: off
        given = " and ".join(option for option, value in (("--reg", kind), ("--p", p)) if value is not None)
        raise SpandexError(f"{given} only shape{'' if ' and ' in given else 's'} the activity regulariser, which is off "
                           f"without a --reg-weight LAMBDA above 0: give one")
    if kind == "hoyer" and p is not None:  # Hoyer's ψ is a ratio of norms: no p to set
        raise SpandexError(f"--p {p:g} is the p of --reg lp; --reg hoyer has none: leave --p out")
    if weight:
        values["regularizer"] = {"weight": weight, "kind": kind or "lp", "p": 1.0 if p is None else p}
    return values


def option_name(key: str) -> str:
    """The command-line option that sets config ``key`` (as :func:`overrides` maps them)."""
    return {"learning_rate": "--lr", "regularizer": "--reg-weight", "teacher_ensemble": "--teacher"}.get(
        key, "--" + key.replace("_", "-"))


def run_dir_for(args: argparse.Namespace, config: TrainConfig) -> Path:
    """The run folder: ``--out``, else build/runs/NAME; refused, before anything loads, where a file is."""
    given = bool(getattr(args, "out", None))
    run_dir = Path(args.out) if given else Path("build") / "runs" / config.name
    check_run_folder(run_dir, f"{'--out' if given else 'the run folder'} {run_dir}")  # named as the user gave it
    return run_dir


def _fmt_time(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    return f"{minutes}m{s:02d}s"


LOST_DB = 0.05
"""A finished run this much under the model it started from (validation SI-SNRi) gets a note saying so."""
FEW_CLIPS = 40
"""Under this many validation clips, that note adds that the difference may be chance (the preset scores 192)."""


def describe(event: ev.Event) -> str | None:
    """One line for a progress event (None: nothing worth a line)."""
    if isinstance(event, ev.Loading):
        return f"loaded {event.total} {event.split} {event.what}" if event.done == event.total else None
    if isinstance(event, ev.Started):
        where = f"resuming at step {event.start_step} of {event.total_steps}" if event.start_step else \
            f"starting a run of {event.total_steps} steps"
        return (f"{where}: {event.data_phrase()}; run folder {event.run_dir}"
                + (f"; distilling from {teacher_phrase(event.teacher, event.teacher_weight, event.teacher_ensemble)}"
                   if event.teacher else "")
                + (f"; loss with the intelligibility term × {event.intelligibility_weight:g}"
                   if event.intelligibility_weight else "")
                + ("\nnote: the recipe's mixing settings are not used: this dataset has fixed training clips "
                   "(they apply to one built with `spandex data build --fresh`)" if event.mixing_unused else "")
                + (f"\nnote: the loops over frames run on torch's kernels, about 1.3 times slower a step than the "
                   f"compiled ones, which are {event.slower_loops} (docs/training.md, 'compiled loops')"
                   if event.slower_loops else ""))
    if isinstance(event, ev.StepReport):
        return (f"step {event.step}/{event.total_steps}  loss {event.loss:.3f}  batch SI-SNR {event.si_snr:.2f} dB"
                + (f"  reg {event.regularization:.4f}" if event.regularization else "")
                + f"  lr {event.learning_rate:.2e}  pruned {event.weight_sparsity:.1%}  "
                f"{event.seconds_per_step:.2f} s/step  {_fmt_time(event.elapsed_s)}")
    if isinstance(event, ev.Pruned):
        layers = " / ".join(f"{s:.0%}" for s in event.layer_sparsity)
        return f"pruned at step {event.step}: {event.weight_sparsity:.1%} of synapses (layers {layers})"
    if isinstance(event, ev.Evaluated):
        averaged = event.last_step_si_snri is not None
        return (f"validation at step {event.step}{' of the averaged weights' if averaged else ''}"
                f"{' (the model it starts from)' if event.step == 0 else ''}: "
                f"SI-SNR {event.si_snr:.2f} dB (SI-SNRi {event.si_snri:.2f}), "
                f"{event.synops_per_frame:,.0f} SynOps/frame, {event.power_proxy_mops:.2f} M-Ops/s, "
                f"weights {event.weight_sparsity:.1%} zero ({event.zeros_counted()}; {event.seconds:.0f} s)"
                + (f"; the last step's own weights: SI-SNRi {event.last_step_si_snri:.2f}" if averaged else ""))
    if isinstance(event, ev.Finished):
        beside = "".join(f", {name}" for name in event.licences)
        line = f"finished at step {event.step}: model {event.model_path}, card {event.card_path}{beside}"
        start, end = event.metrics.get("start_si_snri"), event.metrics.get("si_snri")
        if start is None or end is None:
            return line
        line += f"\nvalidation SI-SNRi {end:.2f} dB; the model it started from: {start:.2f} dB on the same clips"
        if end < start - LOST_DB:
            line += f"\nnote: {start - end:.2f} dB below where it started. " + _why_lost(event)
            clips = event.metrics.get("clips")
            if isinstance(clips, int) and clips < FEW_CLIPS:
                line += (f"\nnote: scored on {clips} validation clip{'s' * (clips != 1)} only: a difference of a few "
                         f"tenths of a dB there can be chance")
        return line
    return None


def _why_lost(event: ev.Finished) -> str:
    """What a run that ended below its starting model's score can do about it."""
    if event.pruned_to is not None:
        return (f"Pruning to {event.pruned_to:.0%} zero weights took it: more steps after the last prune (--steps), "
                f"or prunes spread over more steps (--frequency, --prunes), let the model recover "
                f"(docs/training.md, 'Pruning')")
    return ("A fine-tune moves a trained model's 8-bit weights by whole rounding steps, and on a few clips, a small "
            "batch or a few voices it can lose more than it learns (docs/training.md, 'Fine-tuning a model on the "
            "data it was trained on'): keep the model it started from, or give it itself as --teacher (it then keeps "
            "its score, and learns less from the new data)")


def resume_command(run_dir: Path, install: bool) -> str:
    """The command that continues the run in ``run_dir`` (``spandex train --resume`` takes any run folder)."""
    return shlex.join(["spandex", "train", "--resume", str(run_dir), *(["--install"] if install else [])])


def run_foreground(config: TrainConfig, run_dir: Path, install: bool, resuming: bool = False) -> int:
    """Run ``config`` here, printing progress; Ctrl-C, SIGTERM and SIGHUP checkpoint and stop (a second one stops at
    once). Exit status 0, or 128 + the signal's number once stopped (:mod:`engine.stop_signals`).

    A run that fails before its first checkpoint leaves no run folder behind (nothing there to resume).
    ``resuming``: ``run_dir`` is continued (``--resume``), whose run keeps its name: a taken name is refused with
    the way to finish the run and install its model under another.
    """
    stopped_by: list[int] = []  # the signal that asked for a stop, once one has: the exit status says it

    def request_stop(signum, frame) -> None:
        if stopped_by:  # a second signal: stop now, the last checkpoint stays
            raise interrupted(signum)
        if signum == signal.SIGHUP:  # the terminal is gone: printing there would fail mid-step, and lose the step
            silence_hung_up_terminal()
        stopped_by.append(signum)
        again = "press Ctrl-C again to abort at once" if signum == signal.SIGINT else "a second signal aborts at once"
        print(f"\n{signal.Signals(signum).name}: stopping after this step, or now if validating (checkpointing first; "
              f"{again})",
              file=sys.stderr, flush=True)

    model_file = run_dir / f"{config.name}.net"
    install_later = shlex.join(["spandex", "models", "--install", str(model_file), "--name", "OTHER"])
    later = f"the run's model is kept as {model_file}: add it under another name ({install_later})"
    installed = user_models_dir() / f"{config.name}.net"
    check_same_run(config, run_dir, finished=model_file.is_file())  # another run's folder: said now, before any work
    if install and model_file.is_file() and installed.is_file() and installed.read_bytes() == model_file.read_bytes():
        raise SpandexError(f"the run in {run_dir} has finished, and its model is in the library as '{config.name}' "
                           f"({installed}): nothing to do (for a new run, give another --name or --out)")
    if install:  # a library that cannot be written, or a name it holds, is refused now, not after the training
        check_library_writable(config.name, "nothing was trained: point SPANDEX_MODELS_DIR at a folder you can "
                               "write, or run it without installing (the model stays in the run folder; `spandex "
                               "models --install` adds it later)")
        check_name_free(config.name, rename_advice=(
            f"nothing was trained: finish the run without --install ({resume_command(run_dir, False)}), then add "
            f"its model under another name ({install_later})" if resuming
            else "nothing was trained; choose another --name"))
    from engine.training.run_folder import kept_only_once_started  # torch: imported by the commands that train
    from engine.training.trainer import run_training

    def emit(event: ev.Event) -> None:
        try:
            _print(event)
        except BrokenPipeError:  # `spandex train … | head`: nobody reads on; stop as on a signal, with a checkpoint
            silence_closed_output()
            if not stopped_by:
                stopped_by.append(signal.SIGPIPE)
                print("\nthe output's reader is gone: stopping after this step (checkpointing first)", file=sys.stderr,
                      flush=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, *STOP_SIGNALS)}
    try:
        with kept_only_once_started(run_dir):
            result = run_training(config, run_dir, emit=emit, should_stop=lambda: bool(stopped_by),
                                  stop_while_loading=True)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if isinstance(result, ev.Cancelled):
        print(f"cancelled at step {result.step}; checkpoint {result.checkpoint}. Resume with: "
              f"{resume_command(run_dir, install)}", flush=True)
        # (a process of a multi-process run stopped with the others, no signal of its own: as if terminated)
        return 128 + (stopped_by[0] if stopped_by else signal.SIGTERM)
    if install:  # (the name was free when the run started; another process may have taken it since)
        path = install_model(Path(result.model_path), Path(result.card_path), rename_advice=later)
        print(f"added to the model library: {path} (user models: {user_models_dir()})")
    return 0


def _print(event: ev.Event) -> None:
    line = describe(event)
    if line:
        try:
            print(line, flush=True)
        except OSError as exc:  # the terminal closed: the run goes on until SIGHUP stops it, with a checkpoint
            if not terminal_hung_up(exc):
                raise


def check_run_inputs(config: TrainConfig) -> None:
    """Refuse, before any run folder exists, a run without a usable dataset (as the app's Prune panel does) or
    whose starting model or teacher is not a model."""
    if config.init != "scratch":
        try:
            resolve_model(config.init)
        except SpandexError as exc:
            raise SpandexError(f"init: {exc}") from None
    if config.teacher is not None:
        from engine.training.trainer import load_teachers

        load_teachers(config.teachers)  # a bad teacher is refused before the run folder exists
    if not config.dataset:
        raise SpandexError("no dataset given: pass --dataset DIR (build one with `spandex data build`)")
    dataset_summary(config.dataset)  # no audio read: folders and pairs only
