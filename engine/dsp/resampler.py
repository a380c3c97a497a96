"""Streaming polyphase resampling between a device's rate and the engine's 16 kHz.

:class:`StreamingResampler` converts a stream block by block with state, for any rational ratio
(48 kHz ↔ 16 kHz, 44.1 kHz ↔ 16 kHz, ...). The filter is the one ``scipy.signal.resample_poly`` uses
(Kaiser window, β = 5, half-length 10 per phase), so a whole signal streamed through it equals
``resample_poly``'s result delayed by :attr:`StreamingResampler.delay` output samples.

Not for the audio callback (it allocates): the engine's worker thread resamples.
"""

from __future__ import annotations

import math

import numpy as np


class StreamingResampler:
    """Resample a stream from ``from_rate`` to ``to_rate`` Hz; :meth:`process` any block length."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        g = math.gcd(int(from_rate), int(to_rate))
        self.up, self.down = int(to_rate) // g, int(from_rate) // g
        self.identity = self.up == self.down
        self.delay = 0.0
        """Output samples by which the stream lags ``resample_poly`` (may be fractional)."""
        if self.identity:
            self.n_taps = 1
            self.reset()
            return
        from scipy.signal import firwin  # about a second to import: only when a stream is resampled

        max_rate = max(self.up, self.down)
        half = 10 * max_rate
        taps = firwin(2 * half + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * self.up
        n_per_phase = -(-taps.size // self.up)
        padded = np.zeros(n_per_phase * self.up)
        padded[:taps.size] = taps
        # phases[p, k] = h[p + k*up]: output j uses input x[i0 - k] with i0 = j*down // up, p = j*down % up
        self.phases = padded.reshape(n_per_phase, self.up).T.copy()
        self.n_taps = n_per_phase
        self.delay = half / self.down
        self.reset()

    def reset(self) -> None:
        self.history = np.zeros(self.n_taps - 1)
        self.inputs_seen = 0   # absolute index of the next input sample
        self.outputs_made = 0  # absolute index of the next output sample

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed ``block`` (float samples); return every output sample it completes (float64)."""
        block = np.asarray(block, dtype=np.float64)
        if self.identity:
            return block.copy()
        buffer = np.concatenate([self.history, block])
        base = self.inputs_seen - self.history.size  # absolute index of buffer[0]
        self.inputs_seen += block.size
        # outputs j whose newest input i0 = j*down // up has arrived
        last = (self.inputs_seen * self.up - 1) // self.down
        j = np.arange(self.outputs_made, last + 1, dtype=np.int64)
        self.outputs_made = last + 1
        self.history = buffer[-(self.n_taps - 1):] if self.n_taps > 1 else buffer[:0]
        if j.size == 0:
            return np.zeros(0)
        t = j * self.down
        i0, phase = t // self.up - base, t % self.up
        windows = buffer[i0[:, None] - np.arange(self.n_taps)[None, :]]
        return np.einsum("jk,jk->j", windows, self.phases[phase])
