"""The live audio engine: device stream → lock-free rings → worker thread (all models) → rings → device.

Three parts, each with one job:

- :class:`AudioCallback` — runs on PortAudio's real-time thread. It copies the input block into the
  input ring (or the looping file, when a file is the microphone), copies the output block from the
  output ring (silence if the worker is late: counted), counts PortAudio's status flags (xruns), times
  itself, and rings the worker's doorbell. No lock, no array allocation, no model code.
- the worker (:meth:`AudioEngine.run`) — resamples to 16 kHz if the device runs at another rate,
  runs every loaded model on every 128-sample hop (:class:`engine.live.LiveDenoiser`), publishes a
  telemetry record per hop, resamples back and fills the output ring. Between hops it applies
  commands and watches the device: when it is lost (callbacks stop; or, as JACK/PipeWire do on
  unplug, the microphone turns to exact zeros and is no longer listed) it says so, runs on the
  internal clock, and reopens the device when it returns.
- a loader thread reads model files so that opening a model never stalls the hops.

The output ring starts with :attr:`EngineConfig.prefill_hops` hops of silence: that jitter buffer is
the worker's deadline, and the latency it adds (measured live as the ring's fill) is published.

:class:`AudioEngine` talks to its owner only through a command queue (``get_nowait``), an event queue
(``put``) and a :class:`SharedBlock` (counters and rings in shared memory). It never imports Qt; the
GUI runs it in a separate process through :mod:`engine.host`.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine import audio_device
from engine.audio_device import InternalClock, OpenStream
from engine.model_card import card_lines, read_card
from engine.audio_io import SAMPLE_RATE, load_audio, resample, write_wav
from engine.backends import prepare
from engine.errors import SpandexError
from engine.library import resolve_model
from engine.live import LiveDenoiser
from engine.live_frame import (
    CALLBACK_DTYPE, CALLBACKS, CLOCK_LATE, COUNTERS, DEVICE_GAPS, DEVICE_LOSSES, FRAME_DTYPE, HOPS,
    INPUT_DROPPED, LATENCY_TRIMS, PA_FLAGS, RING_LATE, RING_LATE_COUNT,
)
from engine.noise import NOISE_KINDS
from engine.paced_runner import PacedRunner, for_live
from engine.resampler import StreamingResampler
from engine.ring import Doorbell, RecordRing, SampleRing
from engine.stft import HOP

NO_OUTPUT = "none"
"""``EngineConfig.output`` value for "no output device": run on the internal clock."""


@dataclass
class EngineConfig:
    """What the engine starts with. Devices are :attr:`DeviceInfo.key` strings or names; None: default."""

    models: list[str] = field(default_factory=list)
    backend: str = "dense"
    input: str | None = None
    output: str | None = None
    file: str | None = None          # file as microphone (looping); used instead of the input device
    fallback_file: str | None = None  # played as the microphone when no input device exists
    prefill_hops: int = 2
    frame_ring: int = 512            # telemetry records kept (4 s)
    callback_ring: int = 4096


class SharedBlock:
    """The engine's counters and telemetry rings, laid out in one buffer the GUI process can map."""

    def __init__(self, buffer, config: EngineConfig) -> None:
        n = len(COUNTERS) * 8
        self.counters = np.ndarray((len(COUNTERS),), dtype=np.int64, buffer=buffer, offset=0)
        frames_bytes = RecordRing.nbytes(FRAME_DTYPE, config.frame_ring)
        self.frames = RecordRing(FRAME_DTYPE, config.frame_ring, memoryview(buffer)[n:n + frames_bytes])
        start = n + frames_bytes
        self.callbacks = RecordRing(CALLBACK_DTYPE, config.callback_ring,
                                    memoryview(buffer)[start:start + self.callback_bytes(config)])

    @staticmethod
    def callback_bytes(config: EngineConfig) -> int:
        return RecordRing.nbytes(CALLBACK_DTYPE, config.callback_ring)

    @classmethod
    def nbytes(cls, config: EngineConfig) -> int:
        return (len(COUNTERS) * 8 + RecordRing.nbytes(FRAME_DTYPE, config.frame_ring)
                + cls.callback_bytes(config))


class LoopingSource:
    """A file as a microphone: its samples at the device rate, played in a loop (callback-safe fill)."""

    def __init__(self, audio: np.ndarray, path: str) -> None:
        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        self.path = path
        self.position = 0

    def fill(self, out: np.ndarray) -> None:
        n, size = out.shape[0], self.audio.size
        done = 0
        while done < n:
            take = min(n - done, size - self.position)
            out[done:done + take] = self.audio[self.position:self.position + take]
            self.position = (self.position + take) % size
            done += take


class AudioCallback:
    """The real-time part: rings in and out, flags counted, itself timed. See the module docstring."""

    def __init__(self, shared: SharedBlock, doorbell: Doorbell, capacity: int) -> None:
        self.counters = shared.counters
        self.timings = shared.callbacks
        self.doorbell = doorbell
        self.in_ring = SampleRing(capacity)
        self.out_ring = SampleRing(capacity)
        self.source: LoopingSource | None = None  # replaced (not mutated) by the worker
        self.scratch = np.zeros(capacity, dtype=np.float32)
        self.rate = 16000         # the stream's rate, and its clock's last reading; set by the worker
        self.last_stream_time = 0.0
        self.target_fill = 0      # samples of output the ring should hold (the prefill); set by the worker
        self.max_fill = capacity  # above this, the callback trims back to target_fill
        self.last_call = time.monotonic()

    def __call__(self, indata: np.ndarray | None, outdata: np.ndarray | None, frames: int, flags: int,
                 stream_time: float) -> None:
        start = time.perf_counter_ns()
        counters = self.counters
        counters[CALLBACKS] += 1
        if stream_time > 0.0:
            if self.last_stream_time > 0.0 and stream_time - self.last_stream_time > 1.5 * frames / self.rate:
                counters[DEVICE_GAPS] += 1  # the server skipped us: PortAudio flags nothing
            self.last_stream_time = stream_time
        for bit, counter in PA_FLAGS:
            if flags & bit:
                counters[counter] += 1
        source = self.source
        if source is not None:
            block = self.scratch[:frames]
            source.fill(block)
        elif indata is not None:
            block = indata[:, 0]
        else:
            block = self.scratch[:frames]
            block.fill(0.0)
        counters[INPUT_DROPPED] += frames - self.in_ring.write(block)
        if outdata is not None:
            surplus = self.out_ring.available() - self.max_fill
            if surplus > 0:  # late hops piled up: drop them rather than keep the extra latency
                self.out_ring.skip(surplus + self.max_fill - self.target_fill)
                counters[LATENCY_TRIMS] += 1
            if self.out_ring.read_into(outdata[:, 0]) == 0:
                outdata.fill(0.0)
                counters[RING_LATE_COUNT] += 1
                flags |= RING_LATE
            elif outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
        self.doorbell.ring()
        self.last_call = time.monotonic()
        record = self.timings.claim()
        record["t"] = self.last_call
        record["frames"] = frames
        record["flags"] = flags
        record["duration_ns"] = time.perf_counter_ns() - start
        self.timings.publish()


LOADER_NICE = 10
"""The model loader thread's nice value: loading, and everything the Lava backend starts from that thread
(its processes and threads, which inherit it), yields the CPU to the audio path. Measured with a Lava,
a dense and a sparse slot on the loaded 2-core machine: 880 late callbacks in 30 s with Lava at the
engine's priority, 0 with Lava at nice 10 (its audio then comes from its CPU twin more often)."""


def _yield_the_cpu() -> None:
    """Give the calling thread (on Linux a thread has its own nice value) the :data:`LOADER_NICE`."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOADER_NICE)


def model_info(runner, slot: int) -> dict:
    """What the GUI shows about a loaded model (plain data: it crosses a process boundary)."""
    model = runner.model
    return {
        "slot": slot, "name": model.name, "source": model.source, "backend": runner.name,
        "twin": runner.twin.name if isinstance(runner, PacedRunner) else None,  # its audio when it lags
        "layer_sizes": list(model.neuron_counts[:-1]),  # encoding layers: input encoder, hidden layers
        "layer_weight_sparsity": [float(s) for s in model.layer_weight_sparsity()],
        "weight_sparsity": float(model.weight_sparsity),
        "synapses": int(model.n_synapses), "nonzero_synapses": int(model.n_nonzero_synapses),
        "card": card_lines(read_card(model.source)[0]) if model.source else [],
    }


class AudioEngine:
    """Owns the stream, the rings, the worker loop and the models. :meth:`run` blocks until shutdown."""

    STATUS_PERIOD_S = 0.25
    STALL_S = 1.0        # no callback for this long: the device is gone
    SILENT_S = 2.0       # a microphone that sent sound and then exact zeros this long: unplugged or muted?
    RETRY_S = 1.0        # first retry after a device is missing; doubles up to MAX_RETRY_S
    MAX_RETRY_S = 8.0
    CLOSE_TIMEOUT_S = 1.0
    MAX_EXTRA_HOPS = 3   # output that piles up beyond the prefill after late hops, before it is trimmed

    def __init__(self, config: EngineConfig, shared: SharedBlock, commands, events) -> None:
        self.config = config
        self.shared = shared
        self.commands = commands
        self.events = events
        self.doorbell = Doorbell()
        self.callback = AudioCallback(shared, self.doorbell, capacity=1 << 17)  # 2.7 s at 48 kHz
        self.live = LiveDenoiser()
        self.loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spandex-model-loader",
                                         initializer=_yield_the_cpu)
        self.pending: list[Future] = []
        self.stream: OpenStream | None = None
        self.wanted_input = config.input
        self.wanted_output = config.output
        self.file_source: LoopingSource | None = None
        self.state = "starting"
        self.message = ""
        self.lost_since: float | None = None
        self.next_retry = 0.0
        self.retry_delay = self.RETRY_S
        self.fifo = np.zeros(0)
        self.to16: StreamingResampler | None = None
        self.from16: StreamingResampler | None = None
        self.notes: list[str] = []
        self.file_is_fallback = False
        self.stopping = False
        self.portaudio_stuck = False  # a lost stream could not be closed: PortAudio is off limits
        self.heard_at: float | None = None  # when the microphone last sent a nonzero sample
        self.silent_input: str | None = None  # a present microphone that sends only zeros
        self.parent_alive = lambda: True
        self.priority = "normal"  # how the worker thread is scheduled (see engine.host)

    # --- the worker loop -------------------------------------------------------------------------

    def run(self) -> None:
        sys.setswitchinterval(0.001)  # a callback waiting for the GIL waits at most ~1 ms
        try:
            for spec in self.config.models:  # loaded before the stream starts: no glitch
                self.pending.append(self.loader.submit(self._load, spec, self.config.backend))
            for future in self.pending:
                future.exception()
            self._collect_models()
            if not self.config.models:
                self._emit_models()  # none: the GUI says so
            if self.config.file:
                self._set_file(self.config.file)
            self._open()
            last_status = 0.0
            while not self.stopping:
                self._apply_commands()
                self._collect_models()
                self.doorbell.wait(0.05)
                self._process_available()
                now = time.monotonic()
                self._supervise(now)
                if now - last_status > self.STATUS_PERIOD_S:
                    self._emit_status()
                    last_status = now
                    if not self.parent_alive():
                        break
        except Exception as exc:  # noqa: BLE001 — report, then stop cleanly
            self._event("fatal", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._close()
            self.live.close()  # the Lava backend's processes stop with the engine
            self.loader.shutdown(wait=False, cancel_futures=True)
            if not self.portaudio_stuck:
                audio_device.terminate()
            self.doorbell.close()
            self._event("stopped", None)

    def _process_available(self) -> None:
        data = self.callback.in_ring.read_all()
        if data.size == 0:
            return
        if self.file_source is None and self.stream is not None and self.stream.input is not None \
                and np.any(data):
            self.heard_at = time.monotonic()
            if self.silent_input is not None:  # sound again: the muted microphone is back
                self.silent_input = None
                self.message = "; ".join(self.notes)
                self._emit_stream()
        x16 = data if self.to16 is None else self.to16.process(data)
        self.fifo = np.concatenate([self.fifo, x16]) if self.fifo.size else np.asarray(x16, np.float64)
        n_hops = self.fifo.size // HOP
        if n_hops == 0:
            return
        outputs = []
        frames = self.shared.frames
        for k in range(n_hops):
            record = frames.claim()
            out = self.live.process(self.fifo[k * HOP:(k + 1) * HOP], record)
            record["out_ring_samples"] = self.callback.out_ring.available()
            frames.publish()
            outputs.append(out)
        self.shared.counters[HOPS] += n_hops
        self.fifo = self.fifo[n_hops * HOP:]
        if self.stream is not None and (self.stream.output is not None or isinstance(self.stream.stream, InternalClock)):
            out = np.concatenate(outputs)
            if self.from16 is not None:
                out = self.from16.process(out).astype(np.float32)
            self.callback.out_ring.write(out)

    # --- devices ---------------------------------------------------------------------------------

    def _open(self) -> None:
        """Open the wanted devices; without an output device (or any device), the internal clock."""
        self._close()
        in_dev = out_dev = None
        problems = []
        self.notes = []
        if self.file_is_fallback:
            self.file_source = self.callback.source = None
            self.file_is_fallback = False
        if self.portaudio_stuck:
            problems.append("the audio system stopped answering (restart of the engine needed)")
        else:
            try:
                audio_device.rescan()
            except Exception as exc:  # noqa: BLE001 — PortAudio could not start: no devices
                problems.append(f"PortAudio: {exc}")
        if self.file_source is None and not self.portaudio_stuck:
            in_dev = audio_device.find_device(self.wanted_input, "input")
            if in_dev is None and self.config.fallback_file:
                self.notes.append(f"no microphone{' ' + repr(self.wanted_input) if self.wanted_input else ''}: "
                                  f"playing {Path(self.config.fallback_file).name} as the microphone")
                self._set_file(self.config.fallback_file)
                self.file_is_fallback = True
            elif in_dev is None:
                problems.append(f"no input device{' ' + repr(self.wanted_input) if self.wanted_input else ''}")
        if self.wanted_output != NO_OUTPUT and not self.portaudio_stuck:
            out_dev = audio_device.find_device(self.wanted_output, "output")
            if out_dev is None:
                problems.append(f"no output device{' ' + repr(self.wanted_output) if self.wanted_output else ''}")
        stream = None
        if in_dev is not None or out_dev is not None:
            try:
                stream = audio_device.open_stream(in_dev, out_dev, self.callback)
            except SpandexError as exc:
                if in_dev is not None and self.config.fallback_file and self.wanted_input is None:
                    # the default microphone is listed but does not open: the demo clip instead
                    self.notes.append(f"the microphone {in_dev.key} does not open ({exc}): playing "
                                      f"{Path(self.config.fallback_file).name} as the microphone")
                    self._set_file(self.config.fallback_file)
                    self.file_is_fallback = True
                    in_dev = None
                    try:
                        stream = audio_device.open_stream(None, out_dev, self.callback) if out_dev else None
                    except SpandexError as again:
                        problems.append(str(again))
                else:
                    problems.append(str(exc))
        if stream is None or (self.file_source is None and in_dev is None):
            if stream is not None:
                stream.close()
            clock = InternalClock(self.callback)
            stream = OpenStream(clock, SAMPLE_RATE, HOP, None, None, 0.0)
        self._configure_rate(stream.rate)
        prefill = int(round(self.config.prefill_hops * HOP * stream.rate / SAMPLE_RATE))
        self.callback.in_ring.skip(self.callback.in_ring.available())
        self.callback.out_ring.skip(self.callback.out_ring.available())
        self.callback.out_ring.write(np.zeros(prefill, dtype=np.float32))
        self.callback.target_fill = prefill
        self.callback.rate = stream.rate
        self.callback.last_stream_time = 0.0
        self.callback.max_fill = prefill + int(round(self.MAX_EXTRA_HOPS * HOP * stream.rate / SAMPLE_RATE))
        if isinstance(stream.stream, InternalClock):
            stream.stream.start()
        self.stream = stream
        self.callback.last_call = time.monotonic()
        if isinstance(stream.stream, InternalClock):
            if problems:
                self.state = "no-device"
                self.message = "; ".join(problems) + f": running silently on the internal clock, retrying"
                self.retry_delay = min(2 * self.retry_delay, self.MAX_RETRY_S) if self.lost_since else self.RETRY_S
                self.lost_since = self.lost_since or time.monotonic()
            else:
                self.state, self.message = "internal-clock", "no output device chosen: running silently"
        else:
            self.state, self.message, self.lost_since = "running", "", None
            self.retry_delay = self.RETRY_S
        if self.file_is_fallback and self.wanted_input is not None and self.state == "running":
            self.state = "no-device"  # a chosen microphone is missing: keep looking for it
        self.message = "; ".join(self.notes + ([self.message] if self.message else []))
        self.next_retry = time.monotonic() + self.retry_delay
        self._emit_stream()

    def _configure_rate(self, rate: int) -> None:
        if self.file_source is not None:
            self.file_source = LoopingSource(self._file_audio(self.file_source.path, rate), self.file_source.path)
            self.callback.source = self.file_source
        if rate == SAMPLE_RATE:
            self.to16 = self.from16 = None
        elif self.to16 is None or self.to16.down != StreamingResampler(rate, SAMPLE_RATE).down:
            self.to16 = StreamingResampler(rate, SAMPLE_RATE)
            self.from16 = StreamingResampler(SAMPLE_RATE, rate)
        self.fifo = np.zeros(0)

    def _close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def _supervise(self, now: float) -> None:
        stream = self.stream
        if stream is None:
            return
        if isinstance(stream.stream, InternalClock):
            self.shared.counters[CLOCK_LATE] = stream.stream.late
            if self.state == "no-device" and now >= self.next_retry and not self.portaudio_stuck:
                self._open()  # is the device back?
            return
        if stream.active and now - self.callback.last_call < self.STALL_S:
            if self.state == "no-device" and now >= self.next_retry:
                self._open()  # a chosen microphone is missing (a file plays instead): is it back?
            elif self.heard_at is not None and now - self.heard_at > self.SILENT_S:
                self._input_went_silent(stream)
            return
        self.shared.counters[DEVICE_LOSSES] += 1
        names = " / ".join(d.key for d in (stream.input, stream.output) if d is not None)
        self.stream = None
        self.lost_since = now
        self.retry_delay = self.RETRY_S / 2  # the first retry (doubled in _open) comes after RETRY_S
        closer = threading.Thread(target=stream.close, name="spandex-close-lost-stream", daemon=True)
        closer.start()
        closer.join(self.CLOSE_TIMEOUT_S)
        if closer.is_alive():
            # PortAudio hangs closing a stream whose server died (seen with JACK on PipeWire); it would
            # hang again when re-initialised. Keep the app running on the internal clock and ask the
            # host to start a fresh engine process, which finds the device when it is back.
            self.portaudio_stuck = True
            self._event("device_lost", {"devices": names, "restart": True})
        else:
            self._event("device_lost", {"devices": names, "restart": False})
        self._open()

    def _input_went_silent(self, stream: OpenStream) -> None:
        """The microphone sent sound, then only exact zeros for SILENT_S. JACK and PipeWire keep a stream
        running when its device is unplugged (the removed port reads as zeros), so reopen — which
        lists the devices again — to tell an unplugged microphone (device lost) from a muted one."""
        name = stream.input.key
        self.heard_at = None
        self._open()
        if self.stream is not None and self.stream.input is not None and self.stream.input.key == name:
            self.silent_input = name
            self.message = "; ".join(self.notes + [f"{name} sends only silence: muted?"])
            self._emit_stream()
        else:
            self.shared.counters[DEVICE_LOSSES] += 1
            self.lost_since = self.lost_since or time.monotonic()
            self._event("device_lost", {"devices": name, "restart": False})

    # --- commands --------------------------------------------------------------------------------

    def _apply_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            name, *args = command
            try:
                getattr(self, f"_cmd_{name}")(*args)
            except SpandexError as exc:
                self._event("error", str(exc))

    def _cmd_load_model(self, spec: str, backend: str | None = None) -> None:
        self.pending.append(self.loader.submit(self._load, spec, backend or self.config.backend))

    def _cmd_remove_model(self, slot: int) -> None:
        self.live.remove_model(slot)
        self._emit_models()

    def _cmd_select(self, slot: int) -> None:
        self.live.select(slot)

    def _cmd_reset(self) -> None:
        self.live.reset()
        for index in range(len(COUNTERS)):
            if COUNTERS[index] not in ("hops", "callbacks"):
                self.shared.counters[index] = 0

    def _cmd_noise(self, kind: str | None, snr_db: float) -> None:
        if kind is not None and kind not in NOISE_KINDS:
            raise SpandexError(f"unknown noise '{kind}'")
        self.live.noise.set(kind, snr_db)

    def _cmd_set_input(self, device: str | None) -> None:
        self.wanted_input = device
        self.file_is_fallback = False
        self.file_source = None
        self.callback.source = None
        self._open()

    def _cmd_set_file(self, path: str) -> None:
        self._set_file(path)
        self.file_is_fallback = False
        self._open()

    def _cmd_set_output(self, device: str | None) -> None:
        self.wanted_output = device
        self._open()

    def _cmd_list_devices(self, rescan: bool = False) -> None:
        """List the devices PortAudio knows. ``rescan``: look again — PortAudio can only re-list with no
        stream open, so the stream is reopened (a short gap in the sound)."""
        if rescan and not self.portaudio_stuck:
            self._open()
        self._event("devices", [asdict(d) | {"key": d.key} for d in audio_device.list_devices()])

    def _cmd_record_start(self, max_seconds: float = 600.0, fresh: bool = False) -> None:
        """Record input and output from the next hop. ``fresh``: reset every network first, so that
        ``denoise()`` of the recorded input reproduces the recorded output exactly."""
        if fresh:
            self.live.reset()
        self.live.record_start(max_seconds)

    def _cmd_record_stop(self, prefix: str) -> None:
        """Write PREFIX-input.wav (after noise injection) and PREFIX-output.wav (float, 16 kHz).

        The output lags the input by 384 samples (the STFT's), exactly as the listener heard it.
        """
        noisy, denoised = self.live.record_stop()
        if noisy.size == 0:
            raise SpandexError("nothing was recorded")
        paths = [write_wav(f"{prefix}-{part}.wav", audio, SAMPLE_RATE, subtype="FLOAT")
                 for part, audio in (("input", noisy), ("output", denoised))]
        self._event("recorded", {"paths": [str(p) for p in paths], "seconds": noisy.size / SAMPLE_RATE})

    def _cmd_shutdown(self) -> None:
        self.stopping = True

    # --- models and files ------------------------------------------------------------------------

    def _load(self, spec: str, backend: str):
        """A runner for the live path: a late one (Lava) is paced, with a CPU twin for when it lags."""
        return for_live(prepare(resolve_model(spec), backend))

    def _collect_models(self) -> None:
        done = [f for f in self.pending if f.done()]
        if not done:
            return
        for future in done:
            self.pending.remove(future)
            try:
                self.live.add_model(future.result())
            except SpandexError as exc:
                self._event("error", str(exc))
            except Exception as exc:  # noqa: BLE001 — a bad file must not stop the engine
                self._event("error", f"could not load the model: {type(exc).__name__}: {exc}")
        self._emit_models()

    def _file_audio(self, path: str, rate: int) -> np.ndarray:
        audio = load_audio(path)
        return audio if rate == SAMPLE_RATE else resample(audio, SAMPLE_RATE, rate)

    def _set_file(self, path: str) -> None:
        rate = self.stream.rate if self.stream is not None else SAMPLE_RATE
        self.file_source = LoopingSource(self._file_audio(path, rate), path)
        self.callback.source = self.file_source

    # --- events ----------------------------------------------------------------------------------

    def _event(self, kind: str, payload) -> None:
        self.events.put((kind, payload))

    def _emit_models(self) -> None:
        self._event("models", {"models": [model_info(s.runner, i) for i, s in enumerate(self.live.slots)],
                               "playing": self.live.playing, "loading": len(self.pending)})

    def _emit_stream(self) -> None:
        s = self.stream
        self._event("stream", {
            "state": self.state, "message": self.message, "rate": s.rate if s else None,
            "input": s.input.key if s and s.input else None,
            "output": s.output.key if s and s.output else None,
            "file": self.file_source.path if self.file_source else None,
            "device_latency_s": s.latency_s if s else 0.0,
            "prefill_hops": self.config.prefill_hops, "priority": self.priority,
        })

    def _emit_status(self) -> None:
        s = self.stream
        rate = s.rate if s else SAMPLE_RATE
        ring_s = self.callback.out_ring.available() / rate
        self._event("status", {
            "state": self.state, "playing": self.live.playing,
            "buffer_latency_s": ring_s + (self.fifo.size / SAMPLE_RATE),
            "algorithmic_latency_s": self.live.latency_s,
            "device_latency_s": s.latency_s if s else 0.0,
            "lost_for_s": (time.monotonic() - self.lost_since) if self.lost_since else 0.0,
        })


def run_engine(config: EngineConfig, buffer, commands, events, parent_alive=None,
               priority: str = "normal") -> None:
    """Entry point of the engine (process or thread): run until a ``("shutdown",)`` command.
    ``priority`` says how the caller scheduled this thread (reported in the stream events)."""
    engine = AudioEngine(config, SharedBlock(buffer, config), commands, events)
    engine.priority = priority
    if parent_alive is not None:
        engine.parent_alive = parent_alive
    engine.run()

