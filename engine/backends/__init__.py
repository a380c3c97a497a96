"""Backends run a model frame by frame: ``prepare(model, name) -> runner``.

Every runner has ``step(magnitude) -> (mask, FrameTelemetry)``, ``reset()``, ``close()``, ``name``,
``model`` and ``latency_frames``, and gives identical masks for the same model and input (and identical
telemetry, but for the Lava backend's hidden-layer ``fired``/``events``, counted when spikes arrive:
see :mod:`engine.backends.lava`). A runner with ``latency_frames = L`` answers each frame ``L`` calls late
(``(None, None)`` for its first ``L`` calls): the Lava backend, whose Loihi pipeline adds a step, has
``L = 1``. Close a runner when done with it (``contextlib.closing(prepare(...))``): the Lava backend owns
OS processes and shared memory.

- ``dense``: matrix products, the reference (:mod:`engine.backends.dense`);
- ``sparse``: event-driven, its cost following the SynOps (:mod:`engine.backends.sparse`);
- ``lava``: Lava processes, Loihi 2's fixed-point simulation on the CPU (:mod:`engine.backends.lava`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from engine.errors import SpandexError
from engine.snn.model import SDNNModel
from engine.snn.telemetry import FrameTelemetry


class Runner(Protocol):
    name: str
    model: SDNNModel
    latency_frames: int

    def step(self, magnitude: np.ndarray) -> tuple[np.ndarray | None, FrameTelemetry | None]: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


BACKEND_NAMES = ("dense", "sparse", "lava")
"""The backends :func:`prepare` knows, in the order a picker should list them."""


def prepare(model: SDNNModel, backend: str = "dense") -> Runner:
    """A fresh runner for ``model`` on the named backend.

    Raises:
        SpandexError: unknown backend; for ``lava``, also :class:`engine.lava_compat.LavaUnavailableError`
            and :class:`engine.loihi.export.LoihiExportError` (the model cannot run exactly on Loihi).
    """
    if backend == "dense":
        from engine.backends.dense import DenseRunner

        return DenseRunner(model)
    if backend == "sparse":
        try:
            from engine.backends.sparse import SparseRunner
        except ImportError as exc:
            raise SpandexError(f"the sparse backend needs numba, which did not import ({exc}): run `make "
                               "setup` to install the pinned requirements, or use the dense backend") from exc
        return SparseRunner(model)
    if backend == "lava":
        from engine.backends.lava import LavaRunner

        return LavaRunner(model)
    raise SpandexError(f"unknown backend '{backend}'; available: {', '.join(BACKEND_NAMES)}")
