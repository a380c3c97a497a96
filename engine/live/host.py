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
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from engine.constants import BYPASS
from engine.errors import SpandexError
from engine.live import protocol
from engine.live.denoiser import heard_after_removal
from engine.live.protocol import EngineConfig
from engine.live.record import COUNTERS, SharedBlock
from engine.live.virtual_mic import remove_stale
from engine.live.worker import run_engine
from engine.snn.model import sharpening_problem
from engine.stop_signals import ignore_terminal_signals, start_deaf_to_terminal_signals, start_resource_tracker_deaf

E = TypeVar("E", bound=protocol.Event)

REPLAYED = (protocol.Select, protocol.SetNoise, protocol.SetInput, protocol.SetFile, protocol.SetOutput,
            protocol.SetVirtualMic)
"""The commands that set a state a restarted engine must get back (the models come back by themselves)."""
ONCE = (protocol.LoadModel, protocol.RemoveModel, protocol.SetSharpening, protocol.Reset, protocol.ListDevices,
        protocol.RecordStart, protocol.RecordStop, protocol.Shutdown)
"""The rest (a restarted engine gets each slot's sharpening back with its model, and the slot commands the stuck engine
did not report are done again to the models it brings back: :meth:`EngineHost._restart`)."""

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
    ignore_terminal_signals()  # the app stops this process in order (engine/stop_signals.py)
    priority = raise_engine_priority()  # ahead of the GUI when the CPU is contended
    # The Lava backend starts processes of its own, which multiprocessing refuses a daemonic process. The
    # host still stops this one at its own exit; this process stops Lava's before it ends (LiveDenoiser.close).
    mp.current_process().daemon = False
    with open(path, "r+b") as f:
        buffer = mmap.mmap(f.fileno(), SharedBlock.nbytes(config))
    parent = mp.parent_process()
    if not run_engine(config, buffer, commands, events,
                      parent_alive=(lambda: parent.is_alive()) if parent is not None else None, priority=priority):
        sys.exit(1)  # it said why (Fatal)


def models_to_reload(models: list[protocol.ModelInfo], backend: str) -> tuple[list[str], list[protocol.LoadModel]]:
    """The models a fresh engine loads again, in their slots' order, each on its own backend: all before its stream
    starts (as at start-up) where all are on the engine's ``backend``, else all by command, in order."""
    loaded = [(source, m["backend"]) for m in models if (source := m["source"])]
    if all(b == backend for _, b in loaded):
        return [s for s, _ in loaded], []
    return [], [protocol.LoadModel(s, b) for s, b in loaded]


def matched_slots(before: list[protocol.ModelInfo], now: list[protocol.ModelInfo]) -> dict[int, int]:
    """Slot before -> slot now: each model of ``before`` found again in ``now`` by its file and backend, in order."""
    found: dict[int, int] = {}
    for old, model in enumerate(before):
        slot = next((new for new, back in enumerate(now) if new not in found.values() and model["source"]
                     and (back["source"], back["backend"]) == (model["source"], model["backend"])), None)
        if slot is not None:
            found[old] = slot
    return found


def restore_after_reload(before: list[protocol.ModelInfo], heard: int | None,
                         now: list[protocol.ModelInfo]) -> list[protocol.Command]:
    """What a fresh engine must be told once the models :func:`models_to_reload` asked for are back (``now``): hear
    the model that was heard (slot ``heard`` of ``before``; None: none to restore) and sharpen each mask as its user
    had set it (a model loads with its own). Each model of ``before`` is found again by its file and backend, in
    order: one that did not come back (moved, deleted) is left out and moves no other's setting."""
    found = matched_slots(before, now)
    commands: list[protocol.Command] = [protocol.Select(found[heard])] if heard in found else []
    return commands + [protocol.SetSharpening(slot, before[old]["sharpening"]) for old, slot in found.items()
                       if before[old]["sharpening"] != now[slot]["sharpening"]]


SLOT_COMMANDS = (protocol.RemoveModel, protocol.SetSharpening, protocol.Select)
SlotCommand = protocol.RemoveModel | protocol.SetSharpening | protocol.Select
"""The commands that change the slots or the slot heard. The engine counts those it takes
(``ModelsChanged.slot_commands_taken``); a restart does again, to the models it brings back, those the stuck engine's
last report did not show (:func:`with_slot_commands`)."""


def with_slot_commands(models: list[protocol.ModelInfo], playing: int | None,
                       commands: list[SlotCommand]) -> tuple[list[protocol.ModelInfo], int | None]:
    """``models`` and the slot heard (``playing``) as an engine that reported them has them once it has taken
    ``commands`` too, as :class:`engine.live.denoiser.LiveDenoiser` does them (one it would refuse, for a slot not
    there or a strength out of range, changes nothing)."""
    models = list(models)
    for command in commands:
        if isinstance(command, protocol.Select):
            if command.slot == BYPASS or 0 <= command.slot < len(models):
                playing = command.slot
        elif not 0 <= command.slot < len(models):
            continue
        elif isinstance(command, protocol.SetSharpening):
            if sharpening_problem(command.strength) is None:
                models[command.slot] = {**models[command.slot], "sharpening": float(command.strength)}
        else:
            del models[command.slot]
            if playing is not None:
                playing = heard_after_removal(playing, command.slot, len(models))
    return [m if m.get("slot", slot) == slot else {**m, "slot": slot} for slot, m in enumerate(models)], playing


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
        self.models: list[protocol.ModelInfo] = []  # as the engine last reported them
        self.models_reported = False  # (whether it has: an empty list then means none is loaded)
        self.ended = False  # the engine said it stopped (Stopped, Fatal), or its end has been reported
        self.stopping = False  # stop() was called: the engine's end is expected
        # a restart's models as they were and the slot heard: their settings come back with them
        self.restore: tuple[list[protocol.ModelInfo], int | None] | None = None
        self.replay: dict[type, protocol.Command] = {}  # the latest state-setting commands, by kind
        # the LoadModel commands sent to this engine process, in order, and how many of them it has finished (loaded
        # or failed): a restart sends the rest again
        self.loads_sent: list[protocol.LoadModel] = []
        self.loads_finished = 0
        self.reported_since_start = False  # whether this engine process has reported its models yet
        # the slot commands sent to this engine process that its reports of the models do not show yet, how many they
        # showed, and the slot heard as the last report said: a restart does those commands to the models it brings back
        self.unreported_slot_commands: list[SlotCommand] = []
        self.slot_commands_reported = 0
        self.reported_playing: int | None = None
        self.restart_reloads = 0  # the LoadModel commands the last restart sent first, to bring models back
        self.playing: int | None = None  # the slot heard, as the engine last said (None: not said yet)
        self.restore_loads = 0  # the loads a restore waits for: sent by the restart (reloads and unfinished)
        # the sharpenings a restore has sent and the engine has not reported yet: the models are shown with them
        self.sharpening_in_flight: dict[int, float] = {}
        self.pending_events: list[protocol.Event] = []   # received by wait_event, not yet handed out
        self.virtual_mic_wanted = config.virtual_mic  # then stop() cleans up after an engine that died
        self._new_queues()

    def _new_queues(self) -> None:
        self.commands: Any
        self.events: Any
        if self.mode == "process":
            start_resource_tracker_deaf()  # before the queues' semaphores ask for it
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
                start_deaf_to_terminal_signals(self.runner)  # Ctrl-C reaches the app: it closes the engine in order
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
        if isinstance(self.runner, mp.process.BaseProcess):
            return self.runner.pid
        return os.getpid()

    # --- commands (applied by the engine's worker between hops, in order) --------------------------

    def load_model(self, spec: str, backend: str | None = None) -> None:
        """Load a model (library name or path) into a new slot; ``backend`` None: the engine's default."""
        self.send(protocol.LoadModel(spec, backend))

    def remove_model(self, slot: int) -> None:
        self._keep_in_restore(protocol.RemoveModel(slot))
        self.send(protocol.RemoveModel(slot))

    def select(self, slot: int) -> None:
        """Hear model ``slot`` (:data:`engine.constants.BYPASS`: the unprocessed input)."""
        self._keep_in_restore(protocol.Select(slot))
        self.send(protocol.Select(slot))

    def set_sharpening(self, slot: int, strength: float) -> None:
        """Sharpen model ``slot``'s mask by ``strength`` (0: the network's own mask; its model's own until this)."""
        self._keep_in_restore(protocol.SetSharpening(slot, strength))
        self.send(protocol.SetSharpening(slot, strength))

    def _keep_in_restore(self, command: protocol.RemoveModel | protocol.Select | protocol.SetSharpening) -> None:
        """A slot command of the user's while a restarted engine's models come back (``slot`` as the engine numbers
        them now): the restore still to come does as the user did, instead of undoing it (it would set the old
        sharpening again, hear the old slot, or match a removed model)."""
        if self.restore is None:
            return
        before, heard = self.restore
        now, _ = with_slot_commands(self.models, self.reported_playing, self.unreported_slot_commands)
        old = next((o for o, n in matched_slots(before, now).items() if n == command.slot), None)
        before = list(before)
        if isinstance(command, protocol.Select):
            heard = old
        elif old is None:
            return
        elif isinstance(command, protocol.SetSharpening):
            before[old] = {**before[old], "sharpening": command.strength}
        else:
            del before[old]
            heard = None if heard == old else heard - 1 if heard is not None and heard > old else heard
        self.restore = (before, heard)

    def reset(self) -> None:
        """Reset every network's state and the event counters."""
        self.send(protocol.Reset())

    def set_noise(self, kind: str | None, snr_db: float) -> None:
        """Inject noise ``kind`` (None: none) at ``snr_db`` below the speech."""
        self.send(protocol.SetNoise(kind, snr_db))

    def set_input(self, device: str | None) -> None:
        self.send(protocol.SetInput(device))

    def set_file(self, path: str) -> None:
        """Play ``path`` (looping) as the microphone."""
        self.send(protocol.SetFile(path))

    def set_output(self, device: str | None) -> None:
        self.send(protocol.SetOutput(device))

    def list_devices(self, rescan: bool = False) -> None:
        """Ask for a :class:`~engine.live.protocol.DevicesListed` event (``rescan``: look again)."""
        self.send(protocol.ListDevices(rescan))

    def record_start(self, max_seconds: float = 600.0, fresh: bool = False) -> None:
        self.send(protocol.RecordStart(max_seconds, fresh))

    def record_stop(self, prefix: str) -> None:
        """Write PREFIX-input.wav and PREFIX-output.wav; a :class:`~engine.live.protocol.Recorded` follows."""
        self.send(protocol.RecordStop(prefix))

    def set_virtual_mic(self, on: bool) -> None:
        """Publish the output as the virtual microphone, or stop; :class:`~engine.live.protocol.VirtualMicChanged`
        follows (or an :class:`~engine.live.protocol.EngineError` saying why not)."""
        self.virtual_mic_wanted |= on
        self.send(protocol.SetVirtualMic(on))

    def send(self, command: protocol.Command) -> None:
        """Queue a command for the engine's worker. The latest setting of each kind (model heard, noise,
        microphone or file, speaker) is kept, to replay into a restarted engine."""
        if not isinstance(command, REPLAYED + ONCE):
            raise TypeError(f"not an engine command: {command!r}")
        if isinstance(command, REPLAYED):
            key = protocol.SetInput if isinstance(command, protocol.SetFile) else type(command)
            self.replay[key] = command
        if isinstance(command, protocol.LoadModel):
            self.loads_sent.append(command)
        if isinstance(command, SLOT_COMMANDS):
            self.unreported_slot_commands.append(command)
        if isinstance(command, protocol.Select):
            self.playing = command.slot  # (until the engine says otherwise: its reports number the slots as they are)
        self.commands.put(command)

    # --- events ------------------------------------------------------------------------------------

    def events_now(self) -> list[protocol.Event]:
        """Every event the engine has sent since the last call (never blocks).

        A :class:`~engine.live.protocol.DeviceLost` event that asks for a restart (PortAudio stuck on a
        dead sound server) is acted on here: a fresh engine process starts with the same models and
        settings, and an :class:`~engine.live.protocol.EngineRestarted` event follows it.
        """
        out, self.pending_events = self.pending_events, []
        while True:
            try:
                event = self.events.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            out.extend(self._handle(event))
        if not (self.ended or self.stopping or self.alive) and self.runner is not None:
            out.append(self._died())
        return out

    def _died(self) -> protocol.Fatal:
        """The engine ended without a word (killed: out of memory, a crash in a native library)."""
        self.ended = True
        code = getattr(self.runner, "exitcode", None)
        how = (f" (killed by {signal.Signals(-code).name})" if isinstance(code, int) and code < 0 else
               f" (exit status {code})" if code else "")
        return protocol.Fatal(f"The audio engine stopped unexpectedly{how}: restart SPANDEX")

    def _handle(self, event: protocol.Event) -> list[protocol.Event]:
        if isinstance(event, protocol.ModelsChanged):
            self.models = list(event.models)
            self.models_reported = self.reported_since_start = True
            self.playing = event.playing
            self.loads_finished = max(self.loads_finished, event.loads_taken - event.loading)
            shown = event.slot_commands_taken - self.slot_commands_reported
            if shown > 0:
                del self.unreported_slot_commands[:shown]
                self.slot_commands_reported = event.slot_commands_taken
            self.reported_playing = event.playing
            # once every model is back, or the restart's loads are all over (some, or all, may have failed)
            if self.restore is not None and (
                    len(self.models) >= sum(1 for m in self.restore[0] if m["source"])
                    or (event.loading == 0 and self.loads_finished >= self.restore_loads)):
                commands = restore_after_reload(*self.restore, self.models)
                for command in commands:
                    self.send(command)  # (a Select kept for the next restart as the slot is numbered now)
                self.restore = None
                self.sharpening_in_flight = {c.slot: c.strength for c in commands
                                             if isinstance(c, protocol.SetSharpening)}
            if self.sharpening_in_flight:  # shown as set (they are, from the engine's next hops): what its owner
                self.models = self._with_sharpening_in_flight(self.models)  # saves, and a restart restores
                event = replace(event, models=tuple(self.models))
        elif isinstance(event, protocol.Status):
            self.playing = event.playing
        elif isinstance(event, protocol.Fatal | protocol.Stopped):
            self.ended = True
        elif isinstance(event, protocol.DeviceLost) and event.restart and self.mode == "process":
            self._restart()
            playing = BYPASS if self.playing is None else self.playing
            return [event, protocol.EngineRestarted(self.restarts, tuple(self.models), playing)]
        return [event]

    def _with_sharpening_in_flight(self, models: list[protocol.ModelInfo]) -> list[protocol.ModelInfo]:
        """``models`` with the sharpenings sent and not yet reported; those reported are no longer in flight."""
        shown = list(models)
        for slot, strength in list(self.sharpening_in_flight.items()):
            if slot >= len(shown) or shown[slot]["sharpening"] == strength:
                del self.sharpening_in_flight[slot]
            else:
                shown[slot] = {**shown[slot], "sharpening": strength}
        return shown

    def _restart(self) -> None:
        """Replace a stuck engine process by a fresh one with the same models and settings."""
        self.restarts += 1
        old = self.runner
        assert isinstance(old, mp.process.BaseProcess)
        old.kill()
        old.join(5.0)
        for q in (self.commands, self.events):
            q.close()
            q.cancel_join_thread()
        self._new_queues()
        self.ended = False
        # The models the engine said it has come back (each on its own backend), with the slot commands sent to it and
        # not yet shown in its reports done to them, and the loads sent and not finished (loaded or failed) are sent
        # again. An engine that has said nothing yet (restarted again at once) was bringing back the models the restart
        # before listed (self.models): they come back, with the slot commands sent to it done to them, and so does
        # every load sent to it but those reloads. One that never said anything is given what it was given.
        said = self.reported_since_start
        self.models, self.playing = with_slot_commands(self.models, self.reported_playing,
                                                       self.unreported_slot_commands)
        self.reported_playing = self.playing
        if said:
            again = self.loads_sent[self.loads_finished:]
        else:
            again = self.loads_sent[self.restart_reloads:] if self.models_reported else list(self.loads_sent)
        self.loads_sent, self.loads_finished, self.reported_since_start = [], 0, False
        self.unreported_slot_commands, self.slot_commands_reported = [], 0
        later: list[protocol.LoadModel] = []
        if self.models_reported:  # the models loaded now (none, if all were removed)
            first, later = models_to_reload(self.models, self.config.backend)
            self.config = replace(self.config, models=first)
            if self.playing is not None:  # (the Select replayed: in the numbering of now)
                self.replay[protocol.Select] = protocol.Select(self.playing)
        self.restart_reloads = len(later)
        self.sharpening_in_flight = {}  # (self.models shows them: restored again with the rest)
        restore = self.restore  # a restore still to come (restarted again before the models came back): kept
        if restore is None and self.models_reported and any(m["source"] for m in self.models):
            playing = self.playing
            heard = playing if playing is not None and 0 <= playing < len(self.models) else None
            restore = (list(self.models), heard)
        self.start()
        # a model heard is selected once it is back, where it is then (a load may fail); bypass at once
        select = self.replay.get(protocol.Select)
        for command in [*later, *(c for c in self.replay.values() if restore is None or restore[1] is None
                                  or c is not select), *again]:
            self.send(command)
        self.restore = restore
        self.restore_loads = len(self.loads_sent)

    def wait_event(self, kind: type[E], timeout: float, predicate: Callable[[E], bool] | None = None,
                   failed: str | None = None) -> E:
        """Block until an event of type ``kind`` (that satisfies ``predicate``) arrives; others are kept
        for :meth:`events_now`. A :class:`~engine.live.protocol.Fatal` raises :class:`SpandexError`, and so does an
        :class:`~engine.live.protocol.EngineError` whose message starts with ``failed`` (the command waited on
        failed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, event in enumerate(self.pending_events):
                if isinstance(event, kind) and (predicate is None or predicate(event)):
                    del self.pending_events[index]
                    return event
                if isinstance(event, protocol.Fatal):
                    raise SpandexError(f"the audio engine failed: {event.message}")
                if failed and isinstance(event, protocol.EngineError) and event.message.startswith(failed):
                    del self.pending_events[index]
                    raise SpandexError(event.message)
            try:
                event = self.events.get(timeout=max(0.0, min(0.1, deadline - time.monotonic())))
            except queue.Empty:
                if not self.alive:
                    raise SpandexError("the audio engine stopped") from None
                continue
            self.pending_events.extend(self._handle(event))
        raise TimeoutError(f"no {kind.__name__} event from the engine within {timeout} s")

    def counters(self) -> dict[str, int]:
        return dict(zip(COUNTERS, (int(v) for v in self.shared.counters)))

    def read_frames(self, limit: int | None = None) -> np.ndarray:
        """Telemetry records published since the last call (one consumer only: the caller)."""
        return self.shared.frames.read_new(limit)

    def read_callbacks(self) -> np.ndarray:
        return self.shared.callbacks.read_new()

    def stop(self, timeout: float = 20.0) -> None:
        """Shut the engine down (stream closed, PortAudio terminated, Lava stopped, the virtual
        microphone removed) and release the shared memory."""
        self.stopping = True
        if self.runner is not None and self.runner.is_alive():
            self.send(protocol.Shutdown())
            self.runner.join(timeout)
            if isinstance(self.runner, mp.process.BaseProcess) and self.runner.is_alive():
                self.runner.terminate()
                self.runner.join(2.0)
        if isinstance(self.runner, mp.process.BaseProcess) and self.virtual_mic_wanted \
                and self.runner.exitcode != 0:  # it died or was killed: its virtual source is left over
            try:
                remove_stale({**os.environ, **self.env})
            except Exception as exc:  # noqa: BLE001 — cleanup at exit: say so, never fail the stop
                print(f"spandex: could not remove the virtual microphone: {type(exc).__name__}: {exc}",
                      file=sys.stderr)
        if self.mode == "process":
            for q in (self.commands, self.events):
                q.close()
                q.cancel_join_thread()
        Path(self.path).unlink(missing_ok=True)
