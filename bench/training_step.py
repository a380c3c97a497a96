"""Training-step speed on CPU, side by side in one run: lava-dl SLAYER's N-DNS graph vs. SPANDEX's SDNNGraph.

One step = STFT, forward, N-DNS loss, backward and RAdam update of the 257-512-512-257 network from
ndns_baseline.net, on random segments of real noisy speech (tests/corpus.py). For each batch x segment
length and torch thread count it prints seconds per step, milliseconds per audio frame and the speed-up.
The graphs compute the same forward values and gradients (tests/test_training_graph.py); SDNNGraph is
timed three times: all products in float32; with its backward products in bfloat16 (backward_precision); and
as 'auto' picks them without the batch's STFTs and magnitudes, which a CPU training run makes on the thread that
draws its next batch while the step before computes ("ahead": the step's time where that thread has a core).
With ``--baseline REV`` an earlier SDNNGraph is timed too, on the same batch: REV's engine/ is unpacked with
``git archive`` into a temporary folder and run there in a subprocess (after this process's steps for each
configuration), its backward products as this CPU's 'auto' picks them where REV has that choice (float32 before
it did); e.g. ``--baseline 0887902``, the graph as it was when issue 11 asked for a 2× faster step.
``--profile`` prints instead where one 16 × 4 s step spends its time (torch.profiler, one thread).
With ``--device cuda`` the same step of SDNNGraph is timed on the GPU too, on the same batch after the CPU's, its
backward products as 'auto' picks them there (the run's ``--device cuda``): the column "× cpu" is the GPU's speed-up
over the fastest full CPU step of that row, which issue 11 asks to measure when a GPU is at hand.

    .venv/bin/python bench/training_step.py [--repeats 3] [--quick] [--threads 1 2] [--baseline REV] [--profile]
                                            [--device cuda[:N]]

The machine is shared and noisy: read the ratios, measured back to back, more than absolute times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import engine.training  # noqa: E402,F401,I001  (first: it sets passive OpenMP waiting before torch loads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.constants import HOP, SAMPLE_RATE  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.training.device import backward_dtype, keep_freed_memory  # noqa: E402
from engine.training import fused  # noqa: E402
from engine.training.graph import SDNNGraph  # noqa: E402
from bench.revision import unpack_revision  # noqa: E402
from engine.training.loss import batch_spectra, masked_denoise, ndns_loss  # noqa: E402
from tests import corpus  # noqa: E402
from tests.slayer_reference import slayer_network  # noqa: E402

BASELINE = REPO.parent / "shared" / "reference_models" / "ndns_baseline.net"


class SlayerGraph(torch.nn.Module):
    """slayer's network with SDNNGraph's calling convention (magnitudes in, sigma output out)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.net = slayer_network(model, torch.float32)
        for p in self.net.parameters():
            p.requires_grad_(True)

    def forward(self, magnitude):
        return self.net(magnitude + self.net.offset)


def training_step(graph, forward, noisy, clean, spectra_ahead: bool = False) -> Callable[[], None]:
    """One full training step of ``graph`` on this batch (RAdam state kept between calls); with ``spectra_ahead``
    without the batch's STFTs and magnitudes, which a CPU training run makes on the thread that draws its batches
    (engine/training/prefetch.py) while the step before computes."""
    optimizer = torch.optim.RAdam([p for p in graph.parameters() if p.requires_grad], lr=1e-3)
    samples = noisy.shape[-1]
    ahead = batch_spectra((noisy, clean)) if spectra_ahead else None

    def step() -> None:
        batch = ahead if ahead is not None else batch_spectra((noisy, clean))
        y = forward(batch.noisy_magnitude)
        denoised, magnitude = masked_denoise(y, batch.noisy_spectrum, samples, batch.noisy_magnitude)
        loss, _ = ndns_loss(batch.clean, denoised, batch.clean_magnitude, magnitude, 0.001)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(graph.parameters(), 10.0)
        optimizer.step()
    return step


# Run in REV's unpacked tree: that revision's graph and loss (their signatures changed over time), the step
# as training_step() takes it, on the batch this process saved; prints the best seconds as JSON.
_BASELINE_STEP = """
import inspect, json, sys, time
sys.path.insert(0, ".")
import engine.training
import torch
torch.set_num_threads(int(sys.argv[3]))
try:
    from engine.files.netx import load_model
except ImportError:
    from engine.netx_io import load_model
from engine.training.graph import SDNNGraph
from engine.training.loss import denoise_batch, ndns_loss, stft
try:  # a training run keeps freed memory where REV can (as this process does)
    from engine.training.device import keep_freed_memory
except ImportError:
    pass
else:
    keep_freed_memory()
noisy, clean = torch.load(sys.argv[1])
graph = SDNNGraph.from_model(load_model(sys.argv[2]))
if sys.argv[5] == "bfloat16" and hasattr(graph, "backward_dtype"):  # the precision "auto" picks, where REV has it
    graph.backward_dtype = torch.bfloat16
optimizer = torch.optim.RAdam([p for p in graph.parameters() if p.requires_grad], lr=1e-3)
samples = noisy.shape[-1]
takes_magnitude = len(inspect.signature(denoise_batch).parameters) == 4
def step():
    spectrum = stft(noisy)
    magnitude = spectrum.abs()
    out = graph(magnitude)
    y = out.y if hasattr(out, "y") else out
    extra = (magnitude,) if takes_magnitude else ()
    denoised, denoised_magnitude = denoise_batch(torch.relu(y + 1), spectrum, samples, *extra)
    loss, _ = ndns_loss(clean, denoised, stft(clean).abs(), denoised_magnitude, 0.001)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(graph.parameters(), 10.0)
    optimizer.step()
best = float("inf")
for attempt in range(int(sys.argv[4]) + 1):
    start = time.perf_counter()
    step()
    if attempt:
        best = min(best, time.perf_counter() - start)
print(json.dumps(best))
"""


def baseline_seconds(tree: Path, noisy, clean, threads: int, repeats: int, precision: str) -> float:
    """Best seconds per step of the graph in ``tree`` on this batch (a subprocess, one warm-up), its backward
    products in ``precision`` where that revision can choose."""
    batch = tree.parent / "batch.pt"
    torch.save((noisy, clean), batch)
    done = subprocess.run([sys.executable, "-c", _BASELINE_STEP, str(batch), str(BASELINE), str(threads),
                           str(repeats), precision], cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"--baseline: the training step failed in that revision's own code: {last}")
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def random_segments(noisy_all: np.ndarray, clean_all: np.ndarray, rng: np.random.Generator, batch: int,
                    seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` paired segments of ``seconds`` (a whole number of hops) from random places in the recording."""
    samples = int(seconds * SAMPLE_RATE) // HOP * HOP
    starts = rng.integers(0, noisy_all.size - samples, batch)
    return (torch.from_numpy(np.stack([noisy_all[s:s + samples] for s in starts])),
            torch.from_numpy(np.stack([clean_all[s:s + samples] for s in starts])))


def profile_step(model, noisy_all: np.ndarray, clean_all: np.ndarray) -> None:
    """The profiler's table of one 16 × 4 s step of SDNNGraph as a training run takes it (backward products as
    'auto' picks them), after two warm-up steps."""
    from torch.profiler import profile

    torch.set_num_threads(1)
    noisy, clean = random_segments(noisy_all, clean_all, np.random.default_rng(0), 16, 4.0)
    graph = SDNNGraph.from_model(model)
    graph.backward_dtype = backward_dtype("auto", torch.device("cpu"))
    step = training_step(graph, lambda m: graph(m).y, noisy, clean)
    step()
    step()
    with profile(record_shapes=True) as recorded:
        step()
    print(recorded.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=30,
                                                                 max_name_column_width=28))


def gpu_seconds(model, noisy: torch.Tensor, clean: torch.Tensor, device: torch.device, repeats: int) -> float:
    """Best seconds of one full SDNNGraph step on ``device`` (a CUDA GPU) for this batch, moved there first, its
    backward products as a run's 'auto' picks them on that device; each step waited for (kernels run async)."""
    graph = SDNNGraph.from_model(model).to(device)
    graph.backward_dtype = backward_dtype("auto", device)
    step = training_step(graph, lambda m: graph(m).y, noisy.to(device), clean.to(device))

    def waited() -> None:
        step()
        torch.cuda.synchronize(device)
    return best_seconds({"gpu": waited}, repeats)["gpu"]


def cuda_device(spec: str) -> torch.device | str:
    """The torch device ``--device`` names, or why it cannot be used here."""
    try:
        device = torch.device(spec)
    except RuntimeError:
        return f"--device {spec!r}: give cuda or cuda:N"
    if device.type == "cpu":
        return f"--device {spec!r}: the CPU is always timed; give cuda or cuda:N for a GPU beside it"
    if device.type != "cuda":
        return f"--device {spec!r}: only a CUDA GPU is timed here; give cuda or cuda:N"
    if not torch.cuda.is_available():
        return (f"--device {spec}: torch {torch.__version__} sees no CUDA GPU here "
                f"({'no GPU or driver found' if torch.version.cuda else 'a build without CUDA'})")
    if device.index is not None and device.index >= torch.cuda.device_count():
        return f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0"
    return device


def best_seconds(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Best wall time of each step, the steps taking turns (load changes hit all alike); one warm-up each."""
    best = dict.fromkeys(steps, np.inf)
    for attempt in range(repeats + 1):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if attempt:
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed steps of each kind after a warm-up; the best "
                                                               "is shown (default 3)")
    parser.add_argument("--quick", action="store_true", help="only the 4 x 4 s batch (default: 4 x 4 s and 16 x 4 s)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], metavar="N",
                        help="torch thread counts to time (default: 1 2)")
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision's SDNNGraph (e.g. 0887902), "
                                                          "its backward products as 'auto' picks them where it can")
    parser.add_argument("--profile", action="store_true", help="instead: where one 16 x 4 s step of the graph "
                                                               "spends its time (torch.profiler, one thread, on the "
                                                               "CPU; not with --baseline or --device)")
    parser.add_argument("--device", metavar="cuda[:N]", help="also time the graph's step on this CUDA GPU, on the "
                                                              "same batches (the CPU's are timed as without it)")
    args = parser.parse_args()
    if args.profile and (args.baseline or args.device):
        parser.error(f"--profile profiles today's graph on the CPU only: leave out "
                     f"{'--baseline' if args.baseline else '--device'}")
    gpu = None if args.device is None else cuda_device(args.device)
    if isinstance(gpu, str):
        parser.error(gpu)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if any(n < 1 for n in args.threads):
        parser.error("--threads: each thread count must be at least 1")
    if args.baseline is not None and (not args.baseline.strip() or args.baseline.startswith("-")):
        parser.error(f"--baseline {args.baseline!r}: give a git revision (a commit, tag or branch)")
    scratch = tempfile.TemporaryDirectory(prefix="spandex-bench-")
    tree = unpack_revision(args.baseline, Path(scratch.name)) if args.baseline else None
    model = load_model(BASELINE)
    speech = corpus.joined_speech(corpus.speech_files(), 60.0)
    noisy_all, clean_all = corpus.typing_noise_mix(speech, corpus.keyboard_files())
    native = backward_dtype("auto", torch.device("cpu")) is not None  # this CPU multiplies bfloat16 natively
    precision = "bfloat16" if native else "float32"
    if tree:  # a revision whose step cannot run says so now, not after minutes of timing
        short = torch.from_numpy(noisy_all[None, :8192].copy()), torch.from_numpy(clean_all[None, :8192].copy())
        baseline_seconds(tree, *short, 1, 0, precision)
    keep_freed_memory()  # as a training run does (engine/training/trainer.py)
    if args.profile:
        profile_step(model, noisy_all, clean_all)
        return
    shapes = [(4, 4.0)] if args.quick else [(4, 4.0), (16, 4.0)]
    rng = np.random.default_rng(0)
    bf16 = backward_dtype("bfloat16", torch.device("cpu"))
    rev = args.baseline[:9] if tree else ""
    header = ["threads", "batch", "frames", "slayer s", *([f"{rev} s"] if tree else []), "graph f32 s",
              "graph bf16 s", "auto ahead s", "auto ms/frame", "× slayer", *([f"× {rev}", f"× {rev} ahead"] if tree else []),
              *(["gpu s", "× cpu"] if gpu else [])]
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch, seconds in shapes:
            noisy, clean = random_segments(noisy_all, clean_all, rng, batch, seconds)
            frames = batch * (noisy.shape[-1] // HOP + 1)
            slayer = SlayerGraph(model)
            exact, mixed, ahead = (SDNNGraph.from_model(model) for _ in range(3))
            mixed.backward_dtype = bf16
            ahead.backward_dtype = bf16 if native else None  # as the fastest full step
            t = best_seconds({
                "slayer": training_step(slayer, slayer, noisy, clean),
                "f32": training_step(exact, lambda m, g=exact: g(m).y, noisy, clean),
                "bf16": training_step(mixed, lambda m, g=mixed: g(m).y, noisy, clean),
                "ahead": training_step(ahead, lambda m, g=ahead: g(m).y, noisy, clean, spectra_ahead=True),
            }, args.repeats)
            fastest = t["bf16"] if native else t["f32"]
            row = [str(threads), f"{batch} × {seconds:g} s", str(frames), f"{t['slayer']:.2f}"]
            if tree:
                before = baseline_seconds(tree, noisy, clean, threads, args.repeats, precision)
                row.append(f"{before:.2f}")
            row += [f"{t['f32']:.2f}", f"{t['bf16']:.2f}", f"{t['ahead']:.2f}", f"{fastest / frames * 1e3:.3f}",
                    f"{t['slayer'] / fastest:.2f}x"]
            if tree:
                row += [f"{before / fastest:.2f}x", f"{before / t['ahead']:.2f}x"]
            if gpu:
                on_gpu = gpu_seconds(model, noisy, clean, gpu, args.repeats)
                row += [f"{on_gpu:.3f}", f"{fastest / on_gpu:.1f}x"]
            rows.append(row)
            print(f"(measured {row[1]} at {threads} thread{'s' if threads > 1 else ''})", file=sys.stderr)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for line in (header, *rows):
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths)))
    auto = "bfloat16 backward products: this CPU multiplies bfloat16 natively" if native else \
        "float32: this CPU has no native bfloat16 products (graph bf16 is emulated here)"
    legend = [
        f"One step: STFT, forward, N-DNS loss (100 - SI-SNR + 0.001 MSE), backward, clip, RAdam, in seconds: the best "
        f"of {args.repeats} after a warm-up, slayer and the graph's steps taking turns"
        + (f", then {args.baseline}'s graph in a subprocess (which keeps freed memory only where that revision can: "
           f"b9afc42 and later)." if tree else "."),
        "graph f32: every product in float32. graph bf16: the backward products in bfloat16. 'auto' is what "
        f"backward_precision: auto picks here ({auto}).",
        "auto ahead: that step without the batch's STFTs and magnitudes, which a CPU training run makes on the thread "
        "that draws its next batch while the step before computes: the step's time where that thread has a core.",
        "The graph's loops over frames (delta encoders, sigma, a hidden layer's sigma-ReLU-delta chain): "
        + ("compiled kernels (engine/training/fused.py)." if fused.available() else
           f"torch's, one kernel call a frame: the compiled kernels are {fused.why_unavailable()}."),
        "auto ms/frame and × slayer are of the full 'auto' step"
        + (f"; × {rev} compares it with {args.baseline}'s step, and × {rev} ahead the 'ahead' step." if tree else "."),
    ]
    if gpu:
        name = torch.cuda.get_device_name(gpu)
        legend.append(f"gpu: the full step of the graph on {gpu} ({name}, torch {torch.__version__}, CUDA "
                      f"{torch.version.cuda}; backward products in "
                      f"{'bfloat16' if backward_dtype('auto', gpu) else 'float32'}), the batch already there, each "
                      f"step waited for; × cpu: the full 'auto' CPU step of the row over it.")
    print()
    for paragraph in legend:
        print(textwrap.fill(paragraph, width=110))


if __name__ == "__main__":
    main()
