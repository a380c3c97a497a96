"""The compiled loops (engine/training/fused.py) against the graph's torch loops: the same values and gradients
bit for bit, float32 and float64 — but the delays' gradients, which the kernels sum in float64 (torch in the
tensor's dtype, in its own order): equal to that rounding; and a machine without a C compiler trains the same, on
the torch loops."""

import pytest
import torch

from engine.training import fused
from engine.training.graph import SDNNGraph, SurrogateParams, _Delta, _sigma_relu_delta

needs_kernels = pytest.mark.skipif(not fused.available(), reason=f"fused kernels: {fused.why_unavailable()}")


def _spiky(shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator, dtype=torch.float64) * 0.3
    x[torch.rand(shape, generator=generator) < 0.3] = 0  # exact zeros and sign changes, as real sigma values
    return x.to(dtype)


def _both_ways(monkeypatch, run):
    """``run()`` with the kernels and with the torch loops (``SPANDEX_FUSED_KERNELS=0``)."""
    with monkeypatch.context() as switch:
        switch.setenv(fused.SWITCH, "1")
        assert fused.available()
        kernels = run()
        switch.setenv(fused.SWITCH, "0")
        assert not fused.available()
        loops = run()
    return kernels, loops


def _assert_identical(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert torch.equal(x, y), f"max difference {(x - y).abs().max()}"


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_delta_encoder_is_the_torch_loop_bit_for_bit(dtype, monkeypatch):
    x0 = _spiky((37, 3, 21), dtype, seed=1)
    g = _spiky((37, 3, 21), dtype, seed=2)

    def run():
        x = x0.clone().requires_grad_(True)
        th = torch.tensor([5.0 / 64], dtype=dtype, requires_grad=True)
        out = _Delta.apply(x, th, 0.1, 0.8)
        (out * g).sum().backward()
        return out.detach(), x.grad, th.grad

    kernels, loops = _both_ways(monkeypatch, run)
    _assert_identical(kernels, loops)
    assert (kernels[0] != 0).any() and (kernels[0] == 0).any() and (kernels[2] != 0).all()


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_hidden_layers_sigma_relu_delta_is_the_torch_loops_bit_for_bit(dtype, monkeypatch):
    """Sigma, ReLU and delta unit of a hidden layer, values and gradients (the synapses' output, the threshold),
    a gradient on every frame, the last one too."""
    current0 = _spiky((41, 2, 33), dtype, seed=5)
    g = _spiky((41, 2, 33), dtype, seed=6) + 1  # nonzero everywhere

    def run():
        current = current0.clone().requires_grad_(True)
        th = torch.tensor([4.0 / 64], dtype=dtype, requires_grad=True)
        out = _sigma_relu_delta(current * 1, th, SurrogateParams())  # * 1: a non-leaf, as a synapse's output
        (out * g).sum().backward()
        return out.detach(), current.grad, th.grad

    kernels, loops = _both_ways(monkeypatch, run)
    _assert_identical(kernels, loops)
    assert (kernels[1][-1] == 0).any() and (kernels[1][-1] != 0).any()  # ReLU closes some of the last frame


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_training_step_of_the_graph_is_the_torch_loops_bit_for_bit(dtype, monkeypatch):
    """Forward output, spikes and every gradient (weights, delays, learned thresholds) of a whole graph."""
    generator = torch.Generator().manual_seed(3)
    magnitude = (torch.rand(2, 257, 50, generator=generator, dtype=torch.float64) ** 3 * 3).to(dtype)
    target = torch.rand(2, 257, 50, generator=generator, dtype=torch.float64).to(dtype)

    def run():
        graph = SDNNGraph((257, 40, 30, 257), train_thresholds=True, seed=4).to(dtype)
        with torch.no_grad():
            for d in graph.delays:
                d.mul_(6)  # a few frames of delay
        out = graph(magnitude)
        ((out.mask - target) ** 2).sum().backward()
        grads = [p.grad for p in [*graph.weights, *graph.thresholds]]
        assert all(g is not None for g in grads)
        return [out.y.detach(), *[s.detach() for s in out.spikes], *[d.detach() for d in out.delivered], *grads], \
            [d.grad for d in graph.delays]

    (kernels, kernel_delays), (loops, loop_delays) = _both_ways(monkeypatch, run)
    _assert_identical(kernels, loops)
    for a, b in zip(kernel_delays, loop_delays, strict=True):
        assert (a != 0).any()
        torch.testing.assert_close(a, b, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=0)
    assert kernels[0].stride() == loops[0].stride() == (50 * 257, 1, 257)  # y frame-major, as the spectra
    assert all((s != 0).any() for s in kernels[1:4])  # every layer spiked


def test_without_a_compiler_the_graph_keeps_its_torch_loops(tmp_path, monkeypatch):
    monkeypatch.setattr(fused, "_state", {})  # forget this process's build
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.delenv(fused.SWITCH, raising=False)
    assert not fused.available()
    assert "no C compiler" in (fused.why_unavailable() or "") and "no-such-cc" in (fused.why_unavailable() or "")
    graph = SDNNGraph((257, 16, 16, 257), seed=1)
    out = graph(torch.rand(1, 257, 20))
    out.y.sum().backward()
    assert torch.isfinite(graph.weights[0].grad).all()


@needs_kernels
def test_the_kernels_build_once_into_the_cache_atomically(tmp_path, monkeypatch):
    monkeypatch.setattr(fused, "_state", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(fused.SWITCH, raising=False)
    assert fused.available()
    built = list((tmp_path / "cache" / "spandex").iterdir())
    assert len(built) == 1 and built[0].suffix == ".so"  # no partial file left beside it
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(fused, "_state", {})
    assert fused.available() and built[0].stat().st_mtime_ns == stamp  # found, not built again
