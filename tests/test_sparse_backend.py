"""The sparse event-driven backend gives exactly the dense backend's masks and telemetry.

Tolerance: none. The sparse kernel computes in 64-bit fixed point what the dense backend computes in
float64, and both are exact on these values (see engine/backends/sparse_kernel.py), so every mask, every
spike flag and every count must be equal — on the real reference networks, on randomly pruned ones from
0 to 95% weight sparsity, and on degenerate ones (a layer with no weights at all).
"""

import contextlib
import sys

import numpy as np
import pytest

from engine.backends import BACKEND_NAMES, prepare
from engine.dsp.stft import streamed_magnitudes
from engine.errors import AudioInputError, ModelFileError, SpandexError
from engine.files.netx import load_model
from engine.snn.model import DenseLayer, InputEncoder, SDNNModel
from tests.reference_models import REFERENCE_NETS, reference_path


@pytest.fixture(scope="module")
def noisy_frames(noisy_speech) -> np.ndarray:
    """10 s of real speech in typing noise as |STFT| frames (1249 frames)."""
    return streamed_magnitudes(noisy_speech[0])


def run(runner, frames: np.ndarray) -> tuple[np.ndarray, list]:
    masks, telemetry = [], []
    for frame in frames:
        mask, frame_telemetry = runner.step(frame)
        masks.append(mask)
        telemetry.append(frame_telemetry)
    return np.stack(masks), telemetry


def assert_same_run(model: SDNNModel, frames: np.ndarray) -> list:
    """Run both backends on ``frames``; assert identical masks and telemetry; return the telemetry."""
    dense_masks, dense = run(prepare(model, "dense"), frames)
    sparse_masks, sparse = run(prepare(model, "sparse"), frames)
    np.testing.assert_array_equal(sparse_masks, dense_masks)

    def counts(telemetry):
        return np.array([(*t.events, t.synops, t.synops_dense, t.neuronops) for t in telemetry])

    np.testing.assert_array_equal(counts(sparse), counts(dense))
    for layer in range(len(model.layers)):
        fired_sparse = np.stack([t.fired[layer] for t in sparse])
        assert fired_sparse.dtype == bool
        np.testing.assert_array_equal(fired_sparse, np.stack([t.fired[layer] for t in dense]))
    assert all(len(t.fired) == len(model.layers) for t in sparse)
    return sparse


def pruned_at_random(model: SDNNModel, sparsity: float, seed: int) -> SDNNModel:
    """``model`` with a random ``sparsity`` fraction of its weights set to zero, layer by layer."""
    rng = np.random.default_rng(seed)
    layers = []
    for layer in model.layers:
        weight = layer.weight_mant.copy()
        weight.flat[rng.permutation(weight.size)[: int(round(sparsity * weight.size))]] = 0
        layers.append(DenseLayer(weight, layer.threshold_mant, layer.delays, layer.sigma_output))
    return SDNNModel(model.encoder, tuple(layers), name=f"{model.name} random {sparsity:.0%}")


@pytest.mark.parametrize("name", REFERENCE_NETS)
def test_reference_nets_sparse_equals_dense(name, noisy_frames):
    model = load_model(reference_path(f"{name}.net"))
    telemetry = assert_same_run(model, noisy_frames)
    # the run exercised the network: spikes in every layer, SynOps well below the dense count
    assert np.all(np.sum([t.events for t in telemetry], axis=0) > 0)
    synops = sum(t.synops for t in telemetry)
    assert 0 < synops < sum(t.synops_dense for t in telemetry)


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.95])
def test_randomly_pruned_nets_sparse_equals_dense(sparsity, noisy_frames):
    baseline = load_model(reference_path("ndns_baseline.net"))
    model = pruned_at_random(baseline, sparsity, seed=int(sparsity * 100))
    assert model.weight_sparsity >= sparsity
    telemetry = assert_same_run(model, noisy_frames[:400])
    assert sum(t.events[0] for t in telemetry) > 0


def test_a_layer_without_weights(noisy_frames):
    baseline = load_model(reference_path("spandex_prune75.net"))
    first, middle, last = baseline.layers
    empty = DenseLayer(np.zeros_like(middle.weight_mant), middle.threshold_mant, middle.delays)
    model = SDNNModel(baseline.encoder, (first, empty, last), name="middle layer all zero")
    telemetry = assert_same_run(model, noisy_frames[:300])
    assert sum(t.events[1] for t in telemetry) > 0  # layer 1 spikes into nothing
    assert sum(t.events[2] for t in telemetry) == 0  # so layer 2 never fires


def test_small_nets_with_odd_shapes_and_delays():
    """Random little nets: one to three layers, neurons with no synapses, long delays, big inputs."""
    rng = np.random.default_rng(7)
    for trial in range(20):
        n_in = int(rng.integers(1, 9))
        sizes = [n_in, *rng.integers(1, 12, size=int(rng.integers(0, 3))).tolist(), n_in]
        layers = []
        for index, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            weight = (rng.integers(-128, 128, size=(b, a)) * 2).astype(np.int16)
            weight[rng.random(weight.shape) < rng.random()] = 0
            last = index == len(sizes) - 2
            delays = None if last or rng.random() < 0.3 else rng.integers(0, 70, size=b).astype(np.int32)
            layers.append(DenseLayer(weight, int(rng.integers(1, 20)), delays, sigma_output=last))
        model = SDNNModel(InputEncoder(n_in, int(rng.integers(1, 20))), tuple(layers), name=f"small {trial}")
        frames = np.abs(rng.normal(size=(150, n_in))) * rng.choice([0.1, 3.0, 300.0])
        assert_same_run(model, frames)


def test_reset_restarts_the_stream_exactly(noisy_frames):
    model = load_model(reference_path("ndns_baseline.net"))
    runner = prepare(model, "sparse")
    first, _ = run(runner, noisy_frames[:300])
    runner.reset()
    again, _ = run(runner, noisy_frames[:300])
    np.testing.assert_array_equal(again, first)
    # a reset mid-stream (delay rings full of spikes on their way) forgets all of it
    run(runner, noisy_frames[500:537])
    runner.reset()
    after_reset, telemetry = run(runner, noisy_frames[:300])
    np.testing.assert_array_equal(after_reset, first)
    assert telemetry[0].events[2] == 0  # no spike left on its way to layer 2 from before the reset


def test_runners_side_by_side_are_independent(noisy_frames):
    frames = noisy_frames[:300]
    models = [load_model(reference_path(f"{name}.net")) for name in ("spandex_prune50", "spandex_prune75")]
    alone = [run(prepare(model, "sparse"), frames)[0] for model in models]
    # the same model twice, one of them on another input, and another model: interleaved frame by frame
    runners = [prepare(models[0], "sparse"), prepare(models[1], "sparse"), prepare(models[0], "sparse")]
    other_input = frames[::-1]
    together = [[], [], []]
    for frame, other in zip(frames, other_input):
        together[0].append(runners[0].step(frame)[0])
        together[1].append(runners[1].step(frame)[0])
        together[2].append(runners[2].step(other)[0])
    np.testing.assert_array_equal(np.stack(together[0]), alone[0])
    np.testing.assert_array_equal(np.stack(together[1]), alone[1])
    np.testing.assert_array_equal(np.stack(together[2]), run(prepare(models[0], "sparse"), other_input)[0])


def test_every_listed_backend_prepares_a_runner_of_that_name():
    model = load_model(reference_path("spandex_prune75.net"))
    for name in BACKEND_NAMES:
        if name == "lava":  # Lava starts OS processes: tested in a child session (tests/test_lava_backend.py)
            continue
        with contextlib.closing(prepare(model, name)) as runner:
            assert runner.name == name and runner.model is model and runner.latency_frames == 0
    with pytest.raises(SpandexError, match="unknown backend 'nope'; available: dense, sparse, lava"):
        prepare(model, "nope")


def test_missing_numba_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # what an environment without numba imports
    for module in ("engine.backends.sparse", "engine.backends.sparse_kernel"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(SpandexError, match="the sparse backend needs numba.*make setup"):
        prepare(load_model(reference_path("spandex_prune75.net")), "sparse")


@pytest.mark.parametrize("backend", ["dense", "sparse"])
def test_bad_frames_get_clear_errors(backend):
    runner = prepare(load_model(reference_path("spandex_prune75.net")), backend)
    with pytest.raises(ValueError, match="a frame is 257 |STFT| magnitudes, got an array of shape"):
        runner.step(np.zeros(256))
    with pytest.raises(ValueError, match="shape"):
        runner.step(np.zeros((257, 2)))
    bad = np.ones(257)
    bad[17] = np.nan
    with pytest.raises(AudioInputError, match="NaN or infinite"):
        runner.step(bad)
    bad[17] = np.inf
    with pytest.raises(AudioInputError, match="NaN or infinite"):
        runner.step(bad)
    runner.step(np.ones(257, dtype=np.float32))  # any real dtype is fine


def test_sparse_refuses_values_beyond_its_exact_range():
    runner = prepare(load_model(reference_path("spandex_prune75.net")), "sparse")
    runner.step(np.full(257, 1e6))  # far louder than any |STFT| of audio in [-1, 1] (at most 512): fine
    runner.reset()
    with pytest.raises(AudioInputError, match="exact range"):
        runner.step(np.full(257, 1e12))


def hidden_layer_model(hidden: int) -> SDNNModel:
    first = np.zeros((hidden, 4), dtype=np.int16)
    last = np.full((4, hidden), 2, dtype=np.int16)
    return SDNNModel(InputEncoder(4, 6), (DenseLayer(first, 6), DenseLayer(last, 6, sigma_output=True)))


def test_sparse_refuses_models_outside_its_fixed_point():
    with pytest.raises(ModelFileError, match="8193 nonzero inputs.*at most 8192"):
        prepare(hidden_layer_model(8193), "sparse")
    with pytest.raises(ModelFileError, match="65537 neurons.*at most 65536"):
        prepare(hidden_layer_model(65537), "sparse")
    model = load_model(reference_path("spandex_prune75.net"))
    odd_step = SDNNModel(InputEncoder(257, 6, step=0.01), model.layers)
    with pytest.raises(ModelFileError, match="input step 0.01 is not a multiple of 2\\^-18"):
        prepare(odd_step, "sparse")
    assert prepare(odd_step, "dense")  # the dense backend runs any step


def test_sparse_memory_is_its_nonzero_weights(noisy_frames):
    model = load_model(reference_path("spandex_prune75.net"))
    network = prepare(model, "sparse").network
    nonzero = model.n_nonzero_synapses
    assert network.targets.size == network.mantissas.size == nonzero
    assert network.targets.dtype == np.uint16 and network.mantissas.dtype == np.int16
    assert network.nbytes < 4 * nonzero + 20_000  # 4 bytes per synapse plus per-neuron pointers
