"""What the window's status lines say: the stream, the latency, the xruns, and a lagging Lava slot.

Plain functions from the engine's events and counters to text, no Qt: the window sets the labels a few
times a second (its text timer), apart from the plots.
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


STATE_WORDS = {"running": "running", "internal-clock": "internal clock", "no-device": "waiting for the device"}


def stream_line(event: protocol.StreamChanged) -> str:
    """Where the sound comes from and goes to, at what rate, and the engine's message."""
    text = STATE_WORDS.get(event.state, event.state)
    where = event.file and f"file {Path(event.file).name}" or event.input or "—"
    rate = f" at {event.rate / 1000:g} kHz" if event.rate else ""
    resampled = " (resampled to 16 kHz)" if event.rate and event.rate != SAMPLE_RATE else ""
    return f"{text}: {where} → {event.output or 'no output'}{rate}{resampled}. {event.message}"


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
    return (f"xruns {xruns(np.array([counters[k] for k in counters]))} · worker late {counters['ring_late']}"
            f" · {driver} p99 {p99:.0f} µs")
