"""Sigma-delta neuron dynamics as pure step functions: ``step(x, state, params) -> (y, state)``.

One call advances one time step (one STFT frame). States are small typed records that the caller owns,
so several models can run side by side, be reset, or be swapped between frames. The functions return
fresh arrays and never mutate their inputs — except :func:`delay_step`, whose ring of future frames
(up to 65 x 512 values) is updated in place rather than copied every frame.

The arithmetic is lava-dl SLAYER's (``slayer.axon.delta``, ``slayer.dendrite.sigma``) on its
fixed-point grid. Every value is a dyadic rational with few significant bits — spikes are multiples of
2^-12, weights of 2^-5 — so float64 holds all of them, and every sum of them, exactly: the streaming
engine reproduces slayer's float64 forward pass bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.snn.model import SPIKE_STEP


@dataclass(frozen=True)
class DeltaParams:
    """Delta encoder parameters: send the change once it reaches ``threshold``, on a ``step`` grid."""

    threshold: float
    step: float = SPIKE_STEP


@dataclass(frozen=True)
class DeltaState:
    """What a delta encoder remembers: the last input it saw and the change it has not yet sent."""

    previous: np.ndarray
    residual: np.ndarray

    @classmethod
    def zeros(cls, size: int) -> DeltaState:
        return cls(np.zeros(size), np.zeros(size))


def delta_step(x: np.ndarray, state: DeltaState, params: DeltaParams) -> tuple[np.ndarray, DeltaState]:
    """Delta encoding with residual: emit the accumulated change when ``|change| >= threshold``.

    ``change = x - previous + residual``; the emitted graded spike is the change floored to the spike
    grid; whatever was not emitted (before flooring, as in slayer) stays in the residual.
    """
    change = x - state.previous + state.residual
    sent = np.where(np.abs(change) >= params.threshold, change, 0.0)
    spikes = np.floor(sent / params.step) * params.step
    return spikes, DeltaState(previous=x, residual=change - sent)


@dataclass(frozen=True)
class SigmaState:
    """A sigma unit's running sum of its synaptic input."""

    total: np.ndarray

    @classmethod
    def zeros(cls, size: int) -> SigmaState:
        return cls(np.zeros(size))


def sigma_step(x: np.ndarray, state: SigmaState) -> tuple[np.ndarray, SigmaState]:
    """Accumulate: the sigma unit reconstructs the signal its delta-encoded input stands for."""
    total = state.total + x
    return total, SigmaState(total)


def quantize_input(x: np.ndarray, step: float) -> np.ndarray:
    """Round to the input grid, half to even (``torch.round``/``np.round`` agree on ties)."""
    return np.round(x / step) * step


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


@dataclass(frozen=True)
class DelayParams:
    """Per-neuron delay in frames, including the 1-frame shift every dense block adds."""

    frames: np.ndarray

    @property
    def length(self) -> int:
        return int(self.frames.max()) + 1 if self.frames.size else 1


@dataclass
class DelayState:
    """A ring of future frames: ``slots[(t + d) % length]`` holds what leaves at time ``t + d``.

    Mutable: :func:`delay_step` advances it in place.
    """

    slots: np.ndarray
    now: int

    @classmethod
    def zeros(cls, size: int, params: DelayParams) -> DelayState:
        return cls(np.zeros((params.length, size)), 0)


def delay_step(x: np.ndarray, state: DelayState, params: DelayParams) -> tuple[np.ndarray, DelayState]:
    """Axonal delay line: neuron ``i``'s value leaves ``params.frames[i]`` steps after it entered.

    A delay of 0 passes the value straight through. Values never collide: each neuron has one delay.
    ``state`` is advanced in place and returned.
    """
    slots = state.slots
    length = slots.shape[0]
    slots[(state.now + params.frames) % length, np.arange(x.shape[0])] = x
    out = slots[state.now].copy()
    slots[state.now] = 0.0
    state.now = (state.now + 1) % length
    return out, state
