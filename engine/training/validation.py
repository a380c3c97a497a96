"""Score a model on a validation split, fast: batched, whole clips, the engine's exact arithmetic.

The model (8-bit weights, whole-frame delays) runs through :class:`SDNNGraph` in float64, where every sum is
exact (see :mod:`engine.snn.neurons`): the masks are the streaming engine's bit for bit, SynOps are the engine's
count (delivered events × nonzero fan-out), and SI-SNR matches :func:`engine.evaluation.evaluate` to FFT
rounding — tests/test_training_validation.py checks both. It is many times faster than streaming hop by hop,
which is what lets a training run track SynOps and SI-SNR as it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.evaluation.metrics import power_proxy_ops_per_s
from engine.snn.model import SDNNModel
from engine.training.dataset import PairedClips
from engine.training.graph import SDNNGraph
from engine.training.loss import denoise_batch, si_snr, stft


@dataclass(frozen=True)
class ValidationResult:
    si_snr: float
    si_snr_noisy: float
    synops_per_frame: float
    power_proxy_mops: float
    activity_sparsity: tuple[float, ...]
    per_clip_si_snr: tuple[float, ...]
    per_clip_si_snr_noisy: tuple[float, ...]

    @property
    def si_snri(self) -> float:
        return self.si_snr - self.si_snr_noisy


def validate(model: SDNNModel, clips: PairedClips, batch: int = 16,
             progress: Callable[[int, int], None] | None = None) -> ValidationResult:
    """Denoise every clip (fresh state each) and measure quality and cost."""
    graph = SDNNGraph.from_model(model).double()
    fan_out = [torch.from_numpy(np.count_nonzero(l.weight_mant, axis=0).astype(np.float64)) for l in model.layers]
    sizes = model.neuron_counts
    neuronops_per_frame = float(sum(sizes[:-1]))
    scores = np.zeros(len(clips))
    noisy_scores = np.zeros(len(clips))
    synops = 0.0
    frames = 0
    events = np.zeros(len(sizes) - 1)
    done = 0
    with torch.no_grad():
        for indices, noisy, clean in clips.batches_in_order(batch):
            noisy, clean = noisy.double(), clean.double()
            spectrum = stft(noisy)
            out = graph(spectrum.abs())
            denoised, _ = denoise_batch(out.mask, spectrum, noisy.shape[-1])
            scores[indices] = si_snr(clean, denoised).numpy()
            noisy_scores[indices] = si_snr(clean, noisy).numpy()
            for received, fan, order in zip(out.delivered, fan_out, out.neuron_order):
                fan = fan if order is None else fan[order]
                synops += float(((received != 0).double().sum(dim=(0, 1)) * fan).sum())
            for layer, emitted in enumerate(out.spikes):
                events[layer] += float((emitted != 0).sum())
            frames += out.y.shape[0] * out.y.shape[2]
            done += len(indices)
            if progress is not None:
                progress(done, len(clips))
    synops_per_frame = synops / frames
    activity = tuple(float(1 - e / (n * frames)) for e, n in zip(events, sizes[:-1]))
    return ValidationResult(
        si_snr=float(scores.mean()), si_snr_noisy=float(noisy_scores.mean()),
        synops_per_frame=synops_per_frame,
        power_proxy_mops=float(power_proxy_ops_per_s(synops_per_frame, neuronops_per_frame)) / 1e6,
        activity_sparsity=activity, per_clip_si_snr=tuple(float(s) for s in scores),
        per_clip_si_snr_noisy=tuple(float(s) for s in noisy_scores))
