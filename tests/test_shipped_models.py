"""The models SPANDEX ships: each loads, has a truthful card, and the default really denoises."""

import numpy as np
import pytest

from engine.backends import prepare
from engine.denoiser import denoise
from engine.evaluation.metrics import si_snr
from engine.files.audio import load_audio
from engine.files.netx import load_model
from engine.library.catalog import SHIPPED_DIR, default_lineup, default_model, list_models

SHIPPED = [entry for entry in list_models() if entry.origin == "shipped"]


def test_a_default_model_is_shipped():
    entry = default_model()
    assert entry is not None and entry.path.parent == SHIPPED_DIR


@pytest.mark.parametrize("entry", SHIPPED, ids=[e.name for e in SHIPPED])
def test_shipped_model_loads_and_its_card_matches_the_file(entry):
    model = load_model(entry.path)
    assert entry.card_problem is None
    card = entry.card
    assert card["name"] == entry.name
    # trained here from scratch, or from another shipped model — never derived from the references
    assert card["parent"] == "scratch" or card["parent"] in {e.name for e in SHIPPED}
    assert set(card["data"].get("sources", {})) <= {"train", "validation"}  # never the held-out test set
    assert card["metrics"]["weight_sparsity"] == pytest.approx(model.weight_sparsity)
    assert card["metrics"]["nonzero_params"] == model.n_nonzero_synapses
    assert model.neuron_counts == (257, 512, 512, 257)


def test_default_model_denoises_unseen_speech_and_noise(noisy_speech):
    # corpus speech (asterisk English) and keyboard noise are in no model's training split
    noisy, clean = noisy_speech
    model = load_model(default_model().path)
    result = denoise(noisy, prepare(model, "sparse"))
    assert si_snr(clean, result.audio) > si_snr(clean, noisy) + 2.0
    assert np.isfinite(result.audio).all()


def test_default_model_denoises_the_demo_clip_audibly():
    # the clip the app plays when there is no microphone, scored against its clean speech
    noisy = load_audio(SHIPPED_DIR.parent / "demo" / "noisy_speech.flac")
    clean = load_audio(SHIPPED_DIR.parent / "demo" / "clean_speech.flac")
    result = denoise(noisy, prepare(load_model(default_model().path), "sparse"))
    assert si_snr(clean, result.audio) - si_snr(clean, noisy) > 3.0  # measured 3.9 dB


def test_sparsity_ladder_is_what_the_names_say_and_costs_less_on_real_speech(noisy_speech):
    noisy, _ = noisy_speech
    ladder = [e for e in SHIPPED if e.name.startswith("spandex-prune")]
    assert [e.name for e in ladder] == ["spandex-prune50", "spandex-prune75", "spandex-prune90"]
    costs = [denoise(noisy, prepare(load_model(default_model().path), "sparse")).totals.power_proxy_mops]
    for entry in ladder:
        target = int(entry.name.removeprefix("spandex-prune")) / 100
        assert entry.card["recipe"]["pruning"]["final_sparsity"] == target
        model = load_model(entry.path)
        # GMP masks exactly the target share; weights left alive that round to 0 in 8 bits add a few points
        assert target - 0.005 <= model.weight_sparsity <= target + 0.1
        costs.append(denoise(noisy, prepare(model, "sparse")).totals.power_proxy_mops)
    assert costs == sorted(costs, reverse=True) and costs[-1] < costs[0] / 2, costs


def test_frugal_model_is_pruned_and_regularised_and_spikes_less_than_its_parent(noisy_speech):
    noisy, _ = noisy_speech
    entries = {e.name: e for e in SHIPPED}
    frugal, parent = entries["spandex-frugal"], entries[entries["spandex-frugal"].card["parent"]]
    assert frugal.card["recipe"]["regularizer"]["weight"] > 0 and parent.name.startswith("spandex-prune")
    model, parent_model = load_model(frugal.path), load_model(parent.path)
    # pruned weights stayed pruned: the regulariser changed activity, not the mask
    for layer, parent_layer in zip(model.layers, parent_model.layers):
        assert not np.any(layer.weight_mant[parent_layer.weight_mant == 0])
    synops = [denoise(noisy, prepare(m, "sparse")).totals.synops_per_frame for m in (model, parent_model)]
    assert synops[0] < synops[1], synops


def test_the_app_opens_on_the_default_model_with_cheaper_ones_to_ab_against():
    from app.launch import AppOptions, engine_config

    lineup = default_lineup()
    assert [e.name for e in lineup] == ["spandex-dense", "spandex-prune75", "spandex-frugal"]
    costs = [e.card["metrics"]["power_proxy_mops"] for e in lineup]
    assert costs == sorted(costs, reverse=True)
    assert engine_config(AppOptions(), None).models == [str(e.path) for e in lineup]
    assert engine_config(AppOptions(models=["x.net"]), None).models == ["x.net"]  # naming models replaces it
