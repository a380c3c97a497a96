"""Telemetry counts the network's real events and real nonzero fan-out."""

import numpy as np
import pytest

from engine.backends import prepare
from engine.snn.model import DenseLayer, InputEncoder, SDNNModel
from engine.snn.telemetry import RunTotals


def small_model(rng) -> SDNNModel:
    w1 = rng.integers(-60, 60, size=(6, 5)).astype(np.int16) * 2
    w1[:, 2] = 0  # input neuron 2 has no synapses at all
    w1[rng.random(w1.shape) < 0.4] = 0
    w2 = rng.integers(-60, 60, size=(5, 6)).astype(np.int16) * 2
    w2[rng.random(w2.shape) < 0.5] = 0
    return SDNNModel(
        InputEncoder(size=5, threshold_mant=6),
        (DenseLayer(w1, 6, rng.integers(0, 4, size=6).astype(np.int32)), DenseLayer(w2, 6, sigma_output=True)),
        name="small",
    )


def test_synops_are_delivered_events_times_nonzero_fan_out():
    rng = np.random.default_rng(3)
    model = small_model(rng)
    runner = prepare(model, "dense")
    fan1 = np.count_nonzero(model.layers[0].weight_mant, axis=0)
    fan2 = np.count_nonzero(model.layers[1].weight_mant, axis=0)
    # brute force: replay the hidden layer's emitted spikes through its delays by hand
    delays = 1 + model.layers[0].delays
    emitted_hidden, totals = [], RunTotals(layer_sizes=(5, 6))
    for t in range(60):
        mask, frame = runner.step(np.abs(rng.normal(size=5)) * 3)
        emitted_hidden.append(frame.fired[1])
        arrived = np.array([t - d >= 0 and emitted_hidden[t - d][i] for i, d in enumerate(delays)])
        expected = int(fan1[frame.fired[0]].sum() + fan2[arrived].sum())
        assert frame.synops == expected
        assert frame.synops_dense == int(frame.fired[0].sum()) * 6 + int(arrived.sum()) * 5
        assert frame.events == (int(frame.fired[0].sum()), int(frame.fired[1].sum()))
        assert frame.neuronops == 5 + 6
        totals.add(frame)
    assert totals.frames == 60
    assert totals.synops_per_frame < totals.synops_dense_per_frame
    assert all(0.0 <= s < 1.0 for s in totals.activity_sparsity)


def test_silence_costs_only_neuron_updates():
    model = small_model(np.random.default_rng(4))
    runner = prepare(model, "dense")
    totals = RunTotals(layer_sizes=(5, 6))
    for _ in range(30):
        totals.add(runner.step(np.full(5, 0.2))[1])  # |X| = 0.2 is exactly 0 after the -0.2 offset
    assert totals.synops == 0 and totals.activity_sparsity == (1.0, 1.0)
    assert totals.power_proxy_mops == (10 * 11) / 0.008 / 1e6


def test_run_totals_keep_a_fixed_size_and_the_median_compute_time_within_half_a_percent():
    """A 3-hour file is 1.35 million frames: the totals must not keep one number per frame."""
    from engine.snn.telemetry import FrameTelemetry

    rng = np.random.default_rng(2)
    times = rng.lognormal(np.log(150_000), 0.6, 20_001).astype(np.int64)
    totals = RunTotals(layer_sizes=(2,))
    size = totals.compute_histogram.nbytes
    for ns in times:
        totals.add(FrameTelemetry(fired=(np.zeros(2, bool),), events=(0,), synops=0, synops_dense=0, neuronops=0,
                                  compute_ns=int(ns)))
    assert totals.compute_histogram.nbytes == size
    assert totals.compute_us_per_frame == pytest.approx(np.median(times) / 1e3, rel=0.005)
