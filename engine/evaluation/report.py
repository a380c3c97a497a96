"""The numbers SPANDEX reports for a model and a run, named as the CLI's JSON and the GUI show them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from engine.constants import HOP, SAMPLE_RATE
from engine.dsp.stft import ALGORITHMIC_LATENCY_S
from engine.evaluation.metrics import model_params, model_size_kb, pdp_proxy
from engine.snn.model import SDNNModel
from engine.snn.telemetry import RunTotals


def model_report(model: SDNNModel) -> dict:
    """Static facts: sparsity, parameters and storage (N-DNS conventions, see engine.evaluation.metrics)."""
    n_delays = sum(l.delays.size for l in model.layers if l.delays is not None)
    return {
        "neurons": list(model.neuron_counts),
        "weight_sparsity": model.weight_sparsity,
        "layer_weight_sparsity": list(model.layer_weight_sparsity()),
        "params": model_params(l.weight_mant.shape for l in model.layers),
        "nonzero_params": model.n_nonzero_synapses,
        "size_kb": model_size_kb(model.n_nonzero_synapses, n_delays),
    }


class ValidationScores(Protocol):
    """What a validation measured (``engine.training.validation.ValidationResult``, a training run's evaluation)."""

    @property
    def si_snr(self) -> float: ...
    @property
    def si_snri(self) -> float: ...
    @property
    def synops_per_frame(self) -> float: ...
    @property
    def power_proxy_mops(self) -> float: ...
    @property
    def activity_sparsity(self) -> Sequence[float]: ...


class _Split(Protocol):
    @property
    def seconds(self) -> float: ...

    @property
    def fingerprint(self) -> str: ...

    def __len__(self) -> int: ...


def validation_measured_on(dataset: object, validation: _Split) -> str:
    """How a card's ``metrics.measured_on`` names the split it was measured on: the one text every writer of a
    card uses (training, blend, narrow, scripts/measure_card_check.py; the last keeps the numbers a new text
    replaces). The audio's fingerprint tells a split built again with as many clips from the one it replaced (since
    2026-12-07: earlier cards name none)."""
    return (f"validation split of {dataset} ({len(validation)} clips, {validation.seconds / 60:.1f} min, "
            f"audio {validation.fingerprint})")


def card_metrics(scores: ValidationScores, model: SDNNModel, measured_on: str) -> dict:
    """A model card's ``metrics``: what a validation measured, and :func:`model_report`."""
    return {
        "measured_on": measured_on,
        "si_snr": scores.si_snr, "si_snri": scores.si_snri,
        "synops_per_frame": scores.synops_per_frame, "power_proxy_mops": scores.power_proxy_mops,
        "activity_sparsity": list(scores.activity_sparsity),
        **model_report(model),
    }


def run_report(model: SDNNModel, totals: RunTotals, latency_frames: int = 0) -> dict:
    """Measured activity and cost of a run, plus :func:`model_report`.

    ``latency_frames``: hops the backend answers late (the runner's ``latency_frames``; Lava: 1).
    """
    latency_s = ALGORITHMIC_LATENCY_S + latency_frames * HOP / SAMPLE_RATE + totals.compute_us_per_frame / 1e6
    return {
        "frames": totals.frames,
        "synops_per_frame": totals.synops_per_frame,
        "synops_dense_per_frame": totals.synops_dense_per_frame,
        "neuronops_per_frame": totals.neuronops_per_frame,
        "power_proxy_mops": totals.power_proxy_mops,
        "pdp_proxy_mops": pdp_proxy(totals.power_proxy_mops, latency_s),
        "activity_sparsity": list(totals.activity_sparsity),
        "latency_ms": latency_s * 1e3,
        "compute_us_per_frame": totals.compute_us_per_frame,
        **model_report(model),
    }
