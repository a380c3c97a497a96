"""Lava backend speed, side by side in one run: lava-nc's stock DelayDense process model vs SPANDEX's.

Each row runs a model as Lava processes under ``Loihi2SimCfg(select_tag="fixed_pt")`` (the Lava backend,
engine/backends/lava.py), fed frame by frame with real noisy speech (tests/corpus.py), and prints the wall
time of one step (feed a frame, run one time step, collect the output and the spikes) — median and 90th
percentile — and the CPU time all of Lava's processes spent per step. One step is one 8 ms hop: a median
above 8 ms cannot keep up with live audio. Stock runs fewer frames: it takes ~0.1-0.3 s per step.

Run: ``.venv/bin/python bench/lava_backend.py [--frames 600] [--stock-frames 40]``. bench/engine.py prints
the same rows (:func:`lava_rows`) beside the dense and sparse backends, with fewer frames by default.
(Not ``bench/lava.py``: run as a script, that name would shadow the ``lava`` package.)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.backends.lava import LavaRunner  # noqa: E402
from engine.dsp.stft import streamed_magnitudes  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.snn.model import SDNNModel  # noqa: E402
from tests import corpus  # noqa: E402

REFERENCE_DIR = REPO.parent / "shared" / "reference_models"
HOP_MS = 8.0
LAVA_NETWORKS = ("ndns_baseline", "spandex_prune50", "spandex_prune75")


def cpu_seconds(pids: tuple[int, ...]) -> float:
    """User + system CPU time of these processes and of this one, in seconds."""
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])
    own = os.times()
    return ticks / os.sysconf("SC_CLK_TCK") + own.user + own.system


def time_steps(model, frames: np.ndarray, process_models: str) -> tuple[np.ndarray, float]:
    """Wall ms of each step and CPU ms per step (all of Lava's processes and this one)."""
    with LavaRunner(model, process_models=process_models) as runner:
        for frame in frames[:5]:  # first steps build the synapse tables
            runner.step(frame)
        runner.reset()
        times = np.empty(len(frames))
        cpu_before = cpu_seconds(runner.pids)
        for i, frame in enumerate(frames):
            start = time.perf_counter_ns()
            runner.step(frame)
            times[i] = (time.perf_counter_ns() - start) / 1e6
        cpu_ms = (cpu_seconds(runner.pids) - cpu_before) * 1e3 / len(frames)
    return times, cpu_ms


@dataclass(frozen=True)
class LavaRow:
    """One Lava measurement: a network on one DelayDense process model."""

    network: str
    process_models: str  # "fast" (SPANDEX's) or "stock" (lava-nc's)
    step_ms: np.ndarray
    cpu_ms: float

    @property
    def label(self) -> str:
        return "lava-nc stock" if self.process_models == "stock" else "SPANDEX fast"


def lava_rows(models: dict[str, SDNNModel], frames: np.ndarray, fast_frames: int, stock_frames: int,
              stock_network: str = "ndns_baseline") -> list[LavaRow]:
    """Time ``stock_network`` on lava-nc's stock model (unless ``stock_frames`` is 0), then every model on
    SPANDEX's, each on the first frames of ``frames``."""
    plan = [(stock_network, "stock", stock_frames)] if stock_frames else []
    plan += [(name, "fast", fast_frames) for name in models]
    rows = []
    for name, process_models, n in plan:
        times, cpu_ms = time_steps(models[name], frames[:n], process_models)
        rows.append(LavaRow(name, process_models, times, cpu_ms))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="frames per row for SPANDEX's model")
    parser.add_argument("--stock-frames", type=int, default=40, help="frames for lava-nc's stock model")
    args = parser.parse_args()
    speech = corpus.joined_speech(corpus.speech_files(), (args.frames + 10) * 0.008 + 0.1)
    noisy, _ = corpus.typing_noise_mix(speech, corpus.keyboard_files())
    frames = streamed_magnitudes(noisy)
    load = os.getloadavg()[0]
    print(f"real noisy speech; {os.cpu_count()} CPUs, load average {load:.1f} before the run\n")
    header = (f"{'network':<16} {'DelayDense model':<18} {'frames':>6} {'median ms':>9} {'p90 ms':>7} "
              f"{'CPU ms/step':>11} {'real time':>9}")
    print(header)
    print("-" * len(header))
    models = {name: load_model(REFERENCE_DIR / f"{name}.net") for name in LAVA_NETWORKS}
    rows = lava_rows(models, frames, args.frames, args.stock_frames)
    for row in rows:
        median = float(np.median(row.step_ms))
        print(f"{row.network:<16} {row.label:<18} {row.step_ms.size:6d} {median:9.1f} "
              f"{np.percentile(row.step_ms, 90):7.1f} {row.cpu_ms:11.1f} {'yes' if median <= HOP_MS else 'no':>9}")
    medians = {(r.network, r.process_models): float(np.median(r.step_ms)) for r in rows}
    if ("ndns_baseline", "stock") in medians:
        ratio = medians[("ndns_baseline", "stock")] / medians[("ndns_baseline", "fast")]
        print(f"\nstock / fast on ndns_baseline (median wall per step): {ratio:.0f}x")
    print(f"load average after the run: {os.getloadavg()[0]:.1f} (2 shared cores: expect noise)")


if __name__ == "__main__":
    main()
