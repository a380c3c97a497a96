"""The Lava backend in a process of its own: the live engine's Lava runner, off the audio's interpreter.

lava-nc drives its runtime from the Python process that created it: every step is a series of
messages, channel reads and numpy copies in that process. Inside the engine process that work shares
the interpreter lock with the audio callback and the worker, and it was late on ~14 % of the hops
even though one step takes ~2 ms alone. :class:`LavaProcessRunner` moves the whole
:class:`engine.backends.lava.LavaRunner` — its runtime and the ~12 processes it forks — into one child
process (its own interpreter, its own process group), and talks to it over a pipe: per hop one
257-value frame goes out and one mask with its telemetry comes back. The caller's thread waits on the
pipe without holding the interpreter lock.

It is a runner (the :mod:`engine.backends` protocol) with the Lava runner's ``latency_frames = 1`` and
its bits: the child runs the very same code. The engine pairs it with a CPU twin
(:class:`engine.live.paced.PacedRunner`), so the audio never waits for it.

Lifecycle: :meth:`close` asks the child to stop Lava in order and waits; :meth:`kill` (from any
thread, e.g. while another thread is blocked in :meth:`step` on a stopped child) ends the child's
whole process group at once. The child ends by itself when its parent dies (the pipe closes).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys

import numpy as np

from engine.backends.lava import LavaRuntimeError
from engine.errors import SpandexError
from engine.snn.model import SDNNModel
from engine.snn.network import check_frame
from engine.snn.telemetry import FrameTelemetry

START_TIMEOUT_S = 180.0
"""Building a network's Lava processes takes 5-30 s on the loaded 2-core machine."""

STOP_TIMEOUT_S = 10.0
"""How long an orderly stop may take before the child's process group is killed."""


def _error(exc: BaseException) -> tuple[str, bool, str]:
    """An exception as a message: (error, is it SpandexError's — a message for the user —, text)."""
    ours = isinstance(exc, SpandexError)
    return "error", ours, str(exc) if ours else f"{type(exc).__name__}: {exc}"


def _serve(conn, model: SDNNModel, process_models: str, nice: int | None) -> None:
    """The child: build the Lava runner, then answer steps until told to close or the parent is gone."""
    os.setpgrp()  # Ctrl-C at the terminal goes to the app, which stops this in order
    if nice is not None and sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, nice)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # the parent decides when Lava stops
    from engine.backends.lava import LavaRunner

    try:
        runner = LavaRunner(model, process_models=process_models)
    except BaseException as exc:  # noqa: BLE001 — reported to the parent, which raises it
        conn.send(_error(exc))
        return
    conn.send(("ready", runner.pids))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            kind = message[0]
            try:
                if kind == "step":
                    conn.send(("ok", *runner.step(message[1])))
                elif kind == "reset":
                    runner.reset()
                    conn.send(("ok",))
                elif kind == "close":
                    return
            except Exception as exc:  # noqa: BLE001 — the runner closed itself; the parent hears why
                conn.send(_error(exc))
                return
    finally:
        runner.close()
        with contextlib.suppress(OSError):
            conn.send(("closed",))


class LavaProcessRunner:
    """A :class:`~engine.backends.lava.LavaRunner` in a child process (see the module docstring).

    Real-time rules: :meth:`step` blocks for the child's answer (a few milliseconds, unbounded if the
    machine stalls it): call it from a worker thread of its own, never from the audio callback.

    Args:
        model: the model (sent to the child).
        process_models: as for :class:`~engine.backends.lava.LavaRunner`.
        nice: the child's nice value (None: inherited). Lava's processes fork from it and inherit it.

    Raises:
        SpandexError: the child could not build the network (the Lava runner's message), or did not
            answer within :data:`START_TIMEOUT_S`.
    """

    name = "lava"
    latency_frames = 1

    def __init__(self, model: SDNNModel, process_models: str = "fast", nice: int | None = None) -> None:
        self.model = model
        context = mp.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_serve, name=f"spandex-lava-{model.name}",
                                        args=(child_conn, model, process_models, nice))
        daemonic = mp.current_process().daemon
        mp.current_process().daemon = False  # the Lava host forks Lava's processes: it must not be a daemon
        try:
            self._process.start()
        finally:
            mp.current_process().daemon = daemonic
        child_conn.close()
        self._closed = False
        self.lava_pids: tuple[int, ...] = ()
        try:
            if not self._conn.poll(START_TIMEOUT_S):
                raise SpandexError(f"Lava did not start {model.name} within {START_TIMEOUT_S:.0f} s")
            answer = self._receive()
            self.lava_pids = tuple(answer[1])
        except BaseException:
            self.kill()
            raise

    @property
    def pid(self) -> int | None:
        """The child process (the Lava host); Lava's own processes are its children (:attr:`lava_pids`)."""
        return self._process.pid

    @property
    def pids(self) -> tuple[int, ...]:
        """Every OS process this runner owns: the Lava host and Lava's processes."""
        return () if self._closed or self._process.pid is None else (self._process.pid, *self.lava_pids)

    def _receive(self) -> tuple:
        try:
            answer = self._conn.recv()
        except (EOFError, OSError):
            self._closed = True
            code = self._process.exitcode
            raise LavaRuntimeError(f"the Lava process ended (exit code {code})") from None
        if answer[0] in ("error", "closed"):  # the child has stopped its runner and ends: this runner is closed
            self._closed = True
            if answer[0] == "closed":
                raise LavaRuntimeError("the Lava process ended after an error")
            raise (SpandexError if answer[1] else LavaRuntimeError)(  # (error, the runner's own SpandexError?, …)
                f"{answer[2]} (the Lava runner is closed: open the model again)")
        return answer

    def step(self, magnitude: np.ndarray) -> tuple[np.ndarray | None, FrameTelemetry | None]:
        """Feed one |STFT| frame; the mask and telemetry of the frame before it (as the Lava runner)."""
        if self._closed:
            raise LavaRuntimeError("this Lava runner is closed (its processes were stopped)")
        magnitude = check_frame(magnitude, self.model.n_bins)  # (a bad frame is refused here: the runner lives on)
        try:
            self._conn.send(("step", np.asarray(magnitude, dtype=np.float64)))
        except (OSError, ValueError) as exc:
            raise LavaRuntimeError(f"the Lava process ended ({exc})") from None
        _, mask, telemetry = self._receive()
        return mask, telemetry

    def reset(self) -> None:
        if self._closed:
            raise LavaRuntimeError("this Lava runner is closed (its processes were stopped)")
        self._conn.send(("reset",))
        self._receive()

    def close(self) -> None:
        """Stop Lava in order (the child stops its runtime), or kill it after :data:`STOP_TIMEOUT_S`."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(("close",))
        self._process.join(STOP_TIMEOUT_S)
        self.kill()
        self._conn.close()

    def kill(self) -> None:
        """End the child and every Lava process at once (safe from any thread, and twice)."""
        self._closed = True
        if self._process.pid is not None and self._process.exitcode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.join(5.0)
        for pid in self.lava_pids:  # reparented to init when the host died first; same group, but be sure
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> LavaProcessRunner:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
