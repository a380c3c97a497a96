"""The live engine's worker: between audio callbacks, every loaded model runs on every hop.

:class:`AudioEngine` owns the pieces of :mod:`engine.live.denoiser` and runs the worker loop (:meth:`AudioEngine.run`):
it wakes on the callback's doorbell, resamples to 16 kHz if the device runs at another rate, runs every
loaded model on every 128-sample hop (:class:`engine.live.denoiser.LiveDenoiser`), publishes a telemetry
record per hop, resamples back and fills the output ring. Between hops it applies commands, lets the
:class:`engine.live.supervisor.DeviceSupervisor` watch the device, and sends status events. A loader
thread reads model files so that opening a model never stalls the hops.

The output ring starts with :attr:`EngineConfig.prefill_hops` hops of silence: that jitter buffer is
the worker's deadline, and the latency it adds (measured live as the ring's fill) is published.

:class:`AudioEngine` talks to its owner only through a command queue (``get_nowait``), an event queue
(``put``) and a :class:`engine.live.record.SharedBlock` (counters and rings in shared memory). It never
imports Qt; the GUI runs it in a separate process through :mod:`engine.live.host`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from engine.backends import Runner
from engine.constants import HOP, SAMPLE_RATE
from engine.dsp.resampler import StreamingResampler
from engine.errors import SpandexError
from engine.files.audio import SILENCE_DBFS, is_silent, write_wav
from engine.library.card import card_lines, read_card
from engine.library.catalog import resolve_model, user_data_dir
from engine.live import devices as audio_device
from engine.live import protocol
from engine.live.callback import AudioCallback
from engine.live.denoiser import LiveDenoiser
from engine.live.noise import NOISE_KINDS
from engine.live.paced import PacedRunner, for_live
from engine.live.protocol import LOAD_FAILED, EngineConfig
from engine.live.record import COUNTERS, HOPS, SharedBlock
from engine.live.ring import Doorbell
from engine.live.supervisor import DeviceSupervisor
from engine.live.virtual_mic import DESCRIPTION, SOURCE_NAME, VirtualMicrophone


def fallback_record_folder() -> Path:
    """Where a recording goes when its folder cannot be written (gone, full, read-only): the user's own, kept across
    restarts and private to them (made 0700; a recording is their microphone's sound)."""
    folder = user_data_dir() / "recordings"
    with contextlib.suppress(OSError):  # (one that cannot be made is said by the write)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


LOADER_NICE = 10
"""The model loader thread's nice value: reading and preparing a model yields the CPU to the audio path.
(A Lava model's own process sets its nice value, :data:`engine.live.paced.LAVA_NICE`.)"""


def _yield_the_cpu() -> None:
    """Give the calling thread (on Linux a thread has its own nice value) the :data:`LOADER_NICE`."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOADER_NICE)


def model_info(runner: Runner, slot: int, sharpening: float) -> protocol.ModelInfo:
    """What the GUI shows about a loaded model (plain data: it crosses a process boundary); ``sharpening``: its
    mask's now."""
    model = runner.model
    return {
        "slot": slot, "name": model.name, "source": model.source, "backend": runner.name,
        "twin": runner.twin.name if isinstance(runner, PacedRunner) else None,  # its audio when it lags
        "layer_sizes": list(model.neuron_counts[:-1]),  # encoding layers: input encoder, hidden layers
        "layer_weight_sparsity": [float(s) for s in model.layer_weight_sparsity()],
        "weight_sparsity": float(model.weight_sparsity),
        "synapses": int(model.n_synapses), "nonzero_synapses": int(model.n_nonzero_synapses),
        # (a line more where its file's mask sharpening is not its card's)
        "card": card_lines(read_card(model.source)[0], brief_stages=True, model=model) if model.source else [],
        "sharpening": float(sharpening), "own_sharpening": float(model.decoder.sharpening),
    }


class AudioEngine:
    """Owns the rings, the worker loop, the models and the device supervisor. :meth:`run` blocks until
    shutdown."""

    STATUS_PERIOD_S = 0.25

    def __init__(self, config: EngineConfig, shared: SharedBlock, commands, events) -> None:
        self.config = config
        self.shared = shared
        self.commands = commands
        self.events = events
        self.doorbell = Doorbell()
        self.callback = AudioCallback(shared, self.doorbell, capacity=1 << 17)  # 2.7 s at 48 kHz
        self.devices = DeviceSupervisor(config, self.callback, shared.counters, on_open=self._configure_rate,
                                        on_change=self._emit_stream, on_lost=self._device_lost)
        self.live = LiveDenoiser()
        self.loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spandex-model-loader",
                                         initializer=_yield_the_cpu)
        self.pending: list[Future] = []
        self.loads_taken = 0  # LoadModel commands taken (loaded one by one, in order: the last len(pending) unfinished)
        self.slot_commands_taken = 0  # RemoveModel, SetSharpening and Select commands taken (applied, or refused)
        self.opener = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spandex-virtual-mic")
        self.virtual_mic: VirtualMicrophone | None = None
        self.virtual_mic_opening: Future | None = None  # created off the worker: pactl takes tens of ms
        self.fifo = np.zeros(0)
        self.to16: StreamingResampler | None = None
        self.from16: StreamingResampler | None = None
        self.stopping = False
        self.fatal: str | None = None
        """Why the worker loop ended on an error (sent as :class:`~engine.live.protocol.Fatal`), else None."""
        self.parent_alive = lambda: True
        self.priority = "normal"  # how the worker thread is scheduled (see engine.live.host)

    # --- the worker loop -------------------------------------------------------------------------

    def run(self) -> None:
        sys.setswitchinterval(0.001)  # a callback waiting for the GIL waits at most ~1 ms
        # scipy.signal (~1 s to import) is imported where it is first used — the fan noise bed, a resampled
        # stream or file — which here is between hops, with the stream running: imported now, before it starts.
        import scipy.signal  # noqa: F401
        try:
            for spec in self.config.models:  # loaded before the stream starts: no glitch
                self.pending.append(self.loader.submit(self._load, spec, self.config.backend))
            for future in self.pending:
                future.exception()
            self._collect_models()
            if not self.config.models:
                self._emit_models()  # none: the GUI says so
            if self.config.virtual_mic:
                self._virtual_mic(True)
            if self.config.file:
                self._use_file(self.config.file, at_start=True)
            self.devices.open()
            last_status = 0.0
            while not self.stopping:
                self._apply_commands()
                self._collect_models()
                self._collect_virtual_mic()
                self.doorbell.wait(0.05)
                self._process_available()
                now = time.monotonic()
                self.devices.supervise(now)
                if now - last_status > self.STATUS_PERIOD_S:
                    self._emit_status()
                    last_status = now
                    if not self.parent_alive():
                        break
        except Exception as exc:  # noqa: BLE001 — report, then stop cleanly (said once: no traceback)
            self.fatal = f"The audio engine stopped: {type(exc).__name__}: {exc} (please report it)"
            self._send(protocol.Fatal(self.fatal))
        finally:
            self.devices.close()
            self._close_virtual_mic(wait=True)
            self.live.close()  # the Lava backend's processes stop with the engine
            self.loader.shutdown(wait=False, cancel_futures=True)
            self.opener.shutdown(wait=True)  # (only removals are left there: the last opening was cancelled or closed)
            if not self.devices.portaudio_stuck:
                audio_device.terminate()
            self.doorbell.close()
            self._send(protocol.Stopped())

    def _process_available(self) -> None:
        data = self.callback.in_ring.read_all()
        if data.size == 0:
            return
        self.devices.heard(data)
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
        if self.virtual_mic is not None:
            self.virtual_mic.write(np.concatenate(outputs) if len(outputs) > 1 else outputs[0])
            if self.virtual_mic.error:
                self._send(protocol.EngineError(self.virtual_mic.error))
                self._close_virtual_mic()
        if self.devices.plays_output:
            out = np.concatenate(outputs)
            if self.from16 is not None:
                out = self.from16.process(out).astype(np.float32)
            self.callback.out_ring.write(out)

    def _configure_rate(self, rate: int) -> None:
        """A stream opened at ``rate``: resample to and from 16 kHz if it differs."""
        if rate == SAMPLE_RATE:
            self.to16 = self.from16 = None
        else:  # new ones, without the old stream's samples in their filters (and 24 and 48 kHz share a `down`)
            self.to16 = StreamingResampler(rate, SAMPLE_RATE)
            self.from16 = StreamingResampler(SAMPLE_RATE, rate)
        self.fifo = np.zeros(0)

    # --- commands --------------------------------------------------------------------------------

    def _apply_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            try:
                self._apply(command)
            except SpandexError as exc:
                self._send(protocol.EngineError(str(exc)))
            except Exception as exc:  # noqa: BLE001 — a defect in one command must not stop the audio
                self._send(protocol.EngineError(f"{type(command).__name__} failed: {type(exc).__name__}: {exc} "
                                                "(please report it); the engine runs on"))

    def _apply(self, command: protocol.Command) -> None:
        """Apply one command (see :mod:`engine.live.protocol` for what each means)."""
        match command:
            case protocol.LoadModel():
                self.loads_taken += 1
                self.pending.append(self.loader.submit(self._load, command.spec,
                                                       command.backend or self.config.backend))
            case protocol.RemoveModel():
                self.slot_commands_taken += 1
                self.live.remove_model(command.slot)
                self._emit_models()
            case protocol.Select():
                self.slot_commands_taken += 1
                self.live.select(command.slot)
            case protocol.SetSharpening():
                self.slot_commands_taken += 1
                self.live.set_sharpening(command.slot, command.strength)
                self._emit_models()
            case protocol.Reset():
                self.live.reset()
                for index in range(len(COUNTERS)):
                    if COUNTERS[index] not in ("hops", "callbacks"):
                        self.shared.counters[index] = 0
            case protocol.SetNoise():
                if command.kind is not None and command.kind not in NOISE_KINDS:
                    raise SpandexError(f"unknown noise '{command.kind}'")
                self.live.noise.set(command.kind, command.snr_db)
            case protocol.SetInput():
                self.devices.use_input(command.device)
            case protocol.SetFile():
                self._use_file(command.path)
            case protocol.SetOutput():
                self.devices.use_output(command.device)
            case protocol.ListDevices():
                if command.rescan and not self.devices.portaudio_stuck:
                    self.devices.open()
                self._send(protocol.DevicesListed(tuple(
                    protocol.DeviceEntry(index=d.index, name=d.name, hostapi=d.hostapi,
                                         max_input_channels=d.max_input_channels,
                                         max_output_channels=d.max_output_channels,
                                         default_samplerate=d.default_samplerate, key=d.key)
                    for d in audio_device.list_devices())))
            case protocol.RecordStart():
                if command.fresh:
                    self.live.reset()
                self.live.record_start(command.max_seconds)
                self._send(protocol.RecordingStarted(command.max_seconds, int(self.shared.counters[HOPS])))
            case protocol.SetVirtualMic():
                self._virtual_mic(command.on)
            case protocol.RecordStop():
                self._record_stop(command.prefix)
            case protocol.Shutdown():
                self.stopping = True
            case _:
                raise TypeError(f"not an engine command: {command!r}")

    def _use_file(self, path: str, at_start: bool = False) -> None:
        """Play ``path`` as the microphone; if it cannot be read, say why and keep the current source."""
        try:
            self.devices.set_file(path) if at_start else self.devices.use_file(path)
        except SpandexError as exc:
            reason = str(exc).rstrip(".")
            self._send(protocol.EngineError(f"{protocol.FILE_FAILED} — {reason}. Pick another "
                                            "file or a microphone; until then the current source plays."))
            return
        audio = self.devices.file_audio
        if audio is not None and is_silent(audio[1]):  # (it plays: empty plots, and no word why)
            self._send(protocol.EngineError(f"{protocol.FILE_SILENT}: {Path(path).name} is below {SILENCE_DBFS:g} dBFS, "
                                            "nothing in it to hear or denoise"))

    def _record_stop(self, prefix: str) -> None:
        """Write the recording as ``prefix``-input.wav and -output.wav; where that fails (a folder gone or full),
        into :func:`fallback_record_folder` instead, and say so: a recording is not lost to a bad folder."""
        noisy, denoised = self.live.record_stop()
        if noisy.size == 0:
            raise SpandexError(f"{protocol.RECORD_FAILED}: nothing was recorded")
        note = ""
        try:
            paths = _write_recording(prefix, noisy, denoised)
        except SpandexError as exc:
            fallback = fallback_record_folder()
            try:
                paths = _write_recording(str(fallback / Path(prefix).name), noisy, denoised)
            except SpandexError as again:
                raise SpandexError(f"{protocol.RECORD_FAILED} ({noisy.size / SAMPLE_RATE:.0f} s): {exc}; nor in "
                                   f"{fallback}: {again}") from None
            note = f"{protocol.RECORD_FAILED} in {Path(prefix).parent} ({exc}): it is in {fallback}"
        self._send(protocol.Recorded(tuple(str(path) for path in paths), noisy.size / SAMPLE_RATE, note))

    # --- models ----------------------------------------------------------------------------------

    def _load(self, spec: str, backend: str):
        """A runner for the live path: Lava in a process of its own, paced, with a CPU twin for when it lags."""
        try:
            model = resolve_model(spec)
        except SpandexError as exc:  # (the reason without the path it starts with: said once)
            raise SpandexError(f"{LOAD_FAILED} {spec} — {str(exc).removeprefix(f'{spec}: ')}") from None
        return for_live(model, backend)

    # --- the virtual microphone ------------------------------------------------------------------

    def _virtual_mic(self, on: bool) -> None:
        """Publish the output as the virtual source, or stop. Created on a thread of its own (the sound
        server takes tens of ms); :meth:`_collect_virtual_mic` reports it."""
        if not on:
            self._close_virtual_mic()
        elif self.virtual_mic is None and self.virtual_mic_opening is None:
            self.virtual_mic_opening = self.opener.submit(VirtualMicrophone().open)

    def _collect_virtual_mic(self) -> None:
        opening = self.virtual_mic_opening
        if opening is None or not opening.done():
            return
        self.virtual_mic_opening = None
        try:
            self.virtual_mic = opening.result()
        except SpandexError as exc:
            self._send(protocol.EngineError(str(exc)))
        self._emit_virtual_mic()

    def _close_virtual_mic(self, wait: bool = False) -> None:
        """Stop publishing the virtual microphone. Its removal (the sound server, seconds at worst) runs on the
        opener's thread, after any opening still under way there, unless ``wait`` (the engine's end)."""
        opening, self.virtual_mic_opening = self.virtual_mic_opening, None
        mic, self.virtual_mic = self.virtual_mic, None

        def close() -> None:
            if opening is not None:
                with contextlib.suppress(Exception):  # it failed: nothing to close
                    opening.result().close()
            if mic is not None:
                mic.close()

        if opening is not None and opening.cancel():
            opening = None
        if opening is not None or mic is not None:
            close() if wait else self.opener.submit(close)
        self._emit_virtual_mic()

    def _emit_virtual_mic(self) -> None:
        mic = self.virtual_mic
        self._send(protocol.VirtualMicChanged(mic is not None, DESCRIPTION, SOURCE_NAME, mic.dropped if mic else 0))

    def _collect_models(self) -> None:
        done = [f for f in self.pending if f.done()]
        if not done:
            return
        for future in done:
            self.pending.remove(future)
            runner = None
            try:
                runner = future.result()
                self.live.add_model(runner)
            except Exception as exc:  # noqa: BLE001 — a bad file must not stop the engine
                message = str(exc) if isinstance(exc, SpandexError) else f"{type(exc).__name__}: {exc}"
                self._send(protocol.EngineError(message if message.startswith(LOAD_FAILED)
                                                else f"{LOAD_FAILED} — {message}"))
                if runner is not None:  # loaded but refused (a tenth model, another layout): Lava's processes stop
                    with contextlib.suppress(Exception):
                        runner.close()
        self._emit_models()

    # --- events ----------------------------------------------------------------------------------

    def _send(self, event: protocol.Event) -> None:
        self.events.put(event)

    def _emit_models(self) -> None:
        self._send(protocol.ModelsChanged(tuple(model_info(s.runner, i, s.sharpening)
                                                for i, s in enumerate(self.live.slots)),
                                   self.live.playing, len(self.pending), self.loads_taken,
                                   self.slot_commands_taken))

    def _device_lost(self, devices: str, restart: bool) -> None:
        self._send(protocol.DeviceLost(devices, restart))

    def _emit_stream(self) -> None:
        d = self.devices
        s = d.stream
        self._send(protocol.StreamChanged(
            state=d.state, message=d.message, rate=s.rate if s else None,
            input=s.input.key if s and s.input else None,
            output=s.output.key if s and s.output else None,
            file=d.file_source.path if d.file_source else None,
            device_latency_s=s.latency_s if s else 0.0,
            prefill_hops=self.config.prefill_hops, priority=self.priority,
            missing_output=d.wanted_output if d.wanted_output not in (None, protocol.NO_OUTPUT) and not (s and s.output)
            else None,
        ))

    def _emit_status(self) -> None:
        d = self.devices
        s = d.stream
        rate = s.rate if s else SAMPLE_RATE
        ring_s = self.callback.out_ring.available() / rate
        self._send(protocol.Status(
            state=d.state, playing=self.live.playing,
            buffer_latency_s=ring_s + (self.fifo.size / SAMPLE_RATE),
            algorithmic_latency_s=self.live.latency_s,
            device_latency_s=s.latency_s if s else 0.0,
            lost_for_s=(time.monotonic() - d.lost_since) if d.lost_since else 0.0,
        ))


def run_engine(config: EngineConfig, buffer, commands, events, parent_alive=None,
               priority: str = "normal") -> bool:
    """Entry point of the engine (process or thread): run until a :class:`~engine.live.protocol.Shutdown`.
    ``priority`` says how the caller scheduled this thread (reported in the stream events). False: it ended on
    an error, which it has sent as :class:`~engine.live.protocol.Fatal`."""
    engine = AudioEngine(config, SharedBlock(buffer, config), commands, events)
    engine.priority = priority
    if parent_alive is not None:
        engine.parent_alive = parent_alive
    engine.run()
    return engine.fatal is None


def _write_recording(prefix: str, noisy: np.ndarray, denoised: np.ndarray) -> list[Path]:
    folder = Path(prefix).parent
    there = next((p for p in (folder, *folder.parents) if p.exists()), None)  # (the folder, or what it is under)
    if there is not None and not there.is_dir():  # (the writer said "…/rec-input.wav: cannot write: File exists")
        raise SpandexError(f"{there} is a file, not a folder")
    return [write_wav(f"{prefix}-{part}.wav", audio, SAMPLE_RATE, subtype="FLOAT")
            for part, audio in (("input", noisy), ("output", denoised))]
