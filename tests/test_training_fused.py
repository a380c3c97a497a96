"""The compiled loops (engine/training/fused.py) against the graph's torch loops: the same values and gradients
bit for bit, float32 and float64 — but the delays' gradients, which the kernels sum in float64 (torch in the
tensor's dtype, in its own order): equal to that rounding; and a machine without a C compiler trains the same, on
the torch loops."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.training import fused
from engine.training.graph import SDNNGraph, SurrogateParams, _Delta, _sigma_relu_delta

REPO = Path(__file__).resolve().parents[1]
# Skipped only where there is no C compiler at all (scripts/setup.sh installs one): with one, a build that fails
# is a failure here.
needs_kernels = pytest.mark.skipif(shutil.which(os.environ.get("CC") or "cc") is None and not fused.available(),
                                   reason="no C compiler: the graph runs its torch loops")


@pytest.fixture(autouse=True)
def _kernels_switched_on(monkeypatch):
    monkeypatch.delenv(fused.SWITCH, raising=False)


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
@pytest.mark.parametrize("learned", [True, False], ids=["thresholds-and-delays-learned", "frozen"])
def test_a_training_step_of_the_graph_is_the_torch_loops_bit_for_bit(dtype, learned, monkeypatch):
    """Forward output, spikes and every gradient (weights; delays and thresholds where they learn) of a whole
    graph; frozen, as in a default run, the kernels skip the delays' and thresholds' gradients."""
    generator = torch.Generator().manual_seed(3)
    magnitude = (torch.rand(2, 257, 50, generator=generator, dtype=torch.float64) ** 3 * 3).to(dtype)
    target = torch.rand(2, 257, 50, generator=generator, dtype=torch.float64).to(dtype)

    def run():
        graph = SDNNGraph((257, 40, 30, 257), train_thresholds=learned, seed=4).to(dtype)
        with torch.no_grad():
            for d in graph.delays:
                d.mul_(6)  # a few frames of delay
                d.requires_grad_(learned)
        out = graph(magnitude)
        ((out.mask - target) ** 2).sum().backward()
        grads = [p.grad for p in [*graph.weights, *(graph.thresholds if learned else [])]]
        assert all(g is not None for g in grads)
        return [out.y.detach(), *[s.detach() for s in out.spikes], *[d.detach() for d in out.delivered], *grads], \
            [d.grad for d in graph.delays]

    (kernels, kernel_delays), (loops, loop_delays) = _both_ways(monkeypatch, run)
    _assert_identical(kernels, loops)
    assert kernels[0].stride() == loops[0].stride() == (50 * 257, 1, 257)  # y frame-major, as the spectra
    assert all((s != 0).any() for s in kernels[1:4])  # every layer spiked
    for a, b in zip(kernel_delays, loop_delays, strict=True):
        if not learned:
            assert a is None and b is None
            continue
        assert (a != 0).any()
        # summed in float64 against torch's float32 sums: their rounding (which cancellation can make large
        # against a small sum), bounded by the largest gradient
        scale = float(b.abs().max())
        torch.testing.assert_close(a, b, rtol=0, atol=(1e-4 if dtype == torch.float32 else 1e-12) * scale)


@needs_kernels
def test_views_the_kernels_cannot_read_go_to_the_torch_loops(monkeypatch):
    """A non-contiguous or offset view is not handed to a kernel, whose pointer arithmetic assumes a dense
    (T, N) block: the results are the torch loops'."""
    base = _spiky((30, 4, 40), torch.float32, seed=7)
    th = torch.tensor([5.0 / 64])
    views = (lambda x: x[:, :, ::2], lambda x: x.transpose(0, 1), lambda x: x[:, 1:3])
    for view in views:
        for layer in (lambda v: _Delta.apply(v, th, 0.1, 0.8), lambda v: _sigma_relu_delta(v, th, SurrogateParams())):
            # a fresh base each time: the torch loops' sigma sums in place
            kernels, loops = _both_ways(monkeypatch, lambda f=layer, v=view: [f(v(base.clone()))])
            assert not view(base).is_contiguous()
            _assert_identical(kernels, loops)


@needs_kernels
def test_a_diverged_runs_nan_delays_do_not_reach_the_kernels(monkeypatch):
    """NaN delays (training diverged) make a huge negative shift: the graph takes the torch loops' way for it
    (the trainer then stops on the non-finite loss) instead of a kernel reading outside its tensors."""
    def run():
        graph = SDNNGraph((257, 20, 20, 257), seed=2)
        with torch.no_grad():
            graph.delays[0][3] = float("nan")
        with pytest.warns(UserWarning):  # torch's, on casting NaN to an integer
            return [graph(torch.rand(1, 257, 30, generator=torch.Generator().manual_seed(1))).y.detach()]

    kernels, loops = _both_ways(monkeypatch, run)
    torch.testing.assert_close(kernels[0], loops[0], rtol=0, atol=0, equal_nan=True)


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
def test_the_kernels_build_once_into_the_cache_with_their_digest(tmp_path, monkeypatch):
    monkeypatch.setattr(fused, "_state", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert fused.available()
    built = sorted((tmp_path / "cache" / "spandex").iterdir())
    assert [p.suffix for p in built] == [".sha256", ".so"]  # no partial file left beside them
    stamp = built[1].stat().st_mtime_ns
    monkeypatch.setattr(fused, "_state", {})
    assert fused.available() and built[1].stat().st_mtime_ns == stamp  # found, not built again


@needs_kernels
def test_a_library_cut_short_in_the_cache_is_built_again_not_loaded(tmp_path):
    """A library cut short (a crash while it was written) would kill the process that loads it (SIGBUS): its
    digest no longer matches, so it is built again. In a subprocess, since the failure would be a crash."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    env.pop(fused.SWITCH, None)
    probe = [sys.executable, "-c", "from engine.training import fused; print(fused.available())"]
    assert subprocess.run(probe, env=env, capture_output=True, text=True).stdout.strip() == "True"
    (library,) = (tmp_path / "cache" / "spandex").glob("*.so")
    whole = library.read_bytes()
    library.write_bytes(whole[:8000])
    done = subprocess.run(probe, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
    assert library.read_bytes() == whole


@needs_kernels
@pytest.mark.parametrize("problem", ["a cache others can write to", "no home directory"])
def test_without_a_cache_of_its_own_a_process_builds_for_itself(problem, tmp_path, monkeypatch):
    monkeypatch.setattr(fused, "_state", {})
    if problem == "no home directory":
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

        def no_home():
            raise RuntimeError("Could not determine home directory.")
        monkeypatch.setattr(Path, "home", staticmethod(no_home))
    else:
        shared = tmp_path / "shared"
        (shared / "spandex").mkdir(parents=True)
        (shared / "spandex").chmod(0o777)
        monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    assert fused.available(), fused.why_unavailable()
    if problem != "no home directory":
        assert list((tmp_path / "shared" / "spandex").iterdir()) == []  # nothing loaded from, or left in, it


@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_mask_on_the_spectra_is_the_torch_operations_bit_for_bit(dtype, monkeypatch):
    """relu(y + 1) on the noisy spectra: the denoised audio, its magnitudes, the N-DNS loss and y's gradient."""
    from engine.training.loss import batch_spectra, masked_denoise, ndns_loss

    generator = torch.Generator().manual_seed(8)
    noisy = torch.randn(2, 4000, generator=generator, dtype=torch.float64).to(dtype)
    clean = torch.randn(2, 4000, generator=generator, dtype=torch.float64).to(dtype)
    spectra = batch_spectra((noisy, clean))
    frames = spectra.noisy_magnitude.shape[-1]
    y0 = torch.randn(2, frames, 257, generator=generator, dtype=torch.float64).to(dtype).transpose(1, 2)

    def run():
        y = y0.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
        audio, magnitude = masked_denoise(y, spectra.noisy_spectrum, 4000, spectra.noisy_magnitude)
        loss, _ = ndns_loss(clean, audio, spectra.clean_magnitude, magnitude, 0.001)
        loss.backward()
        return audio.detach(), magnitude.detach(), loss.detach(), y.grad

    assert fused.takes_mask(y0, torch.view_as_real(spectra.noisy_spectrum), spectra.noisy_magnitude)
    kernels, loops = _both_ways(monkeypatch, run)
    _assert_identical(kernels[:3], loops[:3])
    # y's gradient: bit for bit where torch's addcmul fuses its multiply-add, as the kernel does (this CPU); a CPU
    # whose torch kernel does not would differ in the last bit
    torch.testing.assert_close(kernels[3], loops[3], rtol=1e-6 if dtype == torch.float32 else 1e-15, atol=0)
    assert (kernels[3] == 0).any() and (kernels[3] != 0).any()  # the ReLU closes some bins


@needs_kernels
def test_the_mask_gets_its_gradients_frame_major_without_a_copy(monkeypatch):
    """The inverse STFT's and the MSE term's gradients reach the mask's backward laid out as the spectra, so it
    copies neither (a bin-major gradient cost two copies, ~18 ms of a 16 × 4 s step)."""
    from engine.training.loss import batch_spectra, masked_denoise, ndns_loss

    generator = torch.Generator().manual_seed(9)
    noisy, clean = torch.randn(2, 2, 4000, generator=generator)
    spectra = batch_spectra((noisy, clean))
    y = torch.randn(2, spectra.noisy_magnitude.shape[-1], 257, generator=generator).transpose(1, 2)
    y.requires_grad_(True)
    answers = []
    takes_mask = fused.takes_mask
    monkeypatch.setattr(fused, "takes_mask", lambda *tensors: answers.append(takes_mask(*tensors)) or answers[-1])
    audio, magnitude = masked_denoise(y, spectra.noisy_spectrum, 4000, spectra.noisy_magnitude)
    ndns_loss(clean, audio, spectra.clean_magnitude, magnitude, 0.001)[0].backward()
    assert answers == [True, True]  # the forward's layouts, then the gradients' as they arrived
    assert y.grad is not None and y.grad.transpose(1, 2).is_contiguous()
