"""Live audio from a runner that may be slower than real time (the Lava backend), with a CPU twin.

:class:`PacedRunner` wraps a *slow* runner — the Lava backend: 4-9 ms wall per 8 ms hop on the 2-core
development machine, far more when the machine is busy — and a *twin*: the same model on a CPU backend
(sparse, else dense), whose masks equal the slow runner's bit for bit (tests/test_lava_backend.py).

- The slow runner runs on a thread of its own and gets every frame, in order. The caller never waits
  for it: it has ``slack_hops`` whole hops to answer, so a paced slot is heard that much later than its
  slow runner alone would be (``latency_frames`` = the slow runner's + ``slack_hops``; for live Lava,
  :data:`LAVA_SLACK_HOPS`).
- The twin steps every frame on the caller's thread (sparse: ~0.1 ms).
- The mask due on a hop is the slow runner's if it has answered and its answer equals the twin's,
  else the twin's (:attr:`PacedRunner.fallback` says which and why). Both are the same bits, so the
  audio never waits and never changes when the source does; only its provenance is reported.
- :attr:`PacedRunner.speed` is the slow runner's throughput as a multiple of real time (a step still
  in progress counts), so a stalled runner reads slower and slower.
- A slow runner more than ``max_backlog`` frames behind is restarted from the current frame (its
  backlog dropped). It keeps running — its speed and answers stay measured — but its state now differs
  from the twin's, so the twin's masks are used until :meth:`PacedRunner.reset` restarts both together.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from enum import IntEnum

import numpy as np

from engine.backends import Runner, prepare
from engine.constants import HOP, SAMPLE_RATE
from engine.errors import SpandexError
from engine.snn.model import SDNNModel
from engine.snn.telemetry import FrameTelemetry

HOP_NS = HOP * 1_000_000_000 // SAMPLE_RATE
"""One 128-sample hop at 16 kHz: 8 ms."""

MAX_BACKLOG = 500
"""Frames (4 s) the slow runner may fall behind before it is restarted."""

SPEED_STEPS = 125
"""The slow runner's last steps (1 s of frames) its speed is measured over."""

STOP_TIMEOUT_S = 10.0
STEP_WAIT_S = 1.0
"""At close, how long a step in flight may still take before a killable slow runner is killed."""
_STOP = object()
_RESET = object()

Answer = tuple[np.ndarray | None, FrameTelemetry | None]


class Fallback(IntEnum):
    """Where a hop's mask came from (the values are published in ``engine.live.record`` records)."""

    NONE = 0          # the slow runner answered in time, equal to the twin
    LATE = 1          # the slow runner had not answered yet: the twin's mask
    OUT_OF_STEP = 2   # the slow runner was restarted (or disagreed): the twin's mask until reset()
    FAILED = 3        # the slow runner stopped with an error: the twin's mask


LAVA_NICE = 0
"""The nice value of a live Lava process (and of Lava's processes, which inherit it): the default, below
the engine's raised priority (:data:`engine.live.host.ENGINE_NICE`), so the audio path comes first, and not
lowered: at nice 10 it queued behind every background job of the shared 2-core machine (a training run
at nice 10 halved its speed, bench/live.py)."""


LAVA_SLACK_HOPS = 3
"""Hops a live Lava step may take before its CPU twin's mask is used instead: a Lava slot is heard
1 + 3 hops (32 ms) after the STFT's 32 ms. Measured with spandex-prune75 in its own process at the hop
pace on the shared 2-core machine (load average 10-15): the twin was used for 26-30 % of the hops with
1 hop of slack, 3 % with 3 hops — one step takes 4-6 ms, but its p99 is 10-20 ms under load."""


def cpu_twin(model: SDNNModel) -> Runner:
    """A CPU runner of ``model``: sparse (cheapest), or dense where numba is missing."""
    try:
        return prepare(model, "sparse")
    except SpandexError:
        return prepare(model, "dense")


def for_live(model: SDNNModel, backend: str, process_models: str = "fast") -> Runner:
    """A runner of ``model`` fit for live audio. ``lava``: Lava in a process of its own
    (:class:`engine.backends.lava_process.LavaProcessRunner`, off the engine's interpreter lock), paced
    beside its CPU twin; other backends as :func:`engine.backends.prepare` makes them.

    On failure everything started is stopped (the Lava process and its children).
    """
    if backend != "lava":
        return prepare(model, backend)
    from engine.backends.lava_process import LavaProcessRunner

    slow = LavaProcessRunner(model, process_models=process_models, nice=LAVA_NICE)
    try:
        return PacedRunner(slow, cpu_twin(model), slack_hops=LAVA_SLACK_HOPS)
    except BaseException:
        slow.close()
        raise


class PacedRunner:
    """A slow runner paced against the hop, its twin keeping the audio going (see the module docstring).

    Implements the runner protocol of :mod:`engine.backends`. Not thread-safe: one thread calls it.
    """

    def __init__(self, slow: Runner, twin: Runner, max_backlog: int = MAX_BACKLOG, slack_hops: int = 1) -> None:
        if twin.latency_frames:
            raise ValueError("the twin must answer each frame at once (latency_frames = 0)")
        self.slow, self.twin = slow, twin
        self.name, self.model = slow.name, slow.model
        self.latency_frames = slow.latency_frames + slack_hops
        self.max_backlog = max_backlog
        self.fallback = Fallback.NONE
        self.in_step = True            # the slow runner's state is the twin's
        self.matched = self.mismatched = self.restarts = 0
        self.error: str | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self._durations: deque[int] = deque(maxlen=SPEED_STEPS)
        self._step_started = 0         # set by the slow runner's thread while it steps
        self._epoch = 0                # bumped by reset/restart: older queued frames are skipped
        self._closed = False
        self._restart_counters(0)
        self._thread = threading.Thread(target=self._serve, name=f"spandex-paced-{slow.name}", daemon=True)
        self._thread.start()

    def _restart_counters(self, first_frame: int) -> None:
        self._frame = first_frame      # index of the next frame (since the last reset)
        self._epoch_start = first_frame
        self._submitted = self._answered = 0
        self._twin_answers: dict[int, Answer] = {}
        self._slow_answers: dict[int, Answer] = {}

    # --- the slow runner's thread ----------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            epoch, frame = item
            if epoch != self._epoch:
                continue  # dropped by a reset or a restart
            self._step_started = time.perf_counter_ns()
            try:
                if frame is _RESET:
                    self.slow.reset()
                    continue
                mask, telemetry = self.slow.step(frame)
            except Exception as exc:  # noqa: BLE001 — reported, the twin carries on
                self.error = f"{type(exc).__name__}: {exc}"
                return
            finally:
                duration, self._step_started = time.perf_counter_ns() - self._step_started, 0
            self._answers.put((epoch, mask, telemetry, duration))

    # --- the caller's side -----------------------------------------------------------------------

    def step(self, magnitude: np.ndarray) -> Answer:
        """Feed frame ``t``; return the mask and telemetry of frame ``t - latency_frames`` (see above)."""
        t = self._frame
        if self.error is None:
            if self._submitted - self._answered > self.max_backlog:
                self._restart_slow(t)
            self._inbox.put((self._epoch, np.array(magnitude, dtype=np.float64)))
            self._submitted += 1
        self._twin_answers[t] = self.twin.step(magnitude)
        self._twin_answers.pop(t - self.max_backlog - self.latency_frames - 1, None)
        self._frame += 1
        self._drain()
        due = t - self.latency_frames
        if due < 0:
            return None, None
        answer = self._slow_answers.pop(due, None)
        if answer is not None:
            self.fallback = Fallback.NONE
            return answer
        self.fallback = (Fallback.FAILED if self.error else Fallback.LATE if self.in_step
                         else Fallback.OUT_OF_STEP)
        return self._twin_answers[due]

    def _drain(self) -> None:
        """Take the slow runner's answers: check each against the twin's, keep those still to come due."""
        due = self._frame - 1 - self.latency_frames
        while True:
            try:
                epoch, mask, telemetry, duration = self._answers.get_nowait()
            except queue.Empty:
                return
            if epoch != self._epoch:
                continue
            self._durations.append(duration)
            frame = self._epoch_start + self._answered - self.slow.latency_frames
            self._answered += 1
            twin = self._twin_answers.get(frame)
            if mask is None or twin is None:
                continue
            twin_mask = twin[0]
            if twin_mask is not None and np.array_equal(mask, twin_mask):
                self.matched += 1
                if self.in_step and frame >= due:
                    self._slow_answers[frame] = (mask, telemetry)
            else:
                self.mismatched += 1
                self.in_step = False

    def _restart_slow(self, frame: int) -> None:
        """The slow runner is too far behind: drop its backlog and restart it from ``frame``."""
        self._epoch += 1
        self._inbox.put((self._epoch, _RESET))
        twin_answers = self._twin_answers
        self._restart_counters(frame)
        self._twin_answers = twin_answers
        self.in_step = False
        self.restarts += 1

    @property
    def speed(self) -> float:
        """The slow runner's steps per hop of its own time, over its last steps (NaN before any)."""
        started = self._step_started
        busy = sum(self._durations) + (time.perf_counter_ns() - started if started else 0)
        if busy == 0:
            return math.nan
        return len(self._durations) * HOP_NS / busy

    @property
    def backlog(self) -> int:
        """Frames handed to the slow runner that it has not answered yet."""
        return self._submitted - self._answered

    def reset(self) -> None:
        """Restart both runners together: the next frame starts a stream, and they are in step again."""
        self.twin.reset()
        self._epoch += 1
        self._inbox.put((self._epoch, _RESET))
        self._restart_counters(0)
        self.in_step = True
        self.fallback = Fallback.NONE

    def close(self) -> None:
        """Stop the slow runner's thread (after the step in flight), then close both runners.

        A slow runner that does not finish its step within :data:`STEP_WAIT_S` (a stalled or stopped
        Lava process) is killed, if it can be (``kill()``), which ends the step in flight."""
        if self._closed:
            return
        self._closed = True
        self._epoch += 1
        self._inbox.put(_STOP)
        self._thread.join(STEP_WAIT_S)
        if self._thread.is_alive() and hasattr(self.slow, "kill"):
            self.slow.kill()
        self._thread.join(STOP_TIMEOUT_S)
        self.slow.close()
        self.twin.close()
