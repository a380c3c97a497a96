"""GMP: the cubic schedule, masks that never regrow, global vs layer-wise thresholds."""

import pytest
import torch

from engine.errors import SpandexError
from engine.files.netx import load_model
from engine.training.graph import SDNNGraph
from engine.training.pruning import mask_sparsity, prune_masks
from engine.training.schedule import GMPSchedule
from tests.reference_models import reference_path


def test_schedule_follows_the_cubic_formula():
    s = GMPSchedule(final_sparsity=0.75, initial_sparsity=0.1, start_step=20, frequency=5, n_prunes=8)
    span = 8 * 5
    for step in range(20, 61):
        expected = 0.75 + (0.1 - 0.75) * (1 - (step - 20) / span) ** 3
        assert s.sparsity_at(step) == pytest.approx(expected, abs=1e-12)
    assert s.sparsity_at(0) == pytest.approx(0.1) and s.sparsity_at(19) == pytest.approx(0.1)
    assert s.sparsity_at(60) == pytest.approx(0.75) and s.sparsity_at(10_000) == pytest.approx(0.75)
    # the cubic prunes fast first, slowly at the end
    assert s.sparsity_at(25) - s.sparsity_at(20) > s.sparsity_at(60) - s.sparsity_at(55)
    assert [t for t in range(100) if s.is_pruning_step(t)] == [25, 30, 35, 40, 45, 50, 55, 60]
    assert s.end_step == 60


@pytest.mark.parametrize("kwargs", [
    {"final_sparsity": 1.0}, {"final_sparsity": 0.5, "initial_sparsity": 0.6}, {"final_sparsity": -0.1},
    {"final_sparsity": 0.5, "frequency": 0}, {"final_sparsity": 0.5, "n_prunes": 0},
])
def test_schedule_refuses_nonsense(kwargs):
    with pytest.raises(SpandexError):
        GMPSchedule(**kwargs)


def test_masks_never_regrow_even_when_pruned_weights_grow():
    generator = torch.Generator().manual_seed(0)
    weights = [torch.randn(40, 30, generator=generator), torch.randn(20, 40, generator=generator)]
    masks = [torch.ones_like(w) for w in weights]
    schedule = GMPSchedule(final_sparsity=0.8, frequency=1, n_prunes=6)
    previous = masks
    for step in range(1, 7):
        # training moves weights: pruned ones grow big, alive ones shrink (worst case for regrowth)
        weights = [w + torch.randn(w.shape, generator=generator) * 0.5 for w in weights]
        weights = [torch.where(m == 0, w * 100, w) for w, m in zip(weights, previous)]
        masks = prune_masks(weights, previous, schedule.sparsity_at(step), "global", seed=step)
        for old, new in zip(previous, masks):
            assert torch.all(new <= old)  # every zero stays zero
        assert mask_sparsity(masks) == pytest.approx(schedule.sparsity_at(step), abs=1 / 2000)
        previous = masks
    assert mask_sparsity(masks) == pytest.approx(0.8, abs=1e-3)
    # asking for less than is already pruned changes nothing
    same = prune_masks(weights, masks, 0.3, "global")
    assert all(torch.equal(a, b) for a, b in zip(same, masks))


def test_smallest_alive_weights_go_first():
    w = [torch.tensor([[0.5, -0.1, 0.3, -0.9]])]
    m = prune_masks(w, [torch.ones(1, 4)], 0.5, "global")
    assert m[0].tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_global_and_layerwise_thresholds_on_the_baseline():
    """SPANDEX: a global threshold strips the output layer much harder; layer-wise prunes each to s."""
    model = load_model(reference_path("ndns_baseline.net"))
    graph = SDNNGraph.from_model(model)
    weights = [graph.weights[i].detach() for i in range(3)]
    masks = [graph.mask(i) for i in range(3)]
    global_masks = prune_masks(weights, masks, 0.75, "global")
    layer_masks = prune_masks(weights, masks, 0.75, "layer")
    global_layers = [1 - float(m.mean()) for m in global_masks]
    layer_layers = [1 - float(m.mean()) for m in layer_masks]
    assert mask_sparsity(global_masks) == pytest.approx(0.75, abs=1e-5)
    assert layer_layers == pytest.approx([0.75, 0.75, 0.75], abs=1e-5)
    # the output layer has the smallest weights: the global threshold takes far more of it
    assert global_layers[2] > 0.9 and global_layers[2] > max(global_layers[:2]) + 0.15
    # global: one magnitude threshold for all layers: every kept |w| >= every pruned |w| (all layers)
    kept = torch.cat([w[m > 0].abs() for w, m in zip(weights, global_masks)])
    pruned = torch.cat([w[m == 0].abs() for w, m in zip(weights, global_masks)])
    assert kept.min() >= pruned.max()
    # layer-wise: that holds inside each layer, not across them
    for w, m in zip(weights, layer_masks):
        assert w[m > 0].abs().min() >= w[m == 0].abs().max()


def test_bad_scope_or_sparsity_is_refused():
    w, m = [torch.ones(2, 2)], [torch.ones(2, 2)]
    with pytest.raises(SpandexError, match="scope"):
        prune_masks(w, m, 0.5, "rows")
    with pytest.raises(SpandexError, match="sparsity"):
        prune_masks(w, m, 1.0, "global")
