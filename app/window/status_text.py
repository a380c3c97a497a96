"""The sentence the window shows while a Lava slot is not keeping up and its CPU twin supplies the audio."""

from __future__ import annotations

import math

from app.frame_history import FrameHistory
from engine.constants import HOP, SAMPLE_RATE
from engine.live.paced import MAX_BACKLOG, Fallback


def _times(speed: float) -> str:
    return f"{speed:.2g}× real time"


def pace_line(slot: int, info: dict, speed: float, share: float, state: Fallback) -> str:
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


def pace_notice(models: list[dict], history: FrameHistory) -> str:
    """Lines for every Lava slot that used its CPU twin in the last second; empty when none did."""
    lines = []
    for slot, info in enumerate(models):
        if info.get("twin"):
            speed, share, state = history.pace_summary(slot)
            if share > 0:
                lines.append(pace_line(slot, info, speed, share, state))
    return "\n".join(lines)
