"""The sigma-delta step functions, on hand-computed cases."""

import numpy as np

from engine.snn.neurons import (
    DelayParams,
    DelayState,
    DeltaParams,
    DeltaState,
    SigmaState,
    delay_step,
    delta_step,
    quantize_input,
    sigma_step,
)


def run_delta(values, threshold, step=2.0 ** -12):
    state, params, out = DeltaState.zeros(1), DeltaParams(threshold, step), []
    for v in values:
        y, state = delta_step(np.array([v]), state, params)
        out.append(y[0])
    return out, state


def test_delta_sends_change_once_it_reaches_threshold_and_keeps_the_rest():
    out, state = run_delta([0.05, 0.10, 0.10, 0.0], threshold=0.09375)
    # 0.05 < threshold: kept as residual; 0.05 + 0.05 = 0.10 sent; no change; -0.10 sent
    assert out[0] == 0.0
    assert out[1] == np.floor(0.10 * 4096) / 4096
    assert out[2] == 0.0
    assert out[3] == np.floor(-0.10 * 4096) / 4096
    assert state.residual[0] == 0.0


def test_delta_threshold_is_inclusive():
    out, _ = run_delta([0.09375], threshold=0.09375)
    assert out[0] == 0.09375


def test_delta_does_not_mutate_its_state():
    state = DeltaState(np.array([0.5]), np.array([0.01]))
    delta_step(np.array([1.0]), state, DeltaParams(0.1))
    assert state.previous[0] == 0.5 and state.residual[0] == 0.01


def test_sigma_reconstructs_what_delta_encoded():
    rng = np.random.default_rng(1)
    signal = np.cumsum(rng.normal(size=(200, 8)), axis=0)
    d_state, s_state = DeltaState.zeros(8), SigmaState.zeros(8)
    for x in signal:
        spikes, d_state = delta_step(x, d_state, DeltaParams(0.3))
        total, s_state = sigma_step(spikes, s_state)
        # reconstruction error stays within threshold plus the flooring error accumulated
        assert np.all(np.abs(total - x) < 0.3 + 0.01)


def test_delay_line_delays_each_neuron_by_its_own_amount():
    params = DelayParams(np.array([1, 3, 0]))
    state = DelayState.zeros(3, params)
    outputs = []
    for t in range(6):
        out, state = delay_step(np.array([t + 1.0, 10 * (t + 1.0), 100 * (t + 1.0)]), state, params)
        outputs.append(out)
    outputs = np.array(outputs)
    np.testing.assert_array_equal(outputs[:, 0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(outputs[:, 1], [0, 0, 0, 10, 20, 30])
    np.testing.assert_array_equal(outputs[:, 2], [100, 200, 300, 400, 500, 600])


def test_input_quantisation_rounds_half_to_even_like_torch():
    import torch

    x = np.array([0.5, 1.5, 2.5, -0.5, 0.3, 0.7]) / 64
    np.testing.assert_array_equal(
        quantize_input(x, 1 / 64), (torch.round(torch.tensor(x) * 64) / 64).numpy())
