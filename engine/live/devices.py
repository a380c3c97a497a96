"""Audio devices through PortAudio (python-sounddevice): listing, opening, and an internal clock.

:func:`open_stream` opens a callback stream on the chosen input and/or output device, at 16 kHz
if the device takes it, else at the device's own rate (the engine resamples). :class:`InternalClock`
stands in for a device when there is no output device (a machine without a sound card, CI): it calls
the same callback at the same pace from a thread, so the app runs — silently — with the file source.

PortAudio lists devices once, when it is initialised: :func:`rescan` re-initialises it to see devices
that appeared or disappeared. Only one thread (the engine's worker) may call the functions here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sounddevice as sd

from engine.constants import HOP, SAMPLE_RATE
from engine.errors import SpandexError
from engine.live.record import status_bits

Callback = Callable[[np.ndarray | None, np.ndarray | None, int, int, float], None]
"""``callback(indata, outdata, frames, status_flags, stream_time)``; ``indata``/``outdata`` are
(frames, channels); ``stream_time`` is the stream's clock in seconds (PortAudio's currentTime)."""

MAX_PLAUSIBLE_LATENCY_S = 2.0
"""Device latency above this is a host-API error, not buffering: reported as unknown (0)."""


@dataclass(frozen=True)
class DeviceInfo:
    """A device PortAudio lists. ``key`` ("name (host API)") identifies it across rescans."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float

    @property
    def key(self) -> str:
        return f"{self.name} ({self.hostapi})"


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio knows now (call :func:`rescan` first to see changes)."""
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError:
        return []
    return [DeviceInfo(d["index"], d["name"], hostapis[d["hostapi"]]["name"], d["max_input_channels"],
                       d["max_output_channels"], float(d["default_samplerate"])) for d in devices]


def rescan() -> None:
    """Re-initialise PortAudio so that it lists the devices present now. No stream may be open."""
    terminate()
    sd._initialize()


def terminate() -> None:
    """Release PortAudio (before a JACK/PipeWire server it talks to goes away); a no-op once released (an engine
    that ran before in this process, as engines in threads do, released it)."""
    if sd._initialized:
        sd._terminate()


def find_device(key: str | None, kind: str) -> DeviceInfo | None:
    """The device named by ``key`` (a :attr:`DeviceInfo.key`, a name, or ``None`` for the default).

    ``kind`` is "input" or "output". Returns None when no such device (with such channels) exists.
    """
    devices = list_devices()
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [d for d in devices if getattr(d, channels) > 0]
    if key is None:
        try:
            index = sd.default.device[0 if kind == "input" else 1]
            if index is None or index < 0:
                index = sd.query_devices(kind=kind)["index"]
        except (sd.PortAudioError, ValueError):
            return usable[0] if usable else None
        return next((d for d in usable if d.index == index), usable[0] if usable else None)
    for match in (lambda d: d.key == key, lambda d: d.name == key, lambda d: d.name.startswith(key)):
        found = [d for d in usable if match(d)]
        if found:
            return found[0]
    return None


@dataclass
class OpenStream:
    """A running device stream: ``stream`` is None for the internal clock."""

    stream: sd.Stream | sd.InputStream | sd.OutputStream | InternalClock
    rate: int
    blocksize: int
    input: DeviceInfo | None
    output: DeviceInfo | None
    latency_s: float  # what the host API reports for input + output buffering (0: unknown, as under JACK)

    @property
    def active(self) -> bool:
        return bool(self.stream.active)

    def close(self) -> None:
        """Stop at once (no draining) and release the device. May hang if the sound server died."""
        if isinstance(self.stream, InternalClock):
            self.stream.stop()
            return
        for step in (self.stream.abort, self.stream.close):
            try:
                step()
            except sd.PortAudioError:
                pass


def open_stream(input: DeviceInfo | None, output: DeviceInfo | None, callback: Callback,
                finished: Callable[[], None] | None = None) -> OpenStream:
    """Open and start a callback stream on ``input`` and/or ``output`` (mono), at 16 kHz if possible.

    Falls back to the devices' default rate when 16 kHz is refused (e.g. a JACK graph at 48 kHz).
    Raises :class:`SpandexError` with PortAudio's reason if neither works.
    """
    if input is None and output is None:
        raise SpandexError("no input or output device to open")

    def pa_callback(indata, outdata, frames, time, status):
        callback(indata, outdata, frames, status_bits(status) if status else 0, time.currentTime)

    def plain_in(indata, frames, time, status):
        callback(indata, None, frames, status_bits(status) if status else 0, time.currentTime)

    def plain_out(outdata, frames, time, status):
        callback(None, outdata, frames, status_bits(status) if status else 0, time.currentTime)

    rates = [SAMPLE_RATE]
    for device in (input, output):
        if device is not None and int(device.default_samplerate) not in rates:
            rates.append(int(device.default_samplerate))
    errors = []
    for rate in rates:
        blocksize = HOP if rate == SAMPLE_RATE else 0
        common = dict(samplerate=rate, blocksize=blocksize, channels=1, dtype="float32", latency="low",
                      finished_callback=finished)
        try:
            if input is not None and output is not None:
                stream = sd.Stream(device=(input.index, output.index), callback=pa_callback, **common)
            elif input is not None:
                stream = sd.InputStream(device=input.index, callback=plain_in, **common)
            else:
                assert output is not None  # one of the two is always given
                stream = sd.OutputStream(device=output.index, callback=plain_out, **common)
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            errors.append(f"{rate} Hz: {exc}")
            continue
        latency = stream.latency
        latency_s = float(sum(latency)) if isinstance(latency, tuple) else float(latency)
        if not 0.0 <= latency_s < MAX_PLAUSIBLE_LATENCY_S:
            latency_s = 0.0  # unknown: PortAudio's JACK API reported 536870.9 s after a port came back
        return OpenStream(stream, rate, blocksize, input, output, latency_s)
    names = " / ".join(d.key for d in (input, output) if d is not None)
    raise SpandexError(f"cannot open {names}: {'; '.join(errors)}")


class InternalClock:
    """Calls ``callback(None, outdata, HOP, 0, 0.0)`` every 8 ms from a thread: a device-less stream.

    The output goes nowhere. Wake-ups more than one hop late are counted in :attr:`late`.
    """

    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self.outdata = np.zeros((HOP, 1), dtype=np.float32)
        self.late = 0
        self.active = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spandex-internal-clock", daemon=True)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def _run(self) -> None:
        period = HOP / SAMPLE_RATE
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif -delay > period:
                self.late += 1
                deadline = time.monotonic()  # do not burst to catch up
            self.callback(None, self.outdata, HOP, 0, 0.0)
        self.active = False

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)

    def close(self) -> None:
        self.stop()
