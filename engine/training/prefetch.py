"""The next training batch, drawn on a second thread while the current step computes.

Mixing a fresh batch (16 × 4 s: speech, rooms, equalisers, noise) is 0.03-0.2 s of numpy and scipy work a
step; the step's torch kernels release the GIL, so where a core is free the draw costs the step nothing. A CPU
run has the worker make the batch's spectra too (``prepare``: :func:`~engine.training.loss.batch_spectra`).

The batches are the ones an unprefetched run draws, bit for bit: the same generator, the same calls, in the
same order, one at a time. Only the generator runs one batch ahead, so a checkpoint keeps
:attr:`BatchPrefetcher.generator_state` — the state after the batches handed out so far — and :meth:`close`
puts the generator back there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

Draw = Callable[[np.random.Generator, int, int], tuple[torch.Tensor, torch.Tensor]]
"""``batch(rng, rows, samples) -> (noisy, clean)``, as :class:`~engine.training.dataset.PairedClips` and
:class:`~engine.training.fresh_mixtures.FreshMixtures` draw."""

Prepare = Callable[[tuple[torch.Tensor, torch.Tensor]], Any]
"""What else the worker does to a drawn batch before handing it out (e.g. its spectra); no random numbers."""


class BatchPrefetcher:
    """Hands out ``prepare(draw(rng, rows, samples))`` batches, the next one already being made on a worker thread."""

    def __init__(self, draw: Draw, rng: np.random.Generator, rows: int, samples: int,
                 prepare: Prepare | None = None) -> None:
        self.draw, self.rows, self.samples, self.prepare = draw, rows, samples, prepare
        self._rng = rng
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spandex-batches")
        self._pending: Future | None = None
        self.generator_state: Mapping[str, Any] = rng.bit_generator.state
        """The generator's state after the batches handed out so far (what a run without prefetching has)."""

    def serves(self, draw: Draw, rows: int, samples: int) -> bool:
        return draw == self.draw and (rows, samples) == (self.rows, self.samples)

    def next(self) -> Any:
        """The next batch (made now if none is pending); the one after it starts being made."""
        if self._pending is None:
            batch = self._make()
        else:
            batch, self._pending = self._pending.result(), None  # a failed draw raises here, in the step
        self.generator_state = self._rng.bit_generator.state  # no draw is running: safe to read
        self._pending = self._pool.submit(self._make)
        return batch

    def _make(self) -> Any:
        batch = self.draw(self._rng, self.rows, self.samples)
        return batch if self.prepare is None else self.prepare(batch)

    def close(self) -> None:
        """Wait for the pending draw, drop it, put the generator back to :attr:`generator_state`."""
        if self._pending is not None:
            self._pending.exception()  # wait; its error, if any, belongs to a batch nobody asked for
            self._pending = None
        self._pool.shutdown(wait=True)
        self._rng.bit_generator.state = self.generator_state
