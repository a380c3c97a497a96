"""Runs the audio engine apart from its user — in its own process (the app's choice) or a thread.

:class:`EngineHost` is everything the GUI (or a test, or a benchmark) needs: it starts
:func:`engine.live.worker.run_engine`, sends commands, and hands back the engine's events and telemetry.
The telemetry lives in a memory-mapped file both sides map (:class:`engine.live.record.SharedBlock`), so
reading it costs the GUI a copy and no round trip, and the engine never waits for the GUI.

Why a process: the audio callback and the worker need Python's GIL every 8 ms; in one process with
the GUI they would also wait behind pyqtgraph's redraws and Qt's Python slots. In its own process
only the engine's own threads compete for its GIL. ``mode="thread"`` keeps everything in one process
(tests of the engine itself; ``bench/live.py`` measures both).
"""

from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import queue
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.errors import SpandexError
from engine.live.protocol import EngineConfig
from engine.live.record import COUNTERS, SharedBlock
from engine.live.worker import run_engine

SINGLE_THREADED_BLAS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""One BLAS thread in the engine: its products are small (512 × 512), and on two shared cores
BLAS worker threads spinning beside the audio threads made a network step 3-10x slower (measured)."""


ENGINE_NICE = -10
"""The engine process asks for this nice value (root or CAP_SYS_NICE / RLIMIT_NICE grant it; else it
keeps the GUI's). Audio servers do the same: JACK and PipeWire run their threads real-time."""


def raise_engine_priority() -> str:
    """Put the calling process ahead of the GUI where allowed; say how it is scheduled.

    Not SCHED_FIFO: tried (bench/live.py, 60 s, three models), a real-time worker thread did not cut the
    cycles PipeWire skipped (36-39 against 6-24 at nice -10, one run each) — the audio callback needs the
    same interpreter lock — and a stuck real-time thread would freeze a one-core machine."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, ENGINE_NICE)
        return f"nice {ENGINE_NICE}"
    except OSError:
        return "normal (no privilege to raise it)"


def _process_main(config: EngineConfig, path: str, commands, events) -> None:
    """The engine process: map the shared file, run the engine, stop if the parent dies."""
    priority = raise_engine_priority()  # ahead of the GUI when the CPU is contended
    # The Lava backend starts processes of its own, which multiprocessing refuses a daemonic process. The
    # host still stops this one at its own exit; this process stops Lava's before it ends (LiveDenoiser.close).
    mp.current_process().daemon = False
    with open(path, "r+b") as f:
        buffer = mmap.mmap(f.fileno(), SharedBlock.nbytes(config))
    parent = mp.parent_process()
    run_engine(config, buffer, commands, events,
               parent_alive=(lambda: parent.is_alive()) if parent is not None else None, priority=priority)


class EngineHost:
    """Start with :meth:`start`; always :meth:`stop` (also on errors) so the engine releases the device."""

    def __init__(self, config: EngineConfig, mode: str = "process", env: dict[str, str] | None = None) -> None:
        """``env``: environment variables for the engine process only (e.g. ``LD_LIBRARY_PATH`` to
        PipeWire's JACK libraries, as ``pw-jack`` sets it); not allowed with ``mode="thread"``."""
        if env and mode == "thread":
            raise ValueError("env needs mode='process'")
        self.env = {**SINGLE_THREADED_BLAS, **(env or {})} if mode == "process" else {}
        if mode not in ("process", "thread"):
            raise ValueError("mode is 'process' or 'thread'")
        self.config = config
        self.mode = mode
        size = SharedBlock.nbytes(config)
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        fd, self.path = tempfile.mkstemp(prefix="spandex-engine-", dir=folder)
        os.ftruncate(fd, size)
        self._buffer = mmap.mmap(fd, size)
        os.close(fd)
        self.shared = SharedBlock(self._buffer, config)
        self.runner: mp.process.BaseProcess | threading.Thread | None = None
        self.restarts = 0
        self.models: list[dict] = []              # as the engine last reported them
        self.replay: dict[str, tuple] = {}        # the latest state-setting commands
        self.pending_events: list[tuple[str, object]] = []  # received by wait_event, not yet handed out
        self._new_queues()

    def _new_queues(self) -> None:
        if self.mode == "process":
            context = mp.get_context("spawn")
            self.commands = context.Queue()
            self.events = context.Queue()
        else:
            self.commands = queue.Queue()
            self.events = queue.Queue()

    def start(self) -> EngineHost:
        if self.mode == "process":
            context = mp.get_context("spawn")
            self.runner = context.Process(target=_process_main, name="spandex-engine",
                                          args=(self.config, self.path, self.commands, self.events),
                                          daemon=True)
            saved = {key: os.environ.get(key) for key in self.env}
            os.environ.update(self.env)  # a spawned child starts with the parent's environment
            unset = mp.get_start_method(allow_none=True) is None
            try:
                self.runner.start()
            finally:
                if unset:  # starting a spawn process fixes the global default; leave it to others
                    mp.set_start_method(None, force=True)  # (lava sets 'fork' when it is imported)
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            return self
        else:
            self.runner = threading.Thread(target=run_engine, name="spandex-engine", daemon=True,
                                           args=(self.config, self._buffer, self.commands, self.events))
        self.runner.start()
        return self

    @property
    def alive(self) -> bool:
        return self.runner is not None and self.runner.is_alive()

    @property
    def pid(self) -> int | None:
        return self.runner.pid if self.mode == "process" and self.runner is not None else os.getpid()

    def send(self, name: str, *args) -> None:
        """Queue a command for the engine's worker (applied between hops). See ``AudioEngine._cmd_*``."""
        key = {"set_file": "set_input"}.get(name, name)
        if key in ("select", "noise", "set_input", "set_output"):
            self.replay[key] = (name, *args)
        self.commands.put((name, *args))

    def events_now(self) -> list[tuple[str, object]]:
        """Every event the engine has sent since the last call (never blocks).

        A ``device_lost`` event that asks for a restart (PortAudio stuck on a dead sound server) is
        acted on here: a fresh engine process starts with the same models and settings, and an
        ``("engine_restarted", count)`` event follows it.
        """
        out, self.pending_events = self.pending_events, []
        while True:
            try:
                event = self.events.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return out
            out.extend(self._handle(event))

    def _handle(self, event: tuple[str, object]) -> list[tuple[str, object]]:
        if event[0] == "models":
            self.models = event[1]["models"]
        elif event[0] == "device_lost" and event[1].get("restart") and self.mode == "process":
            self._restart()
            return [event, ("engine_restarted", self.restarts)]
        return [event]

    def _restart(self) -> None:
        """Replace a stuck engine process by a fresh one with the same models and settings."""
        self.restarts += 1
        old = self.runner
        old.kill()
        old.join(5.0)
        for q in (self.commands, self.events):
            q.close()
            q.cancel_join_thread()
        self._new_queues()
        sources = [m["source"] for m in self.models if m.get("source")]
        self.config = replace(self.config, models=sources or self.config.models)
        self.start()
        for command in self.replay.values():
            self.commands.put(command)

    def wait_event(self, kind: str, timeout: float, predicate=None) -> object:
        """Block until an event ``kind`` (whose payload satisfies ``predicate``) arrives; others are kept
        for :meth:`events_now`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, event in enumerate(self.pending_events):
                if event[0] == kind and (predicate is None or predicate(event[1])):
                    del self.pending_events[index]
                    return event[1]
                if event[0] == "fatal":
                    raise SpandexError(f"the audio engine failed: {event[1]}")
            try:
                event = self.events.get(timeout=max(0.0, min(0.1, deadline - time.monotonic())))
            except queue.Empty:
                if not self.alive:
                    raise SpandexError("the audio engine stopped") from None
                continue
            self.pending_events.extend(self._handle(event))
        raise TimeoutError(f"no '{kind}' event from the engine within {timeout} s")

    def counters(self) -> dict[str, int]:
        return dict(zip(COUNTERS, (int(v) for v in self.shared.counters)))

    def read_frames(self, limit: int | None = None) -> np.ndarray:
        """Telemetry records published since the last call (one consumer only: the caller)."""
        return self.shared.frames.read_new(limit)

    def read_callbacks(self) -> np.ndarray:
        return self.shared.callbacks.read_new()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the engine down (stream closed, PortAudio terminated) and release the shared memory."""
        if self.runner is not None and self.runner.is_alive():
            self.send("shutdown")
            self.runner.join(timeout)
            if self.mode == "process" and self.runner.is_alive():
                self.runner.terminate()
                self.runner.join(2.0)
        if self.mode == "process":
            for q in (self.commands, self.events):
                q.close()
                q.cancel_join_thread()
        Path(self.path).unlink(missing_ok=True)
