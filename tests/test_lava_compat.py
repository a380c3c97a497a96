"""engine.lava_compat: lava-dl 0.6.0 / lava-nc 0.10.0 import, train and run on Python 3.11.

The real packages are used throughout. The Lava run happens in a child process in its own session, with
a timeout, so that a hung Lava runtime cannot hang the suite and so that any process it leaves behind
can be found (and killed) afterwards.
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np
import pytest

from engine import lava_compat
from engine.errors import SpandexError
from engine.lava_compat import LavaUnavailableError
from tests.lava_session import run_in_own_session

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
BASELINE_NET = SHARED / "reference_models" / "ndns_baseline.net"

LAVA_RUN_TIMEOUT_S = 240
LAVA_STEPS = 6
FIRST_INPUT_STEP = 1  # 0-based column of the first nonzero input frame
N_DENSE_LAYERS = 3  # the baseline after its input layer: Dense 257->512->512->257

# N-DNS-style sigma-delta neuron parameters (threshold 6/64; the activation is added where torch is imported).
SDNN_PARAMS = {"threshold": 6 / 64, "tau_grad": 0.1, "scale_grad": 0.8,
               "requires_grad": False, "shared_param": True}


@pytest.fixture(scope="module")
def baseline_net() -> Path:
    if not BASELINE_NET.is_file():
        pytest.fail(f"reference model missing: {BASELINE_NET} (shared/ must sit beside the repository)")
    return BASELINE_NET


@pytest.fixture(scope="module")
def slayer():
    return lava_compat.import_slayer()


def test_import_slayer_returns_slayer_and_object_detection_is_a_clear_error(slayer) -> None:
    assert slayer.__name__ == "lava.lib.dl.slayer"
    assert lava_compat.import_slayer() is slayer  # idempotent
    with pytest.raises(LavaUnavailableError, match="object detection is disabled"):
        slayer.obd.YOLOBase  # noqa: B018 - the attribute access is what raises


def test_sigma_delta_dense_block_trains(slayer) -> None:
    import torch

    torch.manual_seed(0)
    params = {**SDNN_PARAMS, "activation": torch.nn.functional.relu}
    blocks = torch.nn.ModuleList([
        slayer.block.sigma_delta.Input(params),
        slayer.block.sigma_delta.Dense(params, 16, 24, weight_norm=False, delay=True, delay_shift=True),
        slayer.block.sigma_delta.Output(params, 24, 16, weight_norm=False),
    ])
    x = torch.rand(2, 16, 30)  # batch, features, time
    y = x
    for block in blocks:
        y = block(y)
    assert y.shape == (2, 16, 30)
    assert torch.isfinite(y).all() and y.abs().sum() > 0

    (y ** 2).mean().backward()
    dense = blocks[1]
    assert dense.synapse.weight.grad is not None and dense.synapse.weight.grad.abs().sum() > 0
    assert dense.delay.delay.grad is not None and torch.isfinite(dense.delay.delay.grad).all()
    assert blocks[2].synapse.weight.grad.abs().sum() > 0


def test_var_model_imports_with_independent_encoder_defaults() -> None:
    var_model = lava_compat.import_lava("lava.magma.compiler.var_model")
    first, second = var_model.CoreEncoder(), var_model.CoreEncoder()
    assert first == second == var_model.CoreEncoder(x=var_model.ByteEncoder(), y=var_model.ByteEncoder(),
                                                    p=var_model.ByteEncoder())
    assert first.x is not second.x and first.x is not first.y
    first.x.ptr = 7
    assert second.x.ptr == 0 and var_model.CoreEncoder().x.ptr == 0
    chip, axon = var_model.ChipEncoder(), var_model.AxonEncoder()
    assert len({id(chip.x), id(chip.y), id(chip.z), id(axon.hi), id(axon.lo)}) == 5


def test_standard_dataclasses_are_restored_after_the_import() -> None:
    lava_compat.prepare_lava()

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

    with pytest.raises(ValueError, match="mutable default"):
        @dataclasses.dataclass
        class WithUnhashableDefault:
            value: Unhashable = Unhashable()

    with pytest.raises(ValueError, match="mutable default"):  # even for the module the shim was for
        @dataclasses.dataclass
        class PosingAsVarModel:
            __module__ = "lava.magma.compiler.var_model"
            value: Unhashable = Unhashable()

    with pytest.raises(ValueError, match="mutable default"):
        @dataclasses.dataclass
        class WithListDefault:
            values: list = []  # noqa: RUF012 - the point of the test


def test_import_lava_rejects_non_lava_modules() -> None:
    with pytest.raises(ValueError, match="not a lava module"):
        lava_compat.import_lava("os")


def test_missing_lava_is_a_clear_spandex_error(tmp_path: Path) -> None:
    """An interpreter without lava (a bare venv) gets LavaUnavailableError, not an ImportError."""
    assert issubclass(LavaUnavailableError, SpandexError)
    bare = tmp_path / "bare-venv"
    venv.create(bare, with_pip=False)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from engine.lava_compat import LavaUnavailableError, import_netx\n"
        "try:\n"
        "    import_netx()\n"
        "except LavaUnavailableError as exc:\n"
        "    print('ERROR:', exc)\n"
    )
    result = subprocess.run([str(bare / "bin" / "python"), "-I", "-c", probe, str(REPO_ROOT)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "ERROR: lava-nc and lava-dl not installed" in result.stdout
    assert "make setup" in result.stdout


@pytest.mark.filterwarnings("ignore:Found max delay:UserWarning")  # netx clamps one delay of 64 to 62
def test_netx_loads_the_ndns_baseline(baseline_net: Path) -> None:
    netx = lava_compat.import_netx()
    net = netx.hdf5.Network(net_config=str(baseline_net))
    assert len(net) == 1 + N_DENSE_LAYERS
    assert net.inp.shape == (257,) and net.out.shape == (257,)
    assert [type(layer).__name__ for layer in net.layers] == ["Input", "Dense", "Dense", "Dense"]


@pytest.mark.slow
def test_lava_runs_the_baseline_and_leaves_no_process_behind(baseline_net: Path, tmp_path: Path) -> None:
    """A few frames through the N-DNS baseline under Loihi2SimCfg('fixed_pt'), in a child session."""
    out_file = tmp_path / "lava_out.npz"
    run = run_in_own_session("from tests.test_lava_compat import _lava_run_main; _lava_run_main()",
                             [str(baseline_net), str(out_file)], timeout_s=LAVA_RUN_TIMEOUT_S)
    assert run.returncode == 0, run.output
    assert run.leftovers == [], f"Lava left processes behind: {run.leftovers}\n{run.output}"

    result = np.load(out_file)
    inputs, outputs = result["inputs"], result["outputs"]
    assert outputs.shape == (257, LAVA_STEPS)
    assert np.isfinite(outputs).all() and np.array_equal(outputs, np.round(outputs))
    # Each Dense layer adds one time step: nothing can come out before the first input has crossed all
    # three, and once it has, the output is not silent.
    arrival = FIRST_INPUT_STEP + N_DENSE_LAYERS
    assert not inputs[:, :FIRST_INPUT_STEP].any()
    assert not outputs[:, :arrival].any(), "output before the input could have reached it"
    assert np.count_nonzero(outputs[:, arrival:]) > 0, "the network produced no output for a nonzero input"


def _lava_run_main() -> None:
    """Child process body: run the baseline for LAVA_STEPS steps; always stop the runtime."""
    net_path, out_path = sys.argv[1], sys.argv[2]
    netx = lava_compat.import_netx()
    source_mod = lava_compat.import_lava("lava.proc.io.source")
    sink_mod = lava_compat.import_lava("lava.proc.io.sink")
    run_configs = lava_compat.import_lava("lava.magma.core.run_configs")
    run_conditions = lava_compat.import_lava("lava.magma.core.run_conditions")

    # The netx Input layer takes its input through its bias; streaming input skips it and feeds the first
    # Dense layer with graded spikes (what the input layer's sigma-delta encoder would emit; 1.0 = 64).
    net = netx.hdf5.Network(net_config=net_path, skip_layers=1, input_message_bits=24)
    inputs = np.zeros((257, LAVA_STEPS), dtype=np.int32)
    inputs[:, FIRST_INPUT_STEP] = np.random.default_rng(0).integers(0, 128, size=257)
    inputs[::3, FIRST_INPUT_STEP + 1] = -20  # a decrease on a third of the bins, as a delta encoder sends
    source = source_mod.RingBuffer(data=inputs)
    sink = sink_mod.RingBuffer(shape=net.out.shape, buffer=LAVA_STEPS)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    started = time.perf_counter()
    try:
        sink.run(condition=run_conditions.RunSteps(num_steps=LAVA_STEPS),
                 run_cfg=run_configs.Loihi2SimCfg(select_tag="fixed_pt"))
        outputs = sink.data.get()
    finally:
        sink.stop()
    print(f"lava: {LAVA_STEPS} steps in {time.perf_counter() - started:.2f} s (compile included)")
    np.savez(out_path, inputs=inputs, outputs=outputs)
