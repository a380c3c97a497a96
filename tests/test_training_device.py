"""The training step is device-agnostic: nothing in it is made on an implicit (CPU) device, ``--device cuda``
fails in one clear line where there is no CUDA, the bfloat16 backward products give float32's gradients
to mixed-precision accuracy, and a training process keeps the memory it frees."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import SpandexError
from engine.files.netx import load_model, save_netx
from engine.training.config import TrainConfig, dump_config
from engine.training.dataset import PairedClips
from engine.training.dataset_layout import split_folder
from engine.training.device import training_device
from engine.training.graph import SDNNGraph
from engine.training.trainer import _Run
from tests.reference_models import reference_path
from tests.test_training_runs import tiny_config

REPO = Path(__file__).resolve().parents[1]


def test_every_tensor_of_a_step_is_made_on_the_parameters_device(tiny_dataset, tmp_path):
    """With "meta" as the default device, any tensor the step created without naming a device would be a
    meta tensor and the first operation mixing it with the run's CPU tensors would fail."""
    config = tiny_config(tiny_dataset, device="cpu")
    run = _Run(config, tmp_path, emit=lambda e: None, device=torch.device("cpu"))
    clips = PairedClips.load(split_folder(tiny_dataset, "train"))
    run.train_step(clips, 8000)  # RAdam makes its step counters (torch's own, host-side) on the first step
    with torch.device("meta"):
        loss, si_snr, _ = run.train_step(clips, 8000)
    assert np.isfinite(loss) and np.isfinite(si_snr)
    for p in run.graph.parameters():
        assert p.device.type == "cpu"
        assert p.grad is None or p.grad.device.type == "cpu"
    assert run.step == 2


def test_what_a_step_needs_before_its_network_runs_is_made_on_the_batchs_device(tiny_dataset, tmp_path):
    """On a CPU run the batch's spectra and the teacher's output are made on the batch-drawing thread, outside the
    step: the same check as above, for them (on a GPU run they are made in the step, on the GPU)."""
    teacher = save_netx(SDNNGraph((257, 32, 32, 257), seed=5).to_model("teacher"), tmp_path / "teacher.net")
    run = _Run(tiny_config(tiny_dataset, teacher=str(teacher)), tmp_path, emit=lambda e: None,
               device=torch.device("cpu"))
    batch = PairedClips.load(split_folder(tiny_dataset, "train")).batch(np.random.default_rng(0), 2, 8000)
    with torch.device("meta"):
        prepared = run._prepare(batch)
    assert prepared.taught is not None
    made = [getattr(prepared.spectra, name) for name in prepared.spectra.__dataclass_fields__] + list(prepared.taught)
    for tensor in made:
        assert tensor.device.type == "cpu" and not tensor.requires_grad
        assert torch.isfinite(tensor).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_one_clear_line(tiny_dataset, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(dump_config(tiny_config(tiny_dataset)))
    result = subprocess.run([sys.executable, "-m", "cli.main", "train", str(recipe), "--device", "cuda",
                             "--out", str(tmp_path / "run")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CUDA is not available" in lines[0] and "--device cpu" in lines[0], result.stderr
    with pytest.raises(SpandexError, match="CUDA is not available"):
        training_device("cuda:0")


def test_unknown_devices_and_precisions_are_refused():
    with pytest.raises(SpandexError, match="device = 'gpu': must be cpu, cuda or cuda:N"):
        TrainConfig(name="x", dataset="d", device="gpu")
    with pytest.raises(SpandexError, match="backward_precision"):
        TrainConfig(name="x", dataset="d", backward_precision="fp8")
    with pytest.raises(SpandexError, match="unsupported training device"):
        training_device("meta")


def test_bfloat16_backward_gives_float32_gradients_to_mixed_precision_accuracy():
    model = load_model(reference_path("ndns_baseline.net"))
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(2, 257, 120, generator=generator) ** 3 * 3
    weight = torch.randn(2, 257, 120, generator=generator)
    grads = {}
    for precision in (None, torch.bfloat16):
        graph = SDNNGraph.from_model(model)
        graph.backward_dtype = precision
        (graph(x).y * weight).sum().backward()
        grads[precision] = [p.grad.double().flatten() for p in graph.parameters() if p.grad is not None]
    assert len(grads[None]) == 5  # three weight matrices, two delay vectors
    for exact, mixed in zip(grads[None], grads[torch.bfloat16]):
        assert exact.abs().max() > 0
        assert float((mixed - exact).norm() / exact.norm()) < 0.05  # bfloat16 keeps ~3 significant digits
        assert not torch.equal(mixed, exact)  # and it did run in bfloat16



_HEAP_FAULTS = """
import ctypes, resource, sys
libc = ctypes.CDLL(None)
assert libc.prctl(41, 1, 0, 0, 0) == 0  # PR_SET_THP_DISABLE: 4 KiB pages whatever the machine's huge-page setting
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
from engine.training.device import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
SIZE = 12 << 20  # a step's activation tensors are 4-16 MB; four of them held at once, then freed
def cycle():
    blocks = [libc.malloc(SIZE) for _ in range(4)]
    for block in blocks:
        ctypes.memset(block, 1, SIZE)
    for block in blocks:
        libc.free(block)
cycle()
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    cycle()
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_training_process_keeps_freed_memory_instead_of_faulting_it_in_again():
    """Four 12 MiB blocks allocated, written and freed, five times after two warm-up rounds, with plain malloc
    and free so that nothing else touches the heap in between. By default glibc gives the freed top of the heap
    back to the kernel (its trim threshold is twice the largest block freed so far), and every round faults all
    48 MiB in again: 12,288 pages a round. Kept, the heap stays at its peak and the rounds fault nothing.

    (This is the mechanism. A whole training step's faults depend on the order torch frees its tensors and on
    glibc's dynamic mmap threshold, and counting them flaked: 2,520 kept against 5,691 by default once in CI,
    500-2,000 against 34,000-100,000 here; the step's time with the memory kept is bench/training_step.py's.)"""
    def faults_in_5_rounds(mode: str) -> tuple[str, int]:
        done = subprocess.run([sys.executable, "-c", _HEAP_FAULTS, mode],
                              cwd=REPO, capture_output=True, text=True, check=True)
        kept, count = done.stdout.split()
        return kept, int(count)

    kept, with_keeping = faults_in_5_rounds("keep")
    assert kept == "True"
    _, by_default = faults_in_5_rounds("default")
    pages_a_round = 4 * (12 << 20) // 4096
    assert by_default >= 4 * pages_a_round, by_default  # measured: 61,280 (the heap's top pad stays)
    assert with_keeping <= pages_a_round // 100, with_keeping  # measured: 0


def test_the_training_step_bench_times_a_step_on_the_device_it_is_given(monkeypatch):
    """bench/training_step.py --device cuda: the GPU's step is the CPU's step with the graph moved to that device,
    every timed step waited for. Run here on the CPU (no GPU in CI) with the GPU's wait stubbed; a GPU session runs
    it for real."""
    from bench import training_step

    waits: list = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waits.append(device))
    model = SDNNGraph((257, 16, 16, 257), seed=2).to_model("m")
    noisy = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (2, 4096)).astype(np.float32))
    moved: list = []
    original = SDNNGraph.to

    def to(self, *args, **kwargs):
        moved.append(args[0] if args else kwargs.get("device"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SDNNGraph, "to", to)
    seconds = training_step.gpu_seconds(model, noisy, noisy * 0.5, torch.device("cpu"), repeats=2)
    assert seconds > 0 and moved == [torch.device("cpu")] and waits == [torch.device("cpu")] * 3  # warm-up + 2
    if not torch.cuda.is_available():
        assert "sees no CUDA GPU here" in training_step.cuda_device("cuda")
    assert "give cuda or cuda:N for a GPU" in training_step.cuda_device("cpu")
    assert "only a CUDA GPU is timed here" in training_step.cuda_device("meta")
