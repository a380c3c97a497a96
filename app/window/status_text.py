"""What the window's words say: the status lines (stream, latency, xruns, frame rate, recording, virtual
microphone), the notices (a lagging Lava slot, a lost device, no model loaded) and the record folder's label.

Plain functions from the engine's events and counters to text, no Qt: the window's text timer sets the
status labels a few times a second, apart from the plots; the controller (:mod:`app.window.controller`)
sets the lines that answer an engine event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.plots.frame_history import FrameHistory
from engine.constants import HOP, SAMPLE_RATE
from engine.live import protocol
from engine.live.paced import MAX_BACKLOG, Fallback
from engine.live.record import xruns


def _times(speed: float) -> str:
    return f"{speed:.2g}× real time"


def pace_line(slot: int, info: protocol.ModelInfo, speed: float, share: float, state: Fallback) -> str:
    """One slot's notice: how fast Lava runs and where the audio comes from (``share``: hops from the twin)."""
    who = f"Slot {slot + 1} · {info['name']}"
    cpu = f"audio from the CPU backend ({info['twin']}, bit-identical masks)"
    if state == Fallback.FAILED:
        return f"{who}: Lava stopped with an error — {cpu}."
    if state == Fallback.OUT_OF_STEP:
        seconds = MAX_BACKLOG * HOP / SAMPLE_RATE
        return (f"{who}: Lava fell more than {seconds:g} s behind and was restarted ({_times(speed)}) — {cpu}; "
                "Reset (R) brings Lava back in step.")
    if math.isnan(speed):
        return f"{who}: Lava has not answered yet — {cpu}."
    if speed < 1.0:
        return f"{who}: Lava is running at {_times(speed)} — {cpu}."
    return (f"{who}: Lava keeps up on average ({_times(speed)}) but was late on {share:.0%} of the last "
            f"second's hops — for those, {cpu}.")


def pace_notice(models: Sequence[protocol.ModelInfo], history: FrameHistory) -> str:
    """Lines for every Lava slot that used its CPU twin in the last second; empty when none did."""
    lines = []
    for slot, info in enumerate(models):
        if info.get("twin"):
            speed, share, state = history.pace_summary(slot)
            if share > 0:
                lines.append(pace_line(slot, info, speed, share, state))
    return "\n".join(lines)


STATE_WORDS = {"running": "running", "internal-clock": "internal clock", "no-device": "sound device missing, looking for it"}
MICROPHONE_MISSING = "microphone missing, looking for it"
"""The state's words where the device missing is the microphone alone (the output plays: the demo clip, or silence)."""


def stream_line(event: protocol.StreamChanged) -> str:
    """Where the sound comes from and goes to, at what rate, and the engine's message."""
    if event.state == "no-device" and event.output:
        text = MICROPHONE_MISSING
    else:
        text = STATE_WORDS.get(event.state, event.state)
    where = event.file and f"file {Path(event.file).name}" or event.input or "—"
    rate = f" at {event.rate / 1000:g} kHz" if event.rate else ""
    resampled = " (resampled to 16 kHz)" if event.rate and event.rate != SAMPLE_RATE else ""
    return f"{text}: {where} → {event.output or 'no output'}{rate}{resampled}. {event.message}"


BLIND_LATENCY = "latency hidden during the blind test"
"""The latency line in an ABX test: each model's own latency would tell which one X is."""


def latency_line(status: protocol.Status) -> str:
    """The latency as measured: algorithmic (STFT, late runners) + output buffer (+ device, when known)."""
    device = status.device_latency_s
    device_text = f" + device {device * 1e3:.0f} ms" if 0 < device < 1 else ""
    return (f"latency {status.algorithmic_latency_s * 1e3:.0f} ms algorithmic + "
            f"{status.buffer_latency_s * 1e3:.0f} ms buffer{device_text}")


def xrun_line(counters: dict[str, int], callback_us: Sequence[float], on_device: bool) -> str:
    """Xruns, late worker hops, and the 99th percentile of the audio callback's (or clock tick's) time."""
    p99 = np.percentile(callback_us, 99) if len(callback_us) else 0.0
    driver = "callback" if on_device else "clock tick"
    rarer = "".join(f" · {name} {counters[key]}" for key, name in _RARER_GLITCHES if counters.get(key))
    return (f"xruns {xruns(np.array([counters[k] for k in counters]))} · worker late {counters['ring_late']}"
            f"{rarer} · {driver} p99 {p99:.0f} µs")


_RARER_GLITCHES = (("latency_trims", "latency trimmed"), ("input_dropped", "input dropped"),
                   ("clock_late", "clock late"), ("device_losses", "device lost"))
"""Counters the xrun line shows once they are not zero (what each counts: :data:`engine.live.record.COUNTERS`)."""


def xrun_details(counters: dict[str, int]) -> str:
    """Every glitch counter by name (the xrun line's tooltip); Reset (R) zeroes them."""
    return "\n".join(f"{key.replace('_', ' ')}: {value}" for key, value in counters.items()
                     if key not in ("callbacks", "hops")) + "\n(Reset, R, zeroes them)"


def fps_line(fps: float) -> str:
    """The plot timer's measured rate."""
    return f"GUI {fps:.0f} fps"


STARTING = "starting the audio engine…"
"""The status line before the engine has said anything."""
RESTARTING = "restarting the audio engine after the sound server went away…"
"""The status line while a fresh engine process starts (:class:`engine.live.protocol.EngineRestarted`)."""


def recording_line(max_seconds: float, folder: Path) -> str:
    """A recording has begun: how long it may run, and where its files will go."""
    return f"recording (at most {max_seconds / 60:.0f} min) — files will go to {folder}"


def recorded_line(seconds: float, paths: Sequence[str]) -> str:
    """A recording is written: its length and its files."""
    return f"recorded {seconds:.1f} s: {', '.join(paths)}"


def virtual_mic_line(name: str) -> str:
    """The virtual microphone is published: what to pick in a call or streaming app."""
    return f"virtual microphone on: pick \"{name}\" as the microphone in your call or streaming app"


def device_lost_notice(devices: str) -> str:
    """An audio device went away (``devices``: "input / output")."""
    return (f"Audio device lost ({devices}). SPANDEX keeps running and will "
            "resume when the device is back — or pick another one.")


def abx_notice(problem: str) -> str:
    """Why a blind test could not start."""
    return f"ABX: {problem} (choose two different models as A and B)"


NO_MODEL_TEXT = ("<b>No model loaded.</b> Open a model file (Open model… in the A/B tab, or Ctrl+O) or start "
                 "with <code>spandex --model NAME|PATH</code>. Until then you hear the input unprocessed.")


def starting_text(n_models: int) -> str:
    """The banner until the engine first speaks (rich text): a window that waits says what it waits for."""
    models = f" and loading {n_models} model{'s' if n_models != 1 else ''}" if n_models else ""
    return (f"<b>Starting the audio engine{models}…</b> On a busy machine this takes up to tens of seconds; "
            "the plots start as soon as it runs.")


def no_model_text(load_error: str) -> str:
    """The no-model banner (rich text), with why the last model did not load when one did not."""
    why = f"<br>{load_error}" if load_error else ""
    return NO_MODEL_TEXT + why


FOLDER_CHARS = 32
"""The record folder as the toolbar shows it: at most this many characters (the whole path in its tooltip)."""


def folder_label(folder: Path) -> str:
    """The record folder's toolbar label: ``~`` for home, cut at the front to :data:`FOLDER_CHARS`."""
    text = str(folder).replace(str(Path.home()), "~", 1)
    if len(text) > FOLDER_CHARS:
        text = "…" + text[-(FOLDER_CHARS - 1):]
    return f"to {text}"
