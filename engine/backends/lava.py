"""Lava backend: the model runs as Lava processes — Loihi 2's bit-accurate fixed-point simulation on this CPU.

The model is exported for netx (:mod:`engine.loihi.export`, which also fits delays above 62 exactly),
built into Lava processes by lava-dl's ``netx.hdf5.Network`` and run under
``Loihi2SimCfg(select_tag="fixed_pt")``. A :class:`~engine.loihi.frame_io.FrameSource` feeds the input
layer's delta encoder one frame per time step, with the values the engine feeds its own (``|STFT| − 0.2``
rounded to 1/64, as integer mantissas: netx's input neuron scales them by 2^12 and compares with its
threshold ``vThMant``); a :class:`~engine.loihi.frame_io.FrameSink` returns the output layer's sigma and
the spikes of every encoding layer, for telemetry. lava-nc's ``DelayDense`` runs on
:class:`~engine.loihi.delay_dense.FastDelayDenseModel` unless ``process_models="stock"``.

**One frame later.** Every Loihi synapse layer takes one time step; the engine's first synapse layer
takes none. The network's output for frame ``t`` therefore leaves Lava one step after frame ``t``
went in, so :meth:`LavaRunner.step` answers for the *previous* frame (``latency_frames = 1``): the
mask it returns on call ``k`` is the mask the dense backend returns for frame ``k − 1``, bit for bit.
:class:`engine.denoiser.StreamingDenoiser` pairs masks with the right spectra (8 ms more latency).

**Telemetry** is computed from the spikes Lava produced. netx puts each neuron's axonal delay on the
synapses in front of it, so Lava's hidden-layer spikes are seen *after* their delay, when they reach
the next layer: SynOps (delivered events × nonzero fan-out) are therefore identical to the dense
backend's frame by frame, while ``fired`` / ``events`` of hidden layers count spikes at delivery, not at
emission (the input layer's are identical; run totals differ only by spikes still in flight).

**Lifecycle.** Creating a runner starts ~12 OS processes (one per Lava process, the runtime service, the
shared-memory manager). Always :meth:`LavaRunner.close` it — or use it as a context manager; one that is
garbage-collected unclosed, or still open at interpreter exit, is closed then. lava-nc's runtime protocol
is a series of messages between those processes and cannot be interrupted half-way (it would wait
forever), so SIGINT and SIGTERM are held back while the runner talks to the runtime — a few milliseconds
per step — and delivered right after; Lava's children inherit that and leave signals to this process,
which stops them in order. A child that dies (killed from outside) is noticed before the next step;
:meth:`~LavaRunner.close` then kills the rest and frees the shared memory. Not thread-safe: use one
runner from one thread.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.errors import AudioInputError, SpandexError
from engine.loihi.export import (
    NETX_SPIKE_EXP,
    NETX_STATE_EXP,
    load_netx_network,
    plan_export,
    verify_netx_network,
    write_export,
)
from engine.loihi.hardware import loihi2_hardware
from engine.snn.mask import mask_from_output
from engine.snn.model import SPIKE_STEP, WEIGHT_SCALE, SDNNModel
from engine.snn.network import check_frame
from engine.snn.neurons import DelayParams, DelayState, delay_step
from engine.snn.telemetry import FrameTelemetry, TelemetryMeter

PROCESS_MODELS = ("fast", "stock")
"""``fast``: SPANDEX's DelayDense process model; ``stock``: lava-nc's own (slow, for checks)."""

OUTPUT_SCALE = 2.0 ** (NETX_SPIKE_EXP + NETX_STATE_EXP + 6)
"""The sigma output carries ``y * 2^18``: spikes in 1/4096 times weight mantissas in 1/64."""

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_TIMEOUT_S = 10.0
"""How long an orderly stop may take before the runner kills Lava's processes instead."""

INPUT_LIMIT = 1 << 19
"""netx's input neuron shifts its input left by 12 bits in int32: |mantissa| must stay below 2^19."""


class LavaRuntimeError(SpandexError):
    """The Lava runtime failed or was used after it was closed."""


class LavaRunner:
    """Runs one model frame by frame as Lava processes (see the module docstring).

    Real-time rules: a step costs a few milliseconds of inter-process messaging (4-9 ms wall per step
    on the 2-core development machine, see bench/lava_backend.py); call :meth:`step` from a worker thread,
    never from the audio callback, and compare ``FrameTelemetry.compute_ns`` with the 8 ms hop.

    Attributes:
        hardware: whether real Loihi 2 is used (:func:`engine.loihi.hardware.loihi2_hardware`): never here.
        target: where the network runs, in words.
        plan: the export it runs (:class:`engine.loihi.export.NetxExport`, with its notes).

    Args:
        model: the model; refused with :class:`~engine.loihi.export.LoihiExportError` if netx cannot run
            it exactly.
        process_models: ``"fast"`` (default) or ``"stock"`` lava-nc DelayDense process model.

    Raises:
        LavaUnavailableError: lava-nc / lava-dl are not installed.
    """

    name = "lava"
    latency_frames = 1

    def __init__(self, model: SDNNModel, process_models: str = "fast") -> None:
        if process_models not in PROCESS_MODELS:
            raise ValueError(f"process_models must be one of {PROCESS_MODELS}, not {process_models!r}")
        if model.encoder.step * WEIGHT_SCALE != round(model.encoder.step * WEIGHT_SCALE):
            raise SpandexError(f"{model.name}: the input step {model.encoder.step} is not a multiple of "
                               f"1/{WEIGHT_SCALE}, which netx's input neuron cannot represent")
        self.model = model
        self.process_models = process_models
        self.hardware = loihi2_hardware()
        self.target = "Loihi 2 fixed-point simulation on the CPU (Lava Loihi2SimCfg, fixed_pt)"
        self.plan = plan_export(model)
        self.meter = TelemetryMeter(model)
        self._closed = False
        self._previous_spikes: tuple[np.ndarray, ...] | None = None
        self._moved_delay_lines = self._fresh_delay_lines()
        self._resources = _LavaResources()
        # released by close(), or when the runner is garbage-collected unclosed, or at interpreter exit
        self._release = weakref.finalize(self, self._resources.release)
        try:
            self._build()
            self._primed_step()
        except BaseException:
            self.close()
            raise

    @property
    def notes(self) -> tuple[str, ...]:
        """Sentences for the user: where this runs, and what the export changed to fit Loihi."""
        return (f"Loihi 2 hardware: {self.hardware.reason}", *self.plan.notes)

    # -- construction ------------------------------------------------------------------------------
    def _build(self) -> None:
        from engine.lava_compat import import_lava
        from engine.loihi import frame_io

        run_configs = import_lava("lava.magma.core.run_configs")
        run_conditions = import_lava("lava.magma.core.run_conditions")
        path = write_export(self.plan, Path(self._resources.workdir.name) / "model.net")
        network = load_netx_network(path)
        verify_netx_network(network, self.plan)
        encoding_sizes = self.model.neuron_counts[:-1]
        source = frame_io.FrameSource(size=self.model.n_bins)
        sink = frame_io.FrameSink(sizes=(self.model.n_bins, *encoding_sizes))
        source.s_out.connect(network.layers[0].neuron.a_in)  # netx's Input block leaves its in-port open
        network.out.connect(sink.in_port(0))
        for index, block in enumerate(network.layers[:-1], start=1):
            block.out.connect(sink.in_port(index))
        # lava-nc looks process instances up in this map first, then process classes (in select())
        models = {source: frame_io.PyFrameSourceModel,
                  sink: frame_io.frame_sink_model(len(encoding_sizes) + 1)}
        if self.process_models == "fast":
            from engine.loihi.delay_dense import DelayDense, FastDelayDenseModel

            models[DelayDense] = FastDelayDenseModel
        run_cfg = run_configs.Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models)
        self._source, self._sink, self._network = source, sink, network
        self._state_vars = _state_vars(network)
        self._one_step = run_conditions.RunSteps(num_steps=1, blocking=True)
        executable = sink.compile(run_cfg)
        _LavaResources.stop_all_at_exit()  # before multiprocessing's own exit hook joins Lava's children
        with _signals_held():  # the children fork in here and inherit the holding handlers
            sink.create_runtime(executable=executable)
        self._resources.runtime = sink.runtime

    def _primed_step(self) -> None:
        """Run one all-zero step: it changes no state (nothing spikes) and starts the runtime, so that
        :meth:`close` can stop it (lava-nc cannot stop a runtime that never ran)."""
        self._exchange(np.zeros(self.model.n_bins, dtype=np.int32))

    # -- streaming ---------------------------------------------------------------------------------
    def step(self, magnitude: np.ndarray) -> tuple[np.ndarray | None, FrameTelemetry | None]:
        """Feed one |STFT| frame; return the mask and telemetry of the frame *before* it.

        The first call after creation or :meth:`reset` returns ``(None, None)``: no frame precedes it.
        """
        start = time.perf_counter_ns()
        output, *spikes = self._exchange(self._input_mantissas(magnitude))
        previous, self._previous_spikes = self._previous_spikes, self._delivered(spikes)
        if previous is None:
            return None, None
        mask = mask_from_output(output / OUTPUT_SCALE)
        elapsed = time.perf_counter_ns() - start
        return mask, self.meter.measure(previous, previous, elapsed)

    def _delivered(self, spikes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """The spikes each synapse layer receives this frame, in real units, from Lava's spikes.

        Where the export moved part of a neuron's delay onto the next layer's synapses, Lava shows its
        spikes that many frames early; a delay line puts them back where the engine delivers them.
        """
        delivered = []
        for index, values in enumerate(spikes):
            values = values * SPIKE_STEP
            line = self._moved_delay_lines[index]
            if line is not None:
                values, _ = delay_step(values, line[1], line[0])
            delivered.append(values)
        return tuple(delivered)

    def _fresh_delay_lines(self) -> list[tuple[DelayParams, DelayState] | None]:
        """Per encoding layer (input encoder first), a delay line for delays the export moved."""
        lines: list[tuple[DelayParams, DelayState] | None] = [None]
        for moved in self.plan.moved_delays[:-1]:
            params = None if moved is None else DelayParams(moved)
            lines.append(None if params is None else (params, DelayState.zeros(moved.size, params)))
        return lines

    def reset(self) -> None:
        """Forget everything: zero every neuron's and synapse's state; the next frame starts a stream."""
        self._check_running()
        try:
            with _signals_held():
                for var in self._state_vars:
                    var.set(np.zeros(var.shape, dtype=np.int32))
        except Exception as exc:
            self.close()
            raise LavaRuntimeError(f"the Lava runtime failed while resetting: {exc}") from exc
        self._previous_spikes = None
        self._moved_delay_lines = self._fresh_delay_lines()

    def _input_mantissas(self, magnitude: np.ndarray) -> np.ndarray:
        magnitude = check_frame(magnitude, self.model.n_bins)
        encoder = self.model.encoder
        # the engine's quantised input (a multiple of step) as netx's input mantissa (in 1/64)
        mantissa = np.round((magnitude + encoder.offset) / encoder.step) * (encoder.step * WEIGHT_SCALE)
        if not np.all(np.abs(mantissa) < INPUT_LIMIT):
            raise AudioInputError(
                "a spectrum magnitude is too large for Loihi's fixed-point input "
                f"(|STFT| must stay below {INPUT_LIMIT / WEIGHT_SCALE:.0f}): is the audio scaled to [-1, 1]?")
        return mantissa.astype(np.int32)

    def _exchange(self, frame: np.ndarray) -> list[np.ndarray]:
        """One time step: feed ``frame``, run, collect what the sink received (signals held meanwhile)."""
        self._check_running()
        with _signals_held():
            try:
                self._source.feed(frame)
                self._resources.runtime.start(self._one_step)
                return self._sink.collect()
            except Exception as exc:  # a process model raised: lava-nc has stopped the runtime already
                self.close()
                raise LavaRuntimeError(f"the Lava runtime failed: {exc}") from exc

    def _check_running(self) -> None:
        """Refuse to talk to a closed runtime (its shared memory is gone) or to one missing a process."""
        if self._closed:
            raise LavaRuntimeError("this Lava runner is closed (its processes were stopped)")
        dead = [actor for actor in self._actors() if not actor.is_alive()]
        if dead:
            codes = ", ".join(str(actor.exitcode) for actor in dead)
            self.close()
            raise LavaRuntimeError(f"{len(dead)} Lava process(es) died (exit code {codes}); the runner "
                                   "was stopped: create a new one")

    @property
    def pids(self) -> tuple[int, ...]:
        """OS process ids of the runtime's processes (empty once closed): for monitoring and benchmarks."""
        return tuple(actor.pid for actor in self._actors())

    def _actors(self) -> list:
        return self._resources.actors()

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every Lava process and free their shared memory. Safe to call twice."""
        self._closed = True
        self._release()

    def __enter__(self) -> LavaRunner:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed


def _state_vars(network) -> list:
    """Every Var that carries state from one step to the next in a netx network."""
    found = []
    for block in network.layers:
        for part, names in ((block.neuron, ("sigma", "act", "residue", "error")),
                            (getattr(block, "synapse", None), ("a_buff",))):
            found.extend(getattr(part, name) for name in names if part is not None and hasattr(part, name))
    return found


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back inside the block; deliver them when it ends (main thread only).

    lava-nc's runtime exchanges several messages per operation; an exception between two of them (Ctrl-C
    raises KeyboardInterrupt wherever Python happens to be) leaves the runtime waiting forever.
    Processes forked inside the block inherit the holding handlers, so Lava's children ignore both.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, frame: arrived.append(number)) for sig in HELD_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for sig in dict.fromkeys(arrived):
            signal.raise_signal(sig)


class _LavaResources:
    """What a runner owns outside Python's memory: Lava's runtime (OS processes, shared memory) and a
    folder. Kept apart from the runner so that a finalizer can release it once the runner is gone."""

    _live: set[_LavaResources] = set()
    _exit_hook = False

    def __init__(self) -> None:
        self.runtime = None
        self.workdir = tempfile.TemporaryDirectory(prefix="spandex-lava-")
        self._live.add(self)

    @classmethod
    def stop_all_at_exit(cls) -> None:
        """Make interpreter exit release every live runtime. Called once lava (and so multiprocessing) is
        imported: atexit runs hooks last-in first-out, and multiprocessing's joins Lava's children, which
        would wait forever for a runtime nobody stopped."""
        if not cls._exit_hook:
            atexit.register(cls._release_all)
            cls._exit_hook = True

    @classmethod
    def _release_all(cls) -> None:
        for resources in list(cls._live):
            with contextlib.suppress(Exception):
                resources.release()

    def actors(self) -> list:
        """The runtime's OS processes (lava-nc keeps them in its message infrastructure)."""
        return [] if self.runtime is None else list(self.runtime._messaging_infrastructure.actors)

    def release(self) -> None:
        """Stop the runtime (in order if it can, by force if a process died) and remove the folder."""
        self._live.discard(self)
        try:
            if self.runtime is not None:
                with _signals_held():
                    self._stop_runtime()
        finally:
            self.runtime = None
            self.workdir.cleanup()

    def _stop_runtime(self) -> None:
        actors = self.actors()
        stopper = threading.Thread(target=self.runtime.stop, name="lava-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT_S)
        if not stopper.is_alive():
            return
        for actor in actors:  # the stop is stuck waiting for an answer that will never come
            with contextlib.suppress(ProcessLookupError):
                os.kill(actor.pid, signal.SIGKILL)
        for actor in actors:
            actor.join()  # reaps it (killed: returns at once)
        self.runtime._messaging_infrastructure.smm.shutdown()  # unlinks the shared memory
