"""Device supervision for the live engine: which devices it runs on, and what it does when they fail.

:class:`DeviceSupervisor` opens the wanted input and output devices (or a file as the microphone, or the
internal clock when there is no output device), primes the callback's rings for the new stream, and,
called by the worker between hops, watches the stream: when the device is lost (callbacks stop; or, as
JACK/PipeWire do on unplug, the stream runs on, the microphone turned to exact zeros or the output to nowhere, and a
fresh listing no longer has it: a look in a child process every PRESENCE_S) it says so, runs on without it, and
reopens the device when it returns, retrying with a growing delay.

Runs on the engine's worker thread only (it allocates, and PortAudio's device functions are not
thread-safe); the callback sees only the attributes it sets between blocks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.constants import HOP, SAMPLE_RATE
from engine.errors import SpandexError
from engine.files.audio import load_audio, resample
from engine.live import devices as audio_device
from engine.live.callback import AudioCallback, LoopingSource
from engine.live.device_watch import GONE, DeviceWatch
from engine.live.devices import InternalClock, OpenStream
from engine.live.protocol import NO_OUTPUT, EngineConfig
from engine.live.record import CLOCK_LATE, DEVICE_LOSSES


class DeviceSupervisor:
    """Owns the open stream and the file source; :meth:`open` (re)opens, :meth:`supervise` watches."""

    STALL_S = 1.0        # no callback for this long: the device is gone
    SILENT_S = 2.0       # a microphone that sent sound and then exact zeros this long: unplugged or muted?
    RETRY_S = 1.0        # first retry after a device is missing; doubles up to MAX_RETRY_S
    MAX_RETRY_S = 8.0
    CLOSE_TIMEOUT_S = 1.0
    OUTPUT_LOOK_S = 3.0  # a missing output device (the microphone running) is looked for after this; doubles
    MAX_OUTPUT_LOOK_S = 30.0
    PRESENCE_S = 5.0     # a running JACK stream's devices are looked for this often: unplugged, its stream runs on
    MAX_EXTRA_HOPS = 3   # output that piles up beyond the prefill after late hops, before it is trimmed

    def __init__(self, config: EngineConfig, callback: AudioCallback, counters: np.ndarray,
                 on_open: Callable[[int], None], on_change: Callable[[], None],
                 on_lost: Callable[[str, bool], None]) -> None:
        """``on_open(rate)``: a stream at ``rate`` opened (the worker sets its resamplers);
        ``on_change()``: the stream's state or message changed; ``on_lost(devices, restart)``: a device
        was lost (``restart``: PortAudio is stuck, a fresh engine process is needed)."""
        self.config = config
        self.callback = callback
        self.counters = counters
        self.on_open = on_open
        self.on_change = on_change
        self.on_lost = on_lost
        self.stream: OpenStream | None = None
        self.wanted_input = config.input
        self.wanted_output = config.output
        self.file_source: LoopingSource | None = None
        self.file_is_fallback = False
        self.state = "starting"
        self.message = ""
        self.notes: list[str] = []
        self.lost_since: float | None = None
        self.next_retry = 0.0
        self.retry_delay = self.RETRY_S
        self.portaudio_stuck = False  # a lost stream could not be closed: PortAudio is off limits
        self.heard_at: float | None = None  # when the microphone last sent a nonzero sample
        self.silent_input: str | None = None  # a present microphone that sends only zeros
        self.clock_late_counted = 0  # of the internal clock now running, its late ticks already counted
        self.file_audio: tuple[str, np.ndarray] | None = None  # the file playing as the microphone, read once
        self.output_missing = False  # the microphone runs without the wanted output device
        self.output_look: DeviceWatch | None = None  # a look for it under way (engine/live/device_watch.py)
        self.output_look_delay = self.OUTPUT_LOOK_S
        self.next_output_look = 0.0
        self.presence_look: DeviceWatch | None = None  # a look for the running stream's devices (JACK) under way
        self.next_presence_look = 0.0

    # --- what the worker asks for ----------------------------------------------------------------

    @property
    def plays_output(self) -> bool:
        """Whether the worker should fill the output ring (a device, or the internal clock, reads it)."""
        s = self.stream
        return s is not None and (s.output is not None or isinstance(s.stream, InternalClock))

    def heard(self, data: np.ndarray) -> None:
        """Note input that arrived from the microphone: sound again after silence clears "muted?"."""
        if self.file_source is None and self.stream is not None and self.stream.input is not None \
                and np.any(data):
            self.heard_at = time.monotonic()
            if self.silent_input is not None:  # sound again: the muted microphone is back
                self.silent_input = None
                self.message = "; ".join(self.notes)
                self.on_change()

    def use_input(self, device: str | None) -> None:
        """Take the microphone from ``device`` (None: the default) instead of any file."""
        self.wanted_input = device
        self.file_is_fallback = False
        self.file_source = None
        self.callback.source = None
        self.open()

    def use_file(self, path: str) -> None:
        """Play ``path`` (looping) as the microphone."""
        self.set_file(path)
        self.file_is_fallback = False
        self.open()

    def use_output(self, device: str | None) -> None:
        self.wanted_output = device
        self.output_missing = False  # another device: looked for from the first delay again, should it be missing
        self.open()

    def set_file(self, path: str) -> None:
        """Read ``path`` (at 16 kHz, kept: a reopen at another rate resamples it again, not re-reads it)."""
        rate = self.stream.rate if self.stream is not None else SAMPLE_RATE
        self.file_audio = (path, load_audio(path))
        self.file_source = LoopingSource(self._file_audio(path, rate), path)
        self.callback.source = self.file_source

    # --- opening ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the wanted devices; without an output device (or any device), the internal clock."""
        self.close()
        self.heard_at = None  # (a new stream: its microphone, if any, has sent nothing yet)
        was_missing, self.output_missing = self.output_missing, False
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
                self.set_file(self.config.fallback_file)
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
                alone = self._microphone_alone(in_dev) if out_dev is not None else None
                if alone is not None and out_dev is not None:
                    # the output device is listed but does not open (busy, still connecting after a look found
                    # it): the microphone runs alone, and the device is looked for again
                    stream = alone
                    problems.append(f"the output device {out_dev.key} does not open ({exc})")
                elif in_dev is not None and self.config.fallback_file and self.wanted_input is None:
                    # the default microphone is listed but does not open: the demo clip instead
                    self.notes.append(f"the microphone {in_dev.key} does not open ({exc}): playing "
                                      f"{Path(self.config.fallback_file).name} as the microphone")
                    self.set_file(self.config.fallback_file)
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
        self._prime_callback(stream.rate)
        if isinstance(stream.stream, InternalClock):
            stream.stream.start()
        self.stream = stream
        self.callback.last_call = time.monotonic()
        if isinstance(stream.stream, InternalClock):
            self.clock_late_counted = 0
            if problems:
                self.state = "no-device"
                self.message = "; ".join(problems) + ": running silently on the internal clock, retrying"
                self.retry_delay = min(2 * self.retry_delay, self.MAX_RETRY_S) if self.lost_since else self.RETRY_S
                self.lost_since = self.lost_since or time.monotonic()
            else:
                self.state, self.message = "internal-clock", "no output device chosen: running silently"
        elif problems:  # the microphone runs, the output device is missing: said once, the microphone left running
            # (reopening the stream to look would be a gap in the sound every retry, for good on a machine with no
            # output device: a child process looks instead, and the stream is reopened only once it is there)
            self.state, self.lost_since = "running", None
            self.message = "; ".join(problems) + ": the denoised sound is not played until it is back"
            self.retry_delay = self.RETRY_S
            self.output_missing = True
            self.output_look_delay = self.OUTPUT_LOOK_S if not was_missing else self.output_look_delay
            self.next_output_look = time.monotonic() + self.output_look_delay
        else:
            self.state, self.message, self.lost_since = "running", "", None
            self.retry_delay = self.RETRY_S
        if self.file_is_fallback and self.wanted_input is not None and self.state == "running":
            self.state = "no-device"  # a chosen microphone is missing: keep looking for it
        self.message = "; ".join(self.notes + ([self.message] if self.message else []))
        self.next_retry = time.monotonic() + self.retry_delay
        self.next_presence_look = time.monotonic() + self.PRESENCE_S
        self.on_change()

    def _prime_callback(self, rate: int) -> None:
        """Empty both rings and put the prefill (the worker's deadline) of silence in the output ring."""
        callback = self.callback
        prefill = int(round(self.config.prefill_hops * HOP * rate / SAMPLE_RATE))
        callback.in_ring.skip(callback.in_ring.available())
        callback.out_ring.skip(callback.out_ring.available())
        callback.out_ring.write(np.zeros(prefill, dtype=np.float32))
        callback.target_fill = prefill
        callback.rate = rate
        callback.last_stream_time = 0.0
        callback.max_fill = prefill + int(round(self.MAX_EXTRA_HOPS * HOP * rate / SAMPLE_RATE))

    def _configure_rate(self, rate: int) -> None:
        if self.file_source is not None:
            self.file_source = LoopingSource(self._file_audio(self.file_source.path, rate), self.file_source.path)
            self.callback.source = self.file_source
        self.on_open(rate)

    def _file_audio(self, path: str, rate: int) -> np.ndarray:
        audio = self.file_audio[1] if self.file_audio and self.file_audio[0] == path else load_audio(path)
        return audio if rate == SAMPLE_RATE else resample(audio, SAMPLE_RATE, rate)

    def close(self) -> None:
        self._stop_looks()
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def _stop_looks(self) -> None:
        for look in (self.output_look, self.presence_look):
            if look is not None:
                look.stop()
        self.output_look = self.presence_look = None

    # --- watching --------------------------------------------------------------------------------

    def supervise(self, now: float) -> None:
        """Between hops: notice a lost or silent device, and retry a missing one when it is time."""
        stream = self.stream
        if stream is None:
            return
        if isinstance(stream.stream, InternalClock):
            late = stream.stream.late  # (added, not copied: Reset zeroes the counter, a new clock its own count)
            self.counters[CLOCK_LATE] += late - self.clock_late_counted
            self.clock_late_counted = late
            if self.state == "no-device" and now >= self.next_retry and not self.portaudio_stuck:
                self.open()  # is the device back?
            return
        if stream.active and now - self.callback.last_call < self.STALL_S:
            if self.state == "no-device" and now >= self.next_retry:
                self.open()  # a chosen microphone is missing (a file plays instead): is it back?
            elif self.heard_at is not None and stream.input is not None and now - self.heard_at > self.SILENT_S:
                self._input_went_silent(stream)
            elif self.output_missing and now >= self.next_output_look:
                self._look_for_output(now)
            elif now >= self.next_presence_look and _on_jack(stream):
                self._look_for_stream_devices(now, stream)
            return
        names = self._stream_lost(now, stream)
        self.stream = None
        closer = threading.Thread(target=stream.close, name="spandex-close-lost-stream", daemon=True)
        closer.start()
        closer.join(self.CLOSE_TIMEOUT_S)
        if closer.is_alive():
            # PortAudio hangs closing a stream whose server died (seen with JACK on PipeWire); it would
            # hang again when re-initialised. Keep the app running on the internal clock and ask the
            # host to start a fresh engine process, which finds the device when it is back.
            self.portaudio_stuck = True
            self.on_lost(names, True)
        else:
            self.on_lost(names, False)
        self.open()

    def _microphone_alone(self, in_dev) -> OpenStream | None:
        """A stream on the microphone ``in_dev`` only, or None (none given, or it does not open either)."""
        if in_dev is None:
            return None
        try:
            return audio_device.open_stream(in_dev, None, self.callback)
        except SpandexError:
            return None

    def _look_for_output(self, now: float) -> None:
        """Start a look for the missing output device, or take its answer: there, the stream is reopened with it;
        not, the next look comes after a longer delay (up to MAX_OUTPUT_LOOK_S)."""
        if self.output_look is None:
            self.output_look = DeviceWatch(("output", self.wanted_output))
            return
        found = self.output_look.found()
        if found is None:
            return
        self.output_look = None
        self.output_look_delay = min(2 * self.output_look_delay, self.MAX_OUTPUT_LOOK_S)
        self.next_output_look = now + self.output_look_delay
        if found:  # (should this process's PortAudio still not list it, the next look comes later still)
            self.open()

    def _look_for_stream_devices(self, now: float, stream: OpenStream) -> None:
        """Start a look for the devices the stream runs on, or take its answer: one gone (unplugged: JACK keeps the
        stream running on ports connected to nothing, silent) is a device lost; the stream is opened again, without
        it, and the device is looked for until it is back."""
        if self.presence_look is None:
            self.presence_look = DeviceWatch(*((kind, d.key) for kind, d in (("input", stream.input),
                                                                               ("output", stream.output)) if d))
            return
        answer = self.presence_look.answer()
        if answer is None:
            return
        self.presence_look = None
        self.next_presence_look = now + self.PRESENCE_S
        if answer == GONE:  # (a look that failed or hung says nothing of the devices: the next one is asked)
            self.on_lost(self._stream_lost(now, stream), False)
            self.open()

    def _stream_lost(self, now: float, stream: OpenStream) -> str:
        """Count the loss of ``stream``'s device(s), lost ``now``, and time the first retry; the devices' names."""
        self.counters[DEVICE_LOSSES] += 1
        self.lost_since = now
        self.retry_delay = self.RETRY_S / 2  # the first retry (doubled in open) comes after RETRY_S
        return " / ".join(d.key for d in (stream.input, stream.output) if d is not None)

    def _input_went_silent(self, stream: OpenStream) -> None:
        """The microphone sent sound, then only exact zeros for SILENT_S. JACK and PipeWire keep a stream
        running when its device is unplugged (the removed port reads as zeros), so reopen — which
        lists the devices again — to tell an unplugged microphone (device lost) from a muted one."""
        assert stream.input is not None
        name = stream.input.key
        self.heard_at = None
        self.open()
        if self.stream is not None and self.stream.input is not None and self.stream.input.key == name:
            self.silent_input = name
            self.message = "; ".join(self.notes + [f"{name} sends only silence: muted?"])
            self.on_change()
        else:
            self.counters[DEVICE_LOSSES] += 1
            self.lost_since = self.lost_since or time.monotonic()
            self.on_lost(name, False)


def _on_jack(stream: OpenStream) -> bool:
    """Whether the stream runs on JACK (PipeWire's too), where an unplugged device does not stop it."""
    return any(d is not None and d.hostapi.startswith("JACK") for d in (stream.input, stream.output))
