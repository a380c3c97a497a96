"""Widening a trained model (recipe key ``widen``): more hidden neurons, the same output at the start, and the new
neurons learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.backends import prepare
from engine.dsp.stft import streamed_magnitudes
from engine.errors import SpandexError
from engine.files.netx import load_model, save_netx
from engine.library.card import card_lines
from engine.snn.model import SDNNModel
from engine.training import events as ev
from engine.training.config import ConfigError, TrainConfig
from engine.training.graph import SDNNGraph
from engine.training.loss import denoise_batch, si_snr, stft
from engine.training.trainer import build_graph, run_training
from engine.training.widening import widen
from tests.reference_models import reference_path
from tests.test_training_runs import tiny_config

FRAMES = 250


def _stream(model: SDNNModel, magnitudes: np.ndarray) -> tuple[np.ndarray, list[int]]:
    runner = prepare(model, "sparse")
    masks, telemetry = zip(*(runner.step(frame) for frame in magnitudes))
    return np.array(masks), [t.synops for t in telemetry]


def test_a_widened_model_streams_exactly_as_its_parent(noisy_speech, tmp_path):
    """The official baseline widened to 600/700 neurons, exported and read back, gives its parent's masks bit for
    bit on the sparse backend; its new neurons are active (they cost SynOps), but nothing hears them yet."""
    parent = load_model(reference_path("ndns_baseline.net"))
    graph = widen(SDNNGraph.from_model(parent), (600, 700), seed=1)
    wide = load_model(save_netx(graph.to_model("wide"), tmp_path / "wide.net"))
    assert wide.neuron_counts == (257, 600, 700, 257)
    magnitudes = streamed_magnitudes(noisy_speech[0])[:FRAMES]
    masks, synops = _stream(parent, magnitudes)
    wide_masks, wide_synops = _stream(wide, magnitudes)
    np.testing.assert_array_equal(wide_masks, masks)
    assert np.std(masks) > 0.05  # the network really shaped the spectrum
    assert sum(wide_synops) > sum(synops)  # the new neurons spike: they have something to learn from
    for index, layer in enumerate(parent.layers):  # the parent's own weights and delays, unchanged
        n_out, n_in = layer.weight_mant.shape
        np.testing.assert_array_equal(wide.layers[index].weight_mant[:n_out, :n_in], layer.weight_mant)
        assert not wide.layers[index].weight_mant[:n_out, n_in:].any()  # old neurons hear no new one
        if layer.delays is not None:
            np.testing.assert_array_equal(wide.layers[index].delays[:n_out], layer.delays)
    assert wide.layers[0].weight_mant[512:].any()  # new neurons hear the input


def test_the_new_neurons_outgoing_weights_get_gradients(noisy_speech):
    """At step 0 a new neuron's output weight is 0, yet the loss pulls on it: the new neurons can learn."""
    noisy, clean = (torch.from_numpy(a[:32000]).float()[None] for a in noisy_speech)
    graph = widen(SDNNGraph.from_model(load_model(reference_path("ndns_baseline.net"))), (520, 530), seed=2)
    spectrum = stft(noisy)
    estimate, _ = denoise_batch(graph(spectrum.abs()).mask, spectrum, noisy.shape[-1])
    (-si_snr(clean, estimate).mean()).backward()
    into_output = graph.weights[2].grad[:, 512:]  # from the 18 new second-layer neurons into the output
    into_old = graph.weights[1].grad[:512, 512:]  # from the 8 new first-layer neurons into old ones
    assert into_output.abs().sum() > 0 and into_old.abs().sum() > 0


def test_a_pruned_parent_stays_pruned_and_new_connections_may_grow():
    parent = load_model(reference_path("spandex_prune75.net"))
    graph = widen(SDNNGraph.from_model(parent, freeze_zeros=True), (520, 520))
    for index, layer in enumerate(parent.layers):
        n_out, n_in = layer.weight_mant.shape
        mask = graph.mask(index).numpy()
        np.testing.assert_array_equal(mask[:n_out, :n_in], layer.weight_mant != 0)
        assert mask[n_out:, :].all() and mask[:, n_in:].all()


def test_widening_refuses_what_it_cannot_do():
    graph = SDNNGraph((257, 40, 40, 257), seed=0)
    with pytest.raises(SpandexError, match=r"widen: \[30, 50\] is narrower than the model's 40, 40 neurons"):
        widen(graph, (30, 50))
    with pytest.raises(SpandexError, match=r"widen: \[60\] gives 1 size\(s\) for a model with 2 hidden layers"):
        widen(graph, (60,))
    with pytest.raises(SpandexError, match="nothing to widen"):
        widen(graph, (40, 40))
    with pytest.raises(ConfigError, match="widen grows a trained model"):
        TrainConfig(name="a", dataset="d", widen=(600, 600))


def test_a_run_that_widens_starts_from_its_parent_widened(tmp_path):
    parent = save_netx(SDNNGraph((257, 24, 24, 257), seed=4).to_model("parent"), tmp_path / "parent.net")
    config = TrainConfig(name="a", dataset="d", init=str(parent), widen=(32, 40), keep_zeros=False)
    graph, source = build_graph(config)
    assert graph.sizes == (257, 32, 40, 257) and source == "parent"
    assert config.to_dict()["widen"] == [32, 40]
    recipe_line = next(line for line in card_lines({"recipe": config.to_dict()}) if line.startswith("recipe:"))
    assert "widened to 32-40 hidden neurons" in recipe_line
    # with its idle neurons dropped, the card counts the weights of the widened layout, not hidden_sizes'
    card = {"recipe": {**config.to_dict(), "drop_idle_neurons": True},
            "metrics": {"neurons": [257, 30, 39, 257], "nonzero_params": 1000}}
    assert "idle neurons dropped from 257-32-40-257" in " ".join(card_lines(card))


def test_a_run_that_cannot_widen_its_model_says_so_before_loading_data(tiny_dataset, tmp_path):
    parent = save_netx(SDNNGraph((257, 24, 24, 257), seed=4).to_model("parent"), tmp_path / "parent.net")
    config = tiny_config(tiny_dataset, init=str(parent), widen=(20, 30))
    events: list = []
    with pytest.raises(SpandexError, match=r"widen: \[20, 30\] is narrower than the model's 24, 24 neurons"):
        run_training(config, tmp_path / "run", emit=events.append)
    assert not any(isinstance(e, ev.Loading) for e in events)  # not after the data's minutes of loading
