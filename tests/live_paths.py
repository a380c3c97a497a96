"""What the live denoiser (engine/live/denoiser.py) plays for a signal, for tests that hold it to the offline path."""

from __future__ import annotations

import numpy as np

from engine.constants import HOP
from engine.live.denoiser import LiveDenoiser


def heard(live: LiveDenoiser, slot: int, audio: np.ndarray) -> np.ndarray:
    """``audio`` (whole hops of it) through ``live`` from a fresh start, slot ``slot`` heard from the first hop on (no
    crossfade): the output, LATENCY_SAMPLES behind the input as the live path is."""
    live.reset()
    live.select(slot)
    live.fading_from = None
    hops = audio[: audio.size // HOP * HOP].reshape(-1, HOP)
    return np.concatenate([live.process(hop) for hop in hops])
