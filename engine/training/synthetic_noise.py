"""Generated noises that add variety to the real recordings: coloured noise, mains hum, fans, babble.

Each returns float32 of the requested length at 16 kHz, unit RMS (the mixer sets the level).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.dsp.mixing import pink_noise

RATE = 16000


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


def white(length: int, rng: np.random.Generator) -> np.ndarray:
    return _unit(rng.standard_normal(length))


def pink(length: int, rng: np.random.Generator) -> np.ndarray:
    return pink_noise(length, rng)


def brown(length: int, rng: np.random.Generator) -> np.ndarray:
    """1/f² noise: integrated white noise, high-passed at 20 Hz so it does not drift."""
    from scipy.signal import butter, sosfilt  # about a second to import: only where the noise is made

    walk = np.cumsum(rng.standard_normal(length))
    return _unit(sosfilt(butter(2, 20, "highpass", fs=RATE, output="sos"), walk))


def hum(length: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum (50 or 60 Hz) with random odd/even harmonics up to ~1 kHz, and a little hiss."""
    base = rng.choice([50.0, 60.0]) * rng.uniform(0.99, 1.01)
    t = np.arange(length) / RATE
    signal = np.zeros(length)
    for k in range(1, int(1000 / base) + 1):
        signal += rng.uniform(0, 1) / k * np.sin(2 * np.pi * k * base * t + rng.uniform(0, 2 * np.pi))
    return _unit(signal + 0.01 * rng.standard_normal(length) * np.std(signal))


def fan(length: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited noise with a slow wobble, like a fan or an air conditioner."""
    from scipy.signal import butter, sosfilt  # about a second to import: only where the noise is made

    low = rng.uniform(80, 400)
    high = rng.uniform(1500, 6000)
    noise = sosfilt(butter(2, [low, high], "bandpass", fs=RATE, output="sos"), rng.standard_normal(length))
    t = np.arange(length) / RATE
    wobble = 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t + rng.uniform(0, 2 * np.pi))
    return _unit(noise * wobble)


GENERATORS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "white": white, "pink": pink, "brown": brown, "hum": hum, "fan": fan,
}
"""The generated noise kinds by name; babble is made by the builder from other speakers' speech."""
