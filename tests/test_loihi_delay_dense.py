"""FastDelayDenseModel against lava-nc's own bit-accurate DelayDense model, output for output.

Each case runs a real ``DelayDense`` process between lava-nc RingBuffers, once with the stock
``PyDelayDenseModelBitAcc`` and once with SPANDEX's model, under ``Loihi2SimCfg(select_tag="fixed_pt")``,
in a child process of its own session (see tests/lava_session.py). Everything the synapse sends on every
step, and its ``a_buff`` and ``weights`` Vars at the end, must be identical.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from engine.files.netx import load_model
from tests.lava_session import run_in_own_session
from tests.reference_models import reference_path

TIMEOUT_S = 420


def _cases() -> dict[str, dict]:
    """Synapse configurations and inputs, one per way the two models could part."""
    rng = np.random.default_rng(7)
    baseline = load_model(reference_path("ndns_baseline.net")).layers[1]

    def graded(n: int, steps: int, density: float, high: int) -> np.ndarray:
        values = rng.integers(-high, high, size=(n, steps))
        values[rng.random((n, steps)) > density] = 0
        values[:, 3] = 0  # a silent step
        return values.astype(np.int32)

    n_out, n_in = baseline.weight_mant.shape
    return {
        # the N-DNS baseline's second layer as netx builds it: one delay per output neuron, up to 62
        "baseline layer 2": dict(
            weights=baseline.weight_mant.astype(int),
            delays=np.repeat(np.minimum(baseline.delays, 62)[:, None], n_in, axis=1).astype(int),
            weight_exp=0, num_weight_bits=8, num_message_bits=24, max_delay=62,
            spikes=graded(n_in, 70, 0.25, 1 << 12)),
        # arbitrary per-synapse delays, mixed weights truncated to 6 bits, shifted right by 2
        "per-synapse delays": dict(
            weights=rng.integers(-256, 255, size=(20, 30)),
            delays=rng.integers(0, 12, size=(20, 30)),
            weight_exp=-2, num_weight_bits=6, num_message_bits=24, max_delay=0,
            spikes=graded(30, 25, 0.4, 1 << 14)),
        # binary spikes, excitatory weights shifted left
        "binary spikes": dict(
            weights=rng.integers(0, 256, size=(16, 24)) * (rng.random((16, 24)) < 0.6),
            delays=rng.integers(0, 5, size=(16, 24)),
            weight_exp=3, num_weight_bits=8, num_message_bits=0, max_delay=0,
            spikes=(rng.random((24, 20)) < 0.3).astype(np.int32)),
        # spikes of 2^23 and more: products overflow int32 and must wrap as the stock model's do
        "int32 wrap-around": dict(
            weights=rng.integers(-256, 255, size=(12, 10)),
            delays=rng.integers(0, 4, size=(12, 10)),
            weight_exp=0, num_weight_bits=8, num_message_bits=24, max_delay=0,
            spikes=graded(10, 16, 0.5, 1 << 30)),
    }


@pytest.mark.slow
def test_fast_delay_dense_equals_stock_bit_for_bit(tmp_path: Path) -> None:
    cases = _cases()
    inputs = tmp_path / "cases.npz"
    np.savez(inputs, **{f"{name}|{key}": np.asarray(value) for name, case in cases.items()
                        for key, value in case.items()})
    outputs = tmp_path / "outputs.npz"
    run = run_in_own_session("from tests.test_loihi_delay_dense import _child; _child()",
                             [str(inputs), str(outputs)], timeout_s=TIMEOUT_S)
    assert run.returncode == 0, run.output
    assert run.leftovers == [], f"Lava left processes behind: {run.leftovers}"
    results = np.load(outputs)
    for name, case in cases.items():
        assert str(results[f"{name}|stock|model"]) == "PyDelayDenseModelBitAcc"
        assert str(results[f"{name}|fast|model"]) == "FastDelayDenseModel"
        stock, fast = results[f"{name}|stock|a_out"], results[f"{name}|fast|a_out"]
        assert stock.shape == (case["weights"].shape[0], case["spikes"].shape[1])
        assert np.count_nonzero(stock) > stock.size // 10, f"{name}: the synapse hardly sent anything"
        np.testing.assert_array_equal(fast, stock, err_msg=name)
        for var in ("a_buff", "weights"):
            np.testing.assert_array_equal(results[f"{name}|fast|{var}"], results[f"{name}|stock|{var}"],
                                          err_msg=f"{name}: {var}")


def _child() -> None:
    """Child process body: run every case with both process models; stop the runtime every time."""
    from engine.lava_compat import import_lava
    from engine.loihi.delay_dense import DelayDense, FastDelayDenseModel

    source_mod = import_lava("lava.proc.io.source")
    sink_mod = import_lava("lava.proc.io.sink")
    run_configs = import_lava("lava.magma.core.run_configs")
    run_conditions = import_lava("lava.magma.core.run_conditions")
    stored = np.load(sys.argv[1])
    cases: dict[str, dict] = {}
    for key in stored.files:
        name, field = key.split("|")
        cases.setdefault(name, {})[field] = stored[key]
    results = {}
    for name, case in cases.items():
        for label, models in (("stock", {}), ("fast", {DelayDense: FastDelayDenseModel})):
            spikes = case["spikes"]
            synapse = DelayDense(weights=case["weights"], delays=case["delays"].astype(int),
                                 max_delay=int(case["max_delay"]), weight_exp=int(case["weight_exp"]),
                                 num_weight_bits=int(case["num_weight_bits"]),
                                 num_message_bits=int(case["num_message_bits"]))
            source = source_mod.RingBuffer(data=spikes)
            sink = sink_mod.RingBuffer(shape=synapse.a_out.shape, buffer=spikes.shape[1])
            source.s_out.connect(synapse.s_in)
            synapse.a_out.connect(sink.a_in)
            try:
                sink.run(condition=run_conditions.RunSteps(num_steps=spikes.shape[1]),
                         run_cfg=run_configs.Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map=models))
                results[f"{name}|{label}|a_out"] = sink.data.get()
                results[f"{name}|{label}|a_buff"] = synapse.a_buff.get()
                results[f"{name}|{label}|weights"] = synapse.weights.get()
                results[f"{name}|{label}|model"] = np.array(synapse.model_class.__name__)
            finally:
                sink.stop()
    np.savez(sys.argv[2], **results)
