"""A training run in a process of its own, reporting through a queue, cancellable — what a GUI panel drives.

::

    job = TrainingJob(config, run_dir)
    job.start()
    ...                       # e.g. from a QTimer on the GUI thread, a few times a second:
    for event in job.poll():  # never blocks
        update_plots(event)   # StepReport, Pruned, Evaluated, ... then Finished / Cancelled / Failed
    job.cancel()              # asks the run to checkpoint and stop; poll() then yields Cancelled

The child is started with the "spawn" method (a fresh interpreter: no Qt, audio threads or locks are
inherited) and limits torch to ``config.threads`` threads. It never touches the caller's state; the run
folder is its only output. If the child dies without a terminal event (killed, out of memory), :meth:`poll`
yields a :class:`Failed` saying so, and the run can be resumed from its last checkpoint by starting a new
job on the same folder.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from pathlib import Path

from engine.errors import SpandexError
from engine.stop_signals import ignore_terminal_signals, start_deaf_to_terminal_signals, start_resource_tracker_deaf
from engine.training import events as ev
from engine.training.config import TrainConfig
from engine.training.run_folder import CHECKPOINT_NAME


def _child(config: TrainConfig, run_dir: str, events, stop, nice: int) -> None:
    ignore_terminal_signals()  # the app cancels its run in order (engine/stop_signals.py)
    parent = os.getppid()
    terminated: list[int] = []  # SIGTERM (a logout, a shutdown): checkpoint and stop, as on a cancel
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
    try:
        if nice:
            os.nice(nice)
        from engine.training.run_folder import kept_only_once_started
        from engine.training.trainer import run_training

        with kept_only_once_started(run_dir):  # a run that fails before its first checkpoint leaves no folder
            # cancelled, or its app gone without cancelling it (killed): it checkpoints and stops either way
            run_training(config, run_dir, emit=events.put,
                         should_stop=lambda: bool(terminated) or stop.is_set() or os.getppid() != parent,
                         stop_while_loading=True)
    except SpandexError as exc:
        events.put(ev.Failed(str(exc)))
    except BaseException as exc:  # report anything, then let the process end
        events.put(ev.Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc()))


class TrainingJob:
    """One training run in a child process. Not thread-safe: drive it from one thread."""

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike, nice: int = 0) -> None:
        """``nice``: added to the child's nice value — the app gives way to its audio and GUI this way."""
        self.config = config
        self.run_dir = Path(run_dir)
        start_resource_tracker_deaf()  # before the queue's semaphores ask for it
        context = multiprocessing.get_context("spawn")
        self._events = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(target=_child, name=f"spandex-train-{config.name}", daemon=True,
                                        args=(config, str(self.run_dir), self._events, self._stop, nice))
        self.result: ev.Event | None = None

    def start(self) -> None:
        start_deaf_to_terminal_signals(self._process)  # Ctrl-C reaches the app, which cancels the run: it checkpoints

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def cancel(self) -> None:
        """Ask the run to stop after the current step; it checkpoints first, so nothing is lost."""
        self._stop.set()

    def is_running(self) -> bool:
        return self._process.is_alive()

    @property
    def finished(self) -> bool:
        return self.result is not None

    def poll(self, timeout: float = 0.0) -> list[ev.Event]:
        """Every event reported since the last call (waiting up to ``timeout`` s for the first one)."""
        out: list[ev.Event] = []
        block = timeout > 0
        while self.result is None:
            try:
                event = self._events.get(block, timeout) if block else self._events.get_nowait()
            except queue.Empty:
                break
            block = False
            out.append(event)
            if isinstance(event, ev.TERMINAL):
                self.result = event
        if self.result is None and not self._process.is_alive() and self._process.exitcode is not None:
            try:  # the last events may still be in the pipe
                while True:
                    event = self._events.get(timeout=0.5)
                    out.append(event)
                    if isinstance(event, ev.TERMINAL):
                        self.result = event
                        break
            except queue.Empty:
                pass
            if self.result is None:
                saved = (self.run_dir / CHECKPOINT_NAME).is_file()
                self.result = ev.Failed(
                    f"the training process ended unexpectedly (exit code {self._process.exitcode}); " +
                    (f"resume from the last checkpoint in {self.run_dir}" if saved else
                     "it had saved no checkpoint yet: start it again"))
                out.append(self.result)
        return out  # no join here: a child tearing torch down takes a second or two, the caller's GUI would wait

    def wait(self, timeout: float | None = None) -> list[ev.Event]:
        """Block until the run ends (or ``timeout``); return the events meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out: list[ev.Event] = []
        while self.result is None and (deadline is None or time.monotonic() < deadline):
            out.extend(self.poll(timeout=0.2))
        if self.result is not None:
            self._process.join(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        return out

    def kill(self) -> None:
        """Stop the child at once (no checkpoint: the run resumes from its last one)."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
