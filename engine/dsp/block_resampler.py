"""Resampling a long signal block by block, giving exactly the samples of one ``resample_poly`` over all of it.

:func:`engine.files.audio.resample` filters a whole signal with ``scipy.signal.resample_poly``. A file hours long
cannot be held in memory, so :class:`BlockResampler` takes it in blocks of any size and runs the same polyphase
filter (the same taps, designed for the same total length) over each stretch of output, with enough input
before and after it that every output sample sums exactly the terms, in exactly the order, that the whole-signal
filter sums: the output is bit-identical, whatever the block sizes. Memory: one block plus the filter's span.
"""

from __future__ import annotations

import math

import numpy as np


class BlockResampler:
    """``push(block) -> output`` for consecutive input blocks of a signal of ``n_in`` samples (float64 out)."""

    def __init__(self, n_in: int, from_rate: int, to_rate: int) -> None:
        g = math.gcd(int(from_rate), int(to_rate))
        self.up, self.down = int(to_rate) // g, int(from_rate) // g
        self.n_in = int(n_in)
        self.n_out = -(-self.n_in * self.up // self.down)
        self.identity = self.up == self.down == 1
        self.taps: np.ndarray
        self.skip: int
        self.taps, self.skip = self._filter() if not self.identity else (np.ones(1), 0)
        self.buffer = np.zeros(0)
        self.buffer_start = 0  # input index of buffer[0]
        self.received = 0      # input samples pushed so far
        self.produced = 0      # output samples returned so far

    def _filter(self) -> tuple[np.ndarray, int]:
        """``resample_poly``'s filter for this length (its zero padding included) and the outputs it drops."""
        from scipy.signal import firwin  # about a second to import: only when a file is resampled

        up, down = self.up, self.down
        half_len = 10 * max(up, down)
        taps = firwin(2 * half_len + 1, 1.0 / max(up, down), window=("kaiser", 5.0)) * up
        pre_pad = down - half_len % down
        skip = (half_len + pre_pad) // down
        post_pad = 0
        while self._upfirdn_length(taps.size + pre_pad + post_pad) < self.n_out + skip:
            post_pad += 1
        return np.concatenate((np.zeros(pre_pad), taps, np.zeros(post_pad))), skip

    def _upfirdn_length(self, n_taps: int) -> int:
        return ((self.n_in - 1) * self.up + n_taps - 1) // self.down + 1

    def _first_input(self, out_index: int) -> int:
        """The first input sample the output sample ``out_index`` (counted after the dropped ones) sums."""
        position = (out_index + self.skip) * self.down - (self.taps.size - 1)
        return max(0, -(-position // self.up))

    def _last_input(self, out_index: int) -> int:
        return min(self.n_in - 1, (out_index + self.skip) * self.down // self.up)

    def push(self, block: np.ndarray) -> np.ndarray:
        """The output samples that ``block`` (the next input samples) completes; after the last block, all the
        rest. Raises ValueError when more than ``n_in`` samples are pushed."""
        block = np.asarray(block, dtype=np.float64)
        self.received += block.size
        if self.received > self.n_in:
            raise ValueError(f"pushed {self.received} samples into a resampler for {self.n_in}")
        if self.identity:
            self.produced += block.size
            return block.copy()
        self.buffer = np.concatenate((self.buffer, block))
        end = self.produced  # outputs [produced, end) have all their input
        if self.received == self.n_in:
            end = self.n_out
        else:
            end = max(end, (self.received - 1) * self.up // self.down - self.skip)
            while end > self.produced and self._last_input(end - 1) >= self.received:
                end -= 1
        if end <= self.produced:
            return np.zeros(0)
        start_in = self._first_input(self.produced) // self.down * self.down  # keeps upfirdn's phase
        stop_in = self._last_input(end - 1) + 1
        window = self.buffer[start_in - self.buffer_start:stop_in - self.buffer_start]
        from scipy.signal import upfirdn  # imported by _filter already: a lookup here

        y = upfirdn(self.taps, window, self.up, self.down)
        first = self.produced + self.skip - start_in * self.up // self.down
        out = y[first:first + end - self.produced]
        self.produced = end
        keep_from = self._first_input(end) // self.down * self.down if end < self.n_out else self.received
        self.buffer = self.buffer[keep_from - self.buffer_start:]
        self.buffer_start = keep_from
        return out
