"""Input level normalisation: the network hears every microphone at about one level.

The SDNN's input is |STFT| − 0.2, quantised to 1/64 and delta-encoded with a fixed threshold, so what it sees
depends on the level of the sound: trained on speech at −38 … −12 dBFS, it denoises a −45 dBFS microphone
about 1 dB worse, and the official N-DNS baseline about 2 dB worse (docs/training.md). A model whose input
encoder carries :class:`LevelParams` hears each magnitude frame multiplied by a gain that brings the running
level of the frames' power to ``target_db``. The gain follows slowly (a fast attack, a slow release) and moves
in steps of 1/8 octave, so it changes the network's input rarely and by exact factors; the mask is still
applied to the unscaled spectrum, so the output keeps the input's own level.

The level follows a pure step function over typed state (``step(power, state, params) -> (gain, state)``):
the streaming engine calls it once per frame (:class:`LevelNormaliser`), training once per frame for a whole
batch (:func:`frame_gains`); both compute the same gains from the same frame powers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

GAIN_STEPS_PER_OCTAVE = 8
"""Gains are ``2 ** (k / 8)`` for integer ``k``: exact, and the same in every path that computes them."""

_DB_PER_STEP = 20.0 * np.log10(2.0) / GAIN_STEPS_PER_OCTAVE


@dataclass(frozen=True)
class LevelParams:
    """How a model's input is levelled.

    Attributes:
        target_db: the running level the gain aims for: mean |STFT|² per bin of a frame, in dB. (Any signal
            at −25 dBFS has a mean of about +2 dB in this framing; the running level of noisy speech there sits
            higher, near +5.7 dB on the demo clip, so such input is lowered by ~7 dB. Training and inference
            level alike: the target is a choice, not N-DNS's level.)
        attack_frames: time constant, in frames (8 ms each), while the level rises.
        release_frames: time constant, in frames, while it falls.
        max_gain_db: the most a quiet input is raised (silence is not raised without end).
        min_gain_db: the most a loud input is lowered.
    """

    target_db: float = -1.0
    attack_frames: float = 12.5
    release_frames: float = 250.0
    max_gain_db: float = 30.0
    min_gain_db: float = -18.0

    def __post_init__(self) -> None:
        if not (self.attack_frames >= 1 and self.release_frames >= 1):
            raise ValueError("level time constants must be at least one frame")
        if not self.min_gain_db <= 0 <= self.max_gain_db:
            raise ValueError("level gain limits must span 0 dB (min_gain_db <= 0 <= max_gain_db)")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class LevelState:
    """The running level (linear power) per stream; NaN before a stream's first frame."""

    level: np.ndarray


def initial_state(streams: int | tuple[int, ...] = ()) -> LevelState:
    return LevelState(level=np.full(streams, np.nan))


def step(power: np.ndarray, state: LevelState, params: LevelParams) -> tuple[np.ndarray, LevelState]:
    """One frame: the gain for each stream's frame of mean power ``power``, and the next state.

    The first frame of a stream sets the level; after it, the level moves towards each frame's power with the
    attack time constant when rising, the release one when falling.
    """
    power = np.asarray(power, dtype=np.float64)
    previous = state.level
    rate = np.where(power > previous, 1.0 / params.attack_frames, 1.0 / params.release_frames)
    level = np.where(np.isnan(previous), power, previous + rate * (power - previous))
    wanted_db = params.target_db - 10.0 * np.log10(np.maximum(level, 1e-20))
    low, high = (np.ceil(params.min_gain_db / _DB_PER_STEP), np.floor(params.max_gain_db / _DB_PER_STEP))
    steps = np.clip(np.round(wanted_db / _DB_PER_STEP), low, high)
    return np.power(2.0, steps / GAIN_STEPS_PER_OCTAVE), LevelState(level=level)


def frame_power(magnitude: np.ndarray) -> np.ndarray:
    """Mean |STFT|² over the bins (the last axis) of each frame."""
    return np.mean(np.square(magnitude), axis=-1)


def frame_gains(powers: np.ndarray, params: LevelParams) -> np.ndarray:
    """The gains of whole sequences at once: ``powers`` (streams, frames) → gains of the same shape."""
    powers = np.asarray(powers, dtype=np.float64)
    gains = np.empty_like(powers)
    state = initial_state(powers.shape[0])
    for t in range(powers.shape[1]):
        gains[:, t], state = step(powers[:, t], state, params)
    return gains


class LevelNormaliser:
    """One stream's levelling: ``scale(magnitude)`` returns the frame the network should hear."""

    def __init__(self, params: LevelParams) -> None:
        self.params = params
        self.state = initial_state()
        self.gain = 1.0

    def reset(self) -> None:
        self.state = initial_state()
        self.gain = 1.0

    def scale(self, magnitude: np.ndarray) -> np.ndarray:
        gain, self.state = step(frame_power(magnitude), self.state, self.params)
        self.gain = float(gain)
        return magnitude * self.gain
