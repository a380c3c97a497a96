"""Backends run a model frame by frame: ``prepare(model, name) -> runner``.

Every runner has ``step(magnitude) -> (mask, FrameTelemetry)``, ``reset()``, ``name`` and ``model``,
and gives identical masks and telemetry for the same model and input. ``dense`` is the reference
(matrix products, :mod:`engine.backends.dense`); ``sparse`` is event-driven, its cost following the
SynOps (:mod:`engine.backends.sparse`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from engine.errors import SpandexError
from engine.model import SDNNModel
from engine.telemetry import FrameTelemetry


class Runner(Protocol):
    name: str
    model: SDNNModel

    def step(self, magnitude: np.ndarray) -> tuple[np.ndarray, FrameTelemetry]: ...

    def reset(self) -> None: ...


BACKEND_NAMES = ("dense", "sparse")
"""The backends :func:`prepare` knows, in the order a picker should list them."""


def prepare(model: SDNNModel, backend: str = "dense") -> Runner:
    """A fresh runner for ``model`` on the named backend."""
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
    raise SpandexError(f"unknown backend '{backend}'; available: {', '.join(BACKEND_NAMES)}")
