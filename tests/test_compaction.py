"""Dropping idle hidden neurons: a smaller network with the same outputs and fewer NeuronOps.

Lava runs a compacted net bit-exactly too (tests/test_lava_backend.py); a pruning run exports compacted
models (tests/test_training_runs.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.backends import prepare
from engine.dsp.stft import streamed_magnitudes
from engine.files.netx import load_model, save_netx
from engine.snn.compaction import drop_idle_neurons, idle_hidden_neurons
from engine.snn.model import SDNNModel
from tests.reference_models import reference_path

FRAMES = 250


def _with_weights(model: SDNNModel, *weights: np.ndarray) -> SDNNModel:
    layers = tuple(dataclasses.replace(layer, weight_mant=w) for layer, w in zip(model.layers, weights))
    return dataclasses.replace(model, layers=layers, name="edited")


@pytest.fixture(scope="module")
def baseline() -> SDNNModel:
    return load_model(reference_path("ndns_baseline.net"))


@pytest.fixture(scope="module")
def magnitudes(noisy_speech) -> np.ndarray:
    noisy, _ = noisy_speech
    return streamed_magnitudes(noisy)[:FRAMES]


def _stream(model: SDNNModel, backend: str, magnitudes: np.ndarray) -> tuple[np.ndarray, list[int], int]:
    runner = prepare(model, backend)
    masks, telemetry = zip(*(runner.step(frame) for frame in magnitudes))
    return np.array(masks), [t.synops for t in telemetry], telemetry[0].neuronops


def test_idle_neurons_go_also_those_a_removal_cuts_off(baseline):
    w0, w1, w2 = (layer.weight_mant.copy() for layer in baseline.layers)
    idle_before = [int(m.sum()) for m in idle_hidden_neurons(baseline)]
    live2 = np.flatnonzero(~idle_hidden_neurons(baseline)[1])
    target = live2[0]
    w0[0, :] = 0  # hidden-1 neuron 0: nothing comes in
    w1[:, 1] = 0  # hidden-1 neuron 1: nothing goes out
    w2[:, target] = 0  # a live hidden-2 neuron loses its way out...
    w1[:, 2] = 0
    w1[target, 2] = 8  # ...and hidden-1 neuron 2 only fed it: it goes in the second round
    model = _with_weights(baseline, w0, w1, w2)
    assert [int(m.sum()) for m in idle_hidden_neurons(model)] == [idle_before[0] + 2, idle_before[1] + 1]
    compact = drop_idle_neurons(model)
    assert compact.neuron_counts == (257, 512 - idle_before[0] - 3, 512 - idle_before[1] - 1, 257)
    assert not any(m.any() for m in idle_hidden_neurons(compact))
    # delays follow their neurons
    kept = np.flatnonzero(~idle_hidden_neurons(model)[0])
    kept = kept[kept != 2]
    np.testing.assert_array_equal(compact.layers[0].delays, model.layers[0].delays[kept])


@pytest.mark.parametrize("backend", ["dense", "sparse"])
def test_a_compacted_net_gives_the_same_masks_with_fewer_neuron_ops(baseline, magnitudes, backend, tmp_path):
    pruned = load_model(reference_path("spandex_prune75.net"))
    compact = load_model(save_netx(drop_idle_neurons(pruned), tmp_path / "compact.net"))  # and it round-trips
    assert compact.neuron_counts[2] < pruned.neuron_counts[2]
    masks, synops, neuronops = _stream(pruned, backend, magnitudes)
    compact_masks, compact_synops, compact_neuronops = _stream(compact, backend, magnitudes)
    np.testing.assert_array_equal(compact_masks, masks)
    assert np.std(masks) > 0.05  # the network really shaped the spectrum
    # the synapses into a neuron whose events reach nobody are gone too: never more SynOps
    assert all(c <= s for c, s in zip(compact_synops, synops)) and sum(synops) > 0
    assert neuronops - compact_neuronops == sum(pruned.neuron_counts[:-1]) - sum(compact.neuron_counts[:-1]) > 200


def test_a_layer_with_nothing_left_keeps_one_neuron(baseline, magnitudes):
    w0, w1, w2 = (layer.weight_mant for layer in baseline.layers)
    model = _with_weights(baseline, w0, np.zeros_like(w1), w2)
    compact = drop_idle_neurons(model)
    assert compact.neuron_counts == (257, 1, 1, 257)
    masks, _, _ = _stream(model, "dense", magnitudes)
    compact_masks, _, _ = _stream(compact, "dense", magnitudes)
    np.testing.assert_array_equal(compact_masks, masks)
    np.testing.assert_array_equal(masks, 1.0)  # nothing reaches the output: it passes the input through


def test_a_net_without_idle_neurons_is_returned_as_it_is(baseline):
    compact = drop_idle_neurons(baseline)
    assert drop_idle_neurons(compact) is compact
