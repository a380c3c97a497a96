"""The N-DNS baseline network built from lava-dl SLAYER blocks: the external truth for parity tests.

The block structure is the N-DNS challenge's ``baseline_solution/sdnn_delays`` network (Input, two Dense
blocks with axonal delays and ``delay_shift``, Sigma-delta Output); its weights, thresholds and delays
are set from an :class:`engine.snn.model.SDNNModel`, so lava-dl computes its own forward pass with them.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.lava_compat import import_slayer
from engine.snn.model import WEIGHT_SCALE, SDNNModel


def slayer_network(model: SDNNModel, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    slayer = import_slayer()
    params = {
        "threshold": 0.1, "tau_grad": 0.1, "scale_grad": 0.8, "requires_grad": False,
        "shared_param": True, "activation": torch.nn.functional.relu,
    }
    blocks = [slayer.block.sigma_delta.Input(params)]
    for layer in model.layers[:-1]:
        blocks.append(slayer.block.sigma_delta.Dense(
            params, layer.in_features, layer.out_features, weight_norm=False, delay=True, delay_shift=True))
    last = model.layers[-1]
    blocks.append(slayer.block.sigma_delta.Output(params, last.in_features, last.out_features, weight_norm=False))
    step = model.encoder.step
    blocks[0].pre_hook_fx = lambda x: slayer.utils.quantize(x, step=step)
    with torch.no_grad():
        blocks[0].neuron.delta.threshold.data[:] = model.encoder.threshold_mant / WEIGHT_SCALE
        for block, layer in zip(blocks[1:], model.layers):
            shape = block.synapse.weight.shape
            block.synapse.weight.data = torch.tensor(layer.weight_mant / WEIGHT_SCALE).reshape(shape).float()
            block.neuron.delta.threshold.data[:] = layer.threshold_mant / WEIGHT_SCALE
            if block.delay is not None:
                block.delay.max_delay = max(64, layer.max_delay)
                delays = layer.delays if layer.delays is not None else np.zeros(layer.out_features)
                block.delay.delay.data = torch.tensor(delays, dtype=torch.float32)
                block.delay.init = True
    network = torch.nn.Sequential(*blocks).to(dtype)
    network.offset = model.encoder.offset
    return network


def slayer_masks(network: torch.nn.Module, magnitude: np.ndarray, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Run slayer on a whole (bins, frames) magnitude sequence; return the masks relu(y + 1)."""
    with torch.no_grad():
        x = torch.tensor(magnitude, dtype=dtype)[None] + network.offset
        y = network(x)
        return torch.relu(y + 1)[0].double().numpy()


def offline_denoise(network: torch.nn.Module, audio: np.ndarray) -> np.ndarray:
    """N-DNS-style whole-file denoising with torch.stft / slayer / torch.istft (zero-padded edges)."""
    signal = torch.tensor(np.asarray(audio, dtype=np.float64))
    window = torch.ones(512, dtype=torch.float64)
    spectrum = torch.stft(signal, 512, 128, window=window, center=True, pad_mode="constant", return_complex=True)
    masks = slayer_masks(network, spectrum.abs().numpy())
    denoised = spectrum * torch.tensor(masks)
    return torch.istft(denoised, 512, 128, window=window, center=True, length=len(audio)).numpy()
