"""Drop the hidden neurons a pruned network never uses: the same outputs from a smaller network.

Pruning zeroes weights, not neurons, and after global pruning whole hidden neurons can be cut off: no
nonzero incoming weight (its sigma stays 0, so it never sends an event — the layers have no bias) or no
nonzero outgoing weight (its events reach no synapse). Either way the neuron cannot change the output, yet
N-DNS's power proxy counts it: every neuron of every block is one NeuronOp per frame, weighed 10 SynOps.
:func:`drop_idle_neurons` removes them (with their weight rows and columns and axonal delays), repeating until
every hidden neuron left has both, since removing a neuron can cut off one in the layer before or after.

The input encoder (one neuron per frequency bin) and the output layer keep their sizes: they are the
network's interface. Every hidden layer keeps at least one neuron, so that the model stays a runnable SDNN.
Where nothing is idle the model itself is returned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from engine.snn.model import DenseLayer, SDNNModel


def idle_hidden_neurons(model: SDNNModel) -> list[np.ndarray]:
    """Per hidden layer, a boolean mask of the neurons with no nonzero incoming or no nonzero outgoing weight."""
    return _idle(model.layers)


def _idle(layers: Sequence[DenseLayer]) -> list[np.ndarray]:
    return [~((layers[i].weight_mant != 0).any(axis=1) & (layers[i + 1].weight_mant != 0).any(axis=0))
            for i in range(len(layers) - 1)]


def drop_idle_neurons(model: SDNNModel) -> SDNNModel:
    """``model`` without its idle hidden neurons (see the module docstring); ``model`` if it has none."""
    layers = list(model.layers)
    changed = False
    while True:
        keep = [_keep_one(~mask) for mask in _idle(layers)]
        if all(k.all() for k in keep):
            break
        changed = True
        for index, alive in enumerate(keep):
            layers[index] = _rows(layers[index], alive)
            layers[index + 1] = dataclasses.replace(layers[index + 1],
                                                    weight_mant=layers[index + 1].weight_mant[:, alive])
    return dataclasses.replace(model, layers=tuple(layers)) if changed else model


def _keep_one(alive: np.ndarray) -> np.ndarray:
    """``alive``, or its first neuron alone where none is: a layer keeps at least one neuron."""
    if alive.any():
        return alive
    one = np.zeros_like(alive)
    one[0] = True
    return one


def _rows(layer: DenseLayer, alive: np.ndarray) -> DenseLayer:
    """``layer`` with only the output neurons ``alive``: their weight rows and axonal delays."""
    delays = None if layer.delays is None else layer.delays[alive]
    return dataclasses.replace(layer, weight_mant=layer.weight_mant[alive], delays=delays)
