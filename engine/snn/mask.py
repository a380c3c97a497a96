"""The mask the host makes of the network's output: the N-DNS ``relu(y + 1)``, optionally sharpened.

The output layer's sigma values ``y`` become a gain per STFT bin, applied to the noisy magnitude (noisy phase
kept). A model's :class:`~engine.snn.model.OutputDecoder` may ask for the mask *sharpened*: each frame's mask
``m`` raised to the power

    p = 1 + sharpening · (1 − mean over bins of min(m, 1))

so that a frame the network finds mostly noise (a low mean mask) is suppressed harder, while a frame it passes
nearly whole (clean speech: a mean near 1) keeps its mask. It is per frame and causal (no latency), runs on the
CPU after every backend alike (dense, sparse, Lava: the network's bits are unchanged), and costs one mean and
one power per bin a frame. The training graph computes the same in torch (:func:`engine.training.graph.sharpen`).
"""

from __future__ import annotations

import numpy as np

from engine.snn.model import OutputDecoder


def mask_from_output(y: np.ndarray, decoder: OutputDecoder = OutputDecoder()) -> np.ndarray:
    """The mask for one frame's output ``y`` (a new array): ``relu(y + 1)``, sharpened as ``decoder`` asks."""
    mask = np.maximum(y + 1.0, 0.0)
    if decoder.sharpening:
        sharpen(mask, decoder.sharpening)
    return mask


def sharpen(mask: np.ndarray, sharpening: float) -> np.ndarray:
    """Raise one frame's ``mask`` (non-negative, one value per bin) to its exponent, in place; return it."""
    exponent = 1.0 + sharpening * (1.0 - float(np.minimum(mask, 1.0).mean()))
    return np.power(mask, exponent, out=mask)
