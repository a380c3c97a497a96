"""The training graph against lava-dl SLAYER itself: same forward values, same gradients; and export parity.

SLAYER is the N-DNS training graph (tests/slayer_reference.py builds it). Off-grid weights and delays are
used on purpose: both graphs must quantise them the same way in the forward pass. In float64 every value
is exact, so forward outputs must be equal bit for bit; gradients agree to float64 rounding.
"""

import numpy as np
import pytest
import torch

from engine.backends import prepare
from engine.files.netx import load_model, save_netx
from engine.training.graph import CHUNK_FRAMES, SDNNGraph, _Delta, _Shift, _threshold_gradient, delay_order
from tests.reference_models import reference_path
from tests.slayer_reference import slayer_network

FRAMES = 160


def random_magnitudes(batch: int = 2, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    # |STFT|-like: mostly small, some large values, a few silent bins
    x = torch.rand(batch, 257, FRAMES, generator=generator, dtype=torch.float64) ** 3 * 3
    x[:, ::7] = 0
    return x


def perturbed_graph(seed: int = 1) -> SDNNGraph:
    """The baseline's weights and delays moved off their grids (as after some training steps)."""
    graph = SDNNGraph.from_model(load_model(reference_path("ndns_baseline.net")), max_delay=64).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for w in graph.weights:
            w.add_(torch.randn(w.shape, generator=generator, dtype=torch.float64) * 0.02)
        for d in graph.delays:
            d.add_(torch.rand(d.shape, generator=generator, dtype=torch.float64) * 3 - 1.5)
    graph.clamp_parameters()
    return graph


def slayer_copy(graph: SDNNGraph) -> torch.nn.Module:
    """A slayer network holding exactly ``graph``'s float parameters (weights not quantised beforehand)."""
    net = slayer_network(graph.to_model(), torch.float64)
    with torch.no_grad():
        for block, w in zip(list(net)[1:], graph.weights):
            block.synapse.weight.copy_(w.detach().reshape(block.synapse.weight.shape))
        for block, d in zip(list(net)[1:3], graph.delays):
            block.delay.delay.data = d.detach().clone()
    for p in net.parameters():
        p.requires_grad_(True)
    return net


def test_forward_equals_slayer_bit_for_bit():
    graph = perturbed_graph()
    net = slayer_copy(graph)
    x = random_magnitudes()
    expected = net(x + graph.input_offset)
    actual = graph(x).y
    assert actual.shape == expected.shape == (2, 257, FRAMES)
    assert torch.equal(actual, expected.detach())
    assert actual.abs().max() > 0.5  # the network is active on this input


def test_gradients_equal_slayer():
    graph = perturbed_graph()
    for th in graph.thresholds:
        th.requires_grad_(True)
    net = slayer_copy(graph)
    x = random_magnitudes(seed=3)
    weight = torch.randn(2, 257, FRAMES, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    (net(x + graph.input_offset) * weight).sum().backward()
    (graph(x).y * weight).sum().backward()
    blocks = list(net)
    for block, w in zip(blocks[1:], graph.weights):
        expected = block.synapse.weight.grad.reshape(w.shape)
        assert expected.abs().max() > 1
        torch.testing.assert_close(w.grad, expected, rtol=1e-9, atol=1e-9)
    for block, d in zip(blocks[1:3], graph.delays):
        assert block.delay.delay.grad.abs().max() > 0.1
        torch.testing.assert_close(d.grad, block.delay.delay.grad, rtol=1e-9, atol=1e-9)
    for block, th in zip(blocks[:3], graph.thresholds):
        torch.testing.assert_close(th.grad, block.neuron.delta.threshold.grad, rtol=1e-9, atol=1e-9)


def test_exported_model_streams_what_the_graph_computes(tmp_path):
    graph = perturbed_graph()
    model = graph.to_model("trained")
    path = save_netx(model, tmp_path / "trained.net")
    loaded = load_model(path)
    x = random_magnitudes(batch=1, seed=5)
    masks = torch.relu(graph(x).y + 1)[0].detach().numpy()
    runner = prepare(loaded, "dense")
    streamed = np.stack([runner.step(frame)[0] for frame in x[0].numpy().T], axis=1)
    np.testing.assert_array_equal(streamed, masks)
    assert np.std(masks) > 0.05


def test_round_trip_keeps_the_model_exactly():
    model = load_model(reference_path("ndns_baseline.net"))
    back = SDNNGraph.from_model(model).to_model(model.name)
    for a, b in zip(model.layers, back.layers):
        np.testing.assert_array_equal(a.weight_mant, b.weight_mant)
        np.testing.assert_array_equal(a.delays if a.delays is not None else [], b.delays if b.delays is not None else [])
        assert a.threshold_mant == b.threshold_mant
    assert back.encoder == model.encoder


def test_masked_weights_get_no_gradient_and_stay_zero():
    model = load_model(reference_path("spandex_prune75.net"))
    graph = SDNNGraph.from_model(model, freeze_zeros=True)
    graph(random_magnitudes(batch=1).float()).y.sum().backward()
    for index, layer in enumerate(model.layers):
        zero = torch.from_numpy(layer.weight_mant == 0)
        assert torch.all(graph.weights[index].grad[zero] == 0)
        assert torch.any(graph.weights[index].grad[~zero] != 0)
    assert graph.to_model().weight_sparsity == pytest.approx(model.weight_sparsity)


def shifted_by_definition(x: torch.Tensor, delay: torch.Tensor) -> torch.Tensor:
    """``y[t, :, c] = x[t - 1 - floor(d_c), :, c]`` (zero before the start), one channel and frame at a time."""
    y = torch.zeros_like(x)
    for c in range(x.shape[2]):
        shift = 1 + int(np.floor(float(delay[c])))
        for t in range(shift, x.shape[0]):
            y[t, :, c] = x[t - shift, :, c]
    return y


@pytest.mark.parametrize("frames", [12, CHUNK_FRAMES, 2 * CHUNK_FRAMES + 5])
def test_delays_shift_each_neuron_as_defined_forward_and_backward(frames):
    """Neurons sorted by delay and shifted a run at a time, against the definition: values, the input's
    gradient, and slayer's delay gradient Σ_t g[t] (y[t-1] - y[t]) (summed a chunk of frames at a time: within one
    chunk, one full chunk, and across chunks with a short last one); shifts at and past the sequence's end too."""
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(frames, 3, 9, generator=generator, dtype=torch.float64, requires_grad=True)
    delay = torch.tensor([0.5, 3.2, 0.9, 11.0, 3.7, 20.0, 1.5, 0.0, 10.4], dtype=torch.float64, requires_grad=True)
    order, runs = delay_order(delay)
    assert [s for _, _, s in runs] == sorted({1 + int(np.floor(float(d))) for d in delay.detach()})
    y = _Shift.apply(x[:, :, order], delay[order], runs)[:, :, torch.argsort(order)]
    expected = shifted_by_definition(x.detach(), delay.detach())
    assert torch.equal(y, expected)
    g = torch.randn(y.shape, generator=generator, dtype=torch.float64)
    (y * g).sum().backward()
    x_reference = x.detach().clone().requires_grad_(True)
    (shifted_by_definition(x_reference, delay.detach()) * g).sum().backward()
    torch.testing.assert_close(x.grad, x_reference.grad, rtol=0, atol=0)
    previous = torch.cat([torch.zeros_like(expected[:1]), expected[:-1]])
    torch.testing.assert_close(delay.grad, (g * (previous - expected)).sum(dim=(0, 1)), rtol=1e-12, atol=1e-12)
    assert delay.grad.abs().max() > 0.1


def test_threshold_gradient_a_chunk_at_a_time_is_slayers_formula():
    """The delta unit's threshold gradient, summed a chunk of frames at a time (a short last chunk too), against
    slayer's relaxed-delta formula on whole tensors."""
    generator = torch.Generator().manual_seed(11)
    frames = 3 * CHUNK_FRAMES + 7
    d = torch.randn(frames, 4, 33, generator=generator, dtype=torch.float64) * 0.2
    g = torch.randn(frames, 4, 33, generator=generator, dtype=torch.float64)
    th, tau, scale = torch.tensor([6 / 64], dtype=torch.float64), 0.1, 0.8  # shaped as the unit saves it
    sub = d.abs() - th
    expected = (torch.where(sub > 0, -d * scale * torch.exp(-sub.abs() / tau) / th, -torch.sign(d)) * g).sum()
    assert (sub > 0).any() and (sub <= 0).any()
    torch.testing.assert_close(_threshold_gradient(d, th, g, tau, scale), expected.reshape(1), rtol=1e-12, atol=1e-12)


def test_delta_unit_passes_each_frame_its_change_gradient():
    """The delta unit's input gradient, as slayer's: ``g[t] - g[t+1]`` (``g[T] = 0``), the last frame included."""
    generator = torch.Generator().manual_seed(13)
    x = torch.randn(CHUNK_FRAMES + 3, 2, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    g = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    (_Delta.apply(x, torch.tensor([0.5], dtype=torch.float64), 0.1, 0.8) * g).sum().backward()
    expected = g - torch.cat([g[1:], torch.zeros_like(g[:1])])
    assert torch.equal(x.grad, expected)
    assert expected[-1].abs().max() > 0


def test_neuron_order_says_which_neuron_each_channel_is():
    """Layer 1 spikes the same whatever its own delays; its channels come sorted by delay, and ``neuron_order``
    maps them back to neurons (what validation pairs with each neuron's fan-out)."""
    graph = SDNNGraph.from_model(load_model(reference_path("ndns_baseline.net"))).double()
    still = SDNNGraph.from_model(load_model(reference_path("ndns_baseline.net"))).double()
    with torch.no_grad():
        still.delays[0].fill_(0.5)  # every shift 1: sorted order is the neurons' own
    x = random_magnitudes(batch=1)
    moved, kept = graph(x), still(x)
    order = moved.neuron_order[1]
    assert not torch.equal(order, torch.arange(order.numel()))  # the baseline's delays differ between neurons
    assert torch.equal(kept.neuron_order[1], torch.arange(order.numel()))
    assert kept.spikes[1].abs().sum() > 0
    assert torch.equal(moved.spikes[1][:, :, torch.argsort(order)], kept.spikes[1])
    assert moved.neuron_order[0] is None
