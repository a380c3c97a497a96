"""Lock-free single-producer/single-consumer rings, and a doorbell to wake the consumer.

Real-time rules: :meth:`SampleRing.write`, :meth:`SampleRing.read_into`, :meth:`RecordRing.claim`,
:meth:`RecordRing.publish` and :meth:`Doorbell.ring` take no lock and allocate no array, so the audio
callback may call them. Each ring has exactly one producer thread and one consumer thread; each
position counter is written by one side only (the producer's ``written``, the consumer's ``read``),
and data is written before the counter that publishes it (x86-64 keeps stores in order; CPython
does not reorder them).

:class:`RecordRing` can live in any writable buffer, e.g. a ``multiprocessing.shared_memory`` block,
so the engine process can publish telemetry that the GUI process drains.
"""

from __future__ import annotations

import os
import select

import numpy as np


class SampleRing:
    """A ring of float32 samples (one channel). Capacity is rounded up to a power of two."""

    def __init__(self, capacity: int) -> None:
        size = 1 << max(1, int(capacity - 1).bit_length())
        self.buffer = np.zeros(size, dtype=np.float32)
        self.mask = size - 1
        self.counters = np.zeros(2, dtype=np.int64)  # [written, read], monotonic sample counts

    @property
    def capacity(self) -> int:
        return self.buffer.size

    def available(self) -> int:
        """Samples written and not yet read."""
        return int(self.counters[0] - self.counters[1])

    def space(self) -> int:
        return self.capacity - self.available()

    def write(self, block: np.ndarray) -> int:
        """Producer: append as much of ``block`` as fits; return how many samples were written."""
        n = min(block.shape[0], self.space())
        start = int(self.counters[0]) & self.mask
        first = min(n, self.capacity - start)
        self.buffer[start:start + first] = block[:first]
        if n > first:
            self.buffer[:n - first] = block[first:n]
        self.counters[0] += n
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Consumer: fill ``out`` from the ring if it holds ``len(out)`` samples; return samples read.

        All or nothing: with fewer samples available nothing is consumed and 0 is returned.
        """
        n = out.shape[0]
        if self.available() < n:
            return 0
        start = int(self.counters[1]) & self.mask
        first = min(n, self.capacity - start)
        out[:first] = self.buffer[start:start + first]
        if n > first:
            out[first:] = self.buffer[:n - first]
        self.counters[1] += n
        return n

    def read_all(self) -> np.ndarray:
        """Consumer: everything available, as a new array (allocates: not for the callback)."""
        out = np.empty(self.available(), dtype=np.float32)
        self.read_into(out)
        return out

    def skip(self, n: int) -> None:
        """Consumer: drop ``n`` samples (at most what is available)."""
        self.counters[1] += min(n, self.available())


class RecordRing:
    """A ring of fixed-layout records (a numpy structured dtype), in a buffer you may share.

    The producer fills :meth:`claim`'s record in place and calls :meth:`publish`. The consumer calls
    :meth:`read_new`, which copies out every record published since its last call — or, if it fell
    more than ``capacity`` records behind, the newest ``capacity - 1`` (it reports how many it lost).
    """

    HEADER = 64  # bytes: the producer's counter, padded to its own cache line

    def __init__(self, dtype: np.dtype, capacity: int, buffer=None) -> None:
        self.dtype = np.dtype(dtype)
        self.capacity = capacity
        if buffer is None:
            buffer = bytearray(self.nbytes(dtype, capacity))
        self.written: np.ndarray = np.ndarray((1,), dtype=np.int64, buffer=buffer, offset=0)
        self.records: np.ndarray = np.ndarray((capacity,), dtype=self.dtype, buffer=buffer, offset=self.HEADER)
        self.read_position = 0  # the consumer's own
        self.lost = 0

    @classmethod
    def nbytes(cls, dtype: np.dtype, capacity: int) -> int:
        return cls.HEADER + np.dtype(dtype).itemsize * capacity

    def claim(self) -> np.void:
        """Producer: the record slot to fill next (a view; it is not visible until :meth:`publish`)."""
        return self.records[int(self.written[0]) % self.capacity]

    def publish(self) -> None:
        self.written[0] += 1

    def read_new(self, limit: int | None = None) -> np.ndarray:
        """Consumer: a copy of the records published since the last call (oldest first).

        At most ``limit`` records — the newest ones — if given. Records the producer may have
        overwritten while they were copied are dropped and counted in :attr:`lost`.
        """
        head = int(self.written[0])
        start = max(self.read_position, head - self.capacity + 1)
        if limit is not None:
            start = max(start, head - limit)
        self.lost += start - self.read_position if self.read_position < start else 0
        if head <= start:
            self.read_position = head
            return self.records[:0].copy()
        index = np.arange(start, head) % self.capacity
        out = self.records[index]  # fancy indexing copies
        after = int(self.written[0])
        overwritten = after - self.capacity + 1 - start  # records reused while we copied
        if overwritten > 0:
            self.lost += overwritten
            out = out[overwritten:]
        self.read_position = head
        return out


class Doorbell:
    """Wakes a waiting consumer without a lock: a non-blocking pipe the producer writes a byte to."""

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    def ring(self) -> None:
        """Producer (real-time safe): never blocks; a full pipe already means "wake up"."""
        try:
            os.write(self._write_fd, b"\x01")
        except (BlockingIOError, OSError):
            pass

    def wait(self, timeout: float) -> bool:
        """Consumer: wait up to ``timeout`` seconds for a ring; True if rung. Clears pending rings."""
        ready, _, _ = select.select([self._read_fd], [], [], timeout)
        if not ready:
            return False
        try:
            while os.read(self._read_fd, 4096):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
