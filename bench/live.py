"""The live app under load: real audio through virtual devices, the GUI up, three models, 60 s.

A private PipeWire server (tests/virtual_audio.py) provides the microphone ``mic_feed`` (fed with real
noisy speech, looping) and the speaker ``app_out``. For each run — the engine in its own process (the
app's choice) or in a thread of the GUI process, with an output buffer of N hops — a child process opens the real main window
(offscreen Qt) on three models (``--models``: library names or files; by default the shipped dense, 75 % and
90 % models, the ladder a demo A/Bs) on ``--backend`` and runs for ``--seconds``; then a table is printed:

- xruns: PortAudio's status flags (input/output over- and underflows) counted in the callback;
- gaps: callbacks whose stream clock jumped by more than 1.5 blocks — cycles the sound server
  skipped (PipeWire's JACK drops a late client's cycle without any PortAudio flag);
- worker late / trims: callbacks that found the output ring short, and latency trims after them;
- GUI fps: timer ticks that redrew every plot, per second (mean and 5th percentile over 1 s windows);
- callback µs: time inside the audio callback (p50 / p99 / max);
- CPU µs per hop per model: thread CPU time of each network step (median / p99), and the worker's
  wall time per hop for everything (STFT, three models, inverse STFTs, telemetry);
- process CPU: the engine's and the GUI's share of one core over the run.

Run: ``.venv/bin/python bench/live.py [--seconds 60] [--runs bare:0 process:2 process:3 thread:2]
[--backend dense|sparse|lava] [--models A B C] [--sample-every S]`` (ENGINE:BUFFER — the output buffer in hops, the app's
``--buffer``; ``bare:0`` is the control: a PortAudio client that only copies input to output, no engine,
no GUI — the gaps the sound server makes anyway). The machine's load average is printed too: on a shared
2-core machine the numbers move with what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.recfunctions import repack_fields

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.constants import HOP, SAMPLE_RATE  # noqa: E402 (after the path that finds it)
from tests.lava_session import descendants  # noqa: E402

MODELS = ("spandex-dense", "spandex-prune75", "spandex-prune90")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def control_child(args: argparse.Namespace) -> None:
    """The control run: a bare PortAudio client on the same devices (input copied to output, nothing else:
    no engine, no models, no GUI), counting gaps and flags as the engine's callback does. What it counts,
    the sound server does to any client on this machine."""
    from engine.live import devices as audio_device
    from engine.live.record import PA_XRUNS

    audio_device.rescan()
    flags = []
    gaps = [0]
    last = [0.0]
    durations = []

    def callback(indata, outdata, frames, status, stream_time):
        start = time.perf_counter_ns()
        if last[0] > 0.0 and stream_time - last[0] > 1.5 * frames / SAMPLE_RATE:
            gaps[0] += 1
        last[0] = stream_time
        flags.append(status)
        outdata[:] = indata
        durations.append(time.perf_counter_ns() - start)

    stream = audio_device.open_stream(audio_device.find_device("mic_feed", "input"),
                                      audio_device.find_device("app_out", "output"), callback)
    time.sleep(5.0)
    del flags[:], durations[:]
    gaps[0] = 0
    time.sleep(args.seconds)
    stream.close()
    audio_device.terminate()
    callback_us = np.array(durations) / 1e3
    print(json.dumps({
        "engine": "bare:0", "seconds": args.seconds, "hops": len(flags),
        "xruns": int(np.count_nonzero(np.array(flags) & PA_XRUNS)), "gaps": gaps[0], "worker_late": 0, "trims": 0,
        "fps_mean": 0.0, "fps_p5": 0.0, "priority": "normal",
        "callback_us": [float(np.percentile(callback_us, q)) for q in (50, 99)] + [float(callback_us.max())],
        "model_cpu_us": {}, "worker_us": [0.0, 0.0], "engine_cpu_pct": None, "gui_cpu_pct": 0.0,
        "paced": {}, "samples": [],
    }), flush=True)


def child(args: argparse.Namespace) -> None:
    """One run: the main window with the engine placed as asked; prints one JSON line of results."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtWidgets

    from app.launch import DEMO_CLIP, AppOptions, engine_config
    from app.window.main_window import MainWindow
    from engine.live import protocol
    from engine.live.host import EngineHost

    app = QtWidgets.QApplication(["spandex-bench"])
    settings = QtCore.QSettings(str(Path(args.workdir) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    options = AppOptions(models=args.models, input="mic_feed", output="app_out", engine=args.engine,
                         backend=args.backend, prefill_hops=args.buffer)
    host = EngineHost(engine_config(options, settings), mode=args.engine).start()
    window = MainWindow(host, DEMO_CLIP, settings, backend=args.backend)
    window.show()
    window.controller.on_event(host.wait_event(protocol.ModelsChanged, 300, lambda e: len(e.models) == len(args.models)))
    # what the table needs from every hop and callback, in storage filled before measuring starts: the GUI
    # process's memory over a soak is then the app's, not this bench's bookkeeping
    capacity = int((args.seconds + 10) * SAMPLE_RATE / HOP * 1.1)
    kept_frames: _Kept | None = None
    kept_callbacks = _Kept(np.dtype(np.int64), capacity)
    read_frames, read_callbacks = host.read_frames, host.read_callbacks

    def keep_frames(limit=None):
        nonlocal kept_frames
        records = read_frames(limit)
        wanted = records[["t", "cpu_ns", "worker_ns", "fallback", "out_ring_samples"]]
        if kept_frames is None:
            kept_frames = _Kept(repack_fields(wanted).dtype, capacity)
        if measuring:
            kept_frames.add(wanted)
        return records

    def keep_callbacks():
        callbacks = read_callbacks()
        if measuring:
            kept_callbacks.add(callbacks["duration_ns"])
        return callbacks

    host.read_frames, host.read_callbacks = keep_frames, keep_callbacks
    # sleep until the window's timers (30 Hz plots, 4 Hz text) or the engine wake the loop: polling with a
    # time limit returns at once when nothing is pending, and the spinning counted as the GUI's CPU
    WAIT = QtCore.QEventLoop.ProcessEventsFlag.AllEvents | QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents
    measuring = False
    deadline = time.monotonic() + 5.0  # warm up: stream open, caches, first redraws
    while time.monotonic() < deadline:
        app.processEvents(WAIT)
    measuring = True
    before = host.counters()
    ticks_before = window.ticks
    engine_pid = host.pid
    engine_cpu0 = process_cpu_s(engine_pid)
    gui_cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime
    start = time.monotonic()
    per_second, last_second, last_ticks = [], start, window.ticks
    samples, next_sample = [], start
    while time.monotonic() - start < args.seconds:
        app.processEvents(WAIT)
        now = time.monotonic()
        if now - last_second >= 1.0:
            per_second.append((window.ticks - last_ticks) / (now - last_second))
            last_second, last_ticks = now, window.ticks
        if now >= next_sample:  # memory of every process, and the latency heard, over the run
            samples.append({"t": now - start, "gui_mb": rss_mb(os.getpid()), "engine_mb": rss_mb(engine_pid),
                            "lava_mb": sum(rss_mb(pid) for pid in descendants(engine_pid)),
                            "buffer_ms": 1e3 * window.controller.status_info.buffer_latency_s if window.controller.status_info else float("nan"),
                            "counters": host.counters()})
            next_sample += args.sample_every
    elapsed = time.monotonic() - start
    after = host.counters()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    process_total = usage.ru_utime + usage.ru_stime - gui_cpu0
    engine_cpu = process_cpu_s(engine_pid) - engine_cpu0 if args.engine == "process" else None
    ticks = window.ticks - ticks_before
    window.shutdown()
    host.stop()
    window.close()
    window.deleteLater()
    app.processEvents()
    assert kept_frames is not None
    records = kept_frames.rows()
    cpu_us = records["cpu_ns"][:, :len(args.models)] / 1e3
    paced = [i for i, m in enumerate(window.controller.models) if m.get("twin")]
    fallback = records["fallback"][:, paced]
    minute = np.floor((records["t"] - records["t"][0]) / 60.0)
    ring_ms = records["out_ring_samples"] / 16.0  # the output buffer's fill, at 16 kHz, in ms
    callback_us = kept_callbacks.rows() / 1e3
    delta = {k: after[k] - before[k] for k in after}
    print(json.dumps({
        "engine": f"{args.engine}:{args.buffer}", "seconds": elapsed, "hops": delta["hops"],
        "priority": window.controller.stream_info.priority if window.controller.stream_info else "?",
        "xruns": delta["input_underflow"] + delta["input_overflow"] + delta["output_underflow"]
        + delta["output_overflow"],
        "gaps": delta["device_gaps"], "worker_late": delta["ring_late"], "trims": delta["latency_trims"],
        "fps_mean": ticks / elapsed, "fps_p5": float(np.percentile(per_second, 5)) if per_second else 0.0,
        "callback_us": [float(np.percentile(callback_us, q)) for q in (50, 99)] + [float(callback_us.max())],
        "model_cpu_us": {n: [float(np.median(cpu_us[:, i])), float(np.percentile(cpu_us[:, i], 99))]
                         for i, n in enumerate(args.models)},
        "worker_us": [float(np.median(records["worker_ns"]) / 1e3),
                      float(np.percentile(records["worker_ns"], 99) / 1e3)],
        "engine_cpu_pct": None if engine_cpu is None else 100 * engine_cpu / elapsed,
        "gui_cpu_pct": 100 * process_total / elapsed,
        # per paced (Lava) slot: the share of hops whose mask came from the CPU twin, and why
        "paced": {window.controller.models[i]["name"]: {"late": float(np.mean(fallback[:, k] == 1)),
                                             "out_of_step": float(np.mean(fallback[:, k] == 2)),
                                             "failed": float(np.mean(fallback[:, k] == 3))}
                  for k, i in enumerate(paced)},
        "ring_ms_per_minute": [[float(np.median(ring_ms[minute == m])), float(np.percentile(ring_ms[minute == m], 99))]
                               for m in np.unique(minute)],
        "samples": samples,
    }), flush=True)


class _Kept:
    """Rows appended into an array allocated and written once up front (every page resident before the
    measurement), so that keeping them does not grow the process; rows beyond ``capacity`` are dropped."""

    def __init__(self, dtype: np.dtype, capacity: int) -> None:
        self._rows = np.zeros(capacity, dtype)
        self._rows.view(np.uint8)[:] = 0  # touch every page now (np.zeros maps them lazily)
        self._count = 0

    def add(self, values: np.ndarray) -> None:
        n = min(values.size, self._rows.size - self._count)
        self._rows[self._count:self._count + n] = values[:n]
        self._count += n

    def rows(self) -> np.ndarray:
        return self._rows[:self._count]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0



def print_soak(r: dict) -> None:
    """Memory and latency over a long run: start (after the first minute's start-up) against the end."""
    samples = r["samples"]
    print(f"\nsoak, {r['engine']}: {r['seconds'] / 60:.1f} min, one sample every "
          f"{samples[1]['t'] - samples[0]['t'] if len(samples) > 1 else 0:.0f} s")
    print(f"{'min':>5} {'GUI MB':>7} {'engine MB':>9} {'Lava MB':>8} {'buffer ms':>9} {'late':>6} {'trims':>6} "
          f"{'gaps':>6}")
    step = max(1, len(samples) // 12)
    for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        c = s["counters"]
        print(f"{s['t'] / 60:5.1f} {s['gui_mb']:7.1f} {s['engine_mb']:9.1f} {s['lava_mb']:8.1f} "
              f"{s['buffer_ms']:9.1f} {c['ring_late']:6d} {c['latency_trims']:6d} {c['device_gaps']:6d}")
    after_start = [s for s in samples if s["t"] >= 60.0] or samples
    first, last = after_start[0], samples[-1]
    for key, name in (("gui_mb", "GUI"), ("engine_mb", "engine"), ("lava_mb", "Lava")):
        print(f"RSS growth {name}: {last[key] - first[key]:+.1f} MB from minute {first['t'] / 60:.0f} "
              f"({first[key]:.1f} → {last[key]:.1f} MB)")
    ring = r["ring_ms_per_minute"]
    print("output buffer fill per minute (ms, median/p99): "
          + ", ".join(f"{m:.1f}/{p:.1f}" for m, p in ring))
    if len(ring) > 2:
        print(f"latency drift: {ring[-1][0] - ring[1][0]:+.2f} ms (median buffer fill, last minute against the "
              f"second)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", nargs="+", default=["bare:0", "process:2", "process:3"],
                        metavar="ENGINE:BUFFER", help="engine placement and output buffer in hops, per run")
    parser.add_argument("--models", nargs="+", default=list(MODELS), metavar="MODEL",
                        help="library names or model files, all loaded at once (default: %(default)s)")
    parser.add_argument("--backend", default="sparse", choices=("dense", "sparse", "lava"),
                        help="backend of every model (default: %(default)s); lava: Lava in a process of its "
                             "own, paced beside a CPU twin (the table says how often the twin was heard)")
    parser.add_argument("--sample-every", type=float, default=10.0,
                        help="seconds between memory and latency samples (a soak: --seconds 1800)")
    parser.add_argument("--engine", default="process", choices=("process", "thread", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--buffer", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        control_child(args) if args.engine == "bare" else child(args)
        return

    import tempfile

    from tests import corpus
    from tests.virtual_audio import VirtualAudio

    speech = corpus.joined_speech(corpus.speech_files(), 30.0)
    noisy, _ = corpus.typing_noise_mix(speech, corpus.keyboard_files())
    results = []
    for run_spec in args.runs:
        engine, buffer = run_spec.split(":")
        audio = VirtualAudio(rate=SAMPLE_RATE).start()
        try:
            load_before = os.getloadavg()[0]
            repeats = int(np.ceil((args.seconds + 40) / (noisy.size / SAMPLE_RATE)))
            player = audio.play(np.tile(noisy, repeats))
            with tempfile.TemporaryDirectory() as workdir:
                env = {**os.environ, **audio.jack_env(), "QT_QPA_PLATFORM": "offscreen"}
                run = subprocess.run([sys.executable, __file__, "--child", "--engine", engine, "--buffer", buffer,
                                      "--seconds", str(args.seconds), "--workdir", workdir, "--backend",
                                      args.backend, "--sample-every", str(args.sample_every),
                                      "--models", *args.models],
                                     env=env, capture_output=True, text=True, timeout=args.seconds + 300)
            player.kill()
            player.wait()
            lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
            if run.returncode != 0 or not lines:
                print(f"{engine}: the run failed (exit {run.returncode}):\n{run.stderr[-3000:]}", file=sys.stderr)
                continue
            result = json.loads(lines[-1])
            result["load"] = (load_before, os.getloadavg()[0])
            results.append(result)
        finally:
            audio.stop()

    print(f"\n{len(args.models)} models loaded ({', '.join(args.models)}), {args.backend} backend, GUI up (offscreen Qt), "
          f"PipeWire null sinks at 16 kHz, quantum 128, {os.cpu_count()} cores\n")
    header = (f"{'engine:buf':<10} {'s':>4} {'hops':>6} {'xruns':>5} {'gaps':>5} {'late':>5} {'trims':>5} {'fps':>5} "
              f"{'fps p5':>6} {'callback µs p50/p99/max':>24} {'worker µs p50/p99':>18} {'engine CPU':>10} "
              f"{'GUI CPU':>8} {'load 1m':>11}")
    print(header)
    print("-" * len(header))
    for r in results:
        cb = "/".join(f"{v:.0f}" for v in r["callback_us"])
        worker = "/".join(f"{v:.0f}" for v in r["worker_us"])
        engine_cpu = f"{r['engine_cpu_pct']:.0f}%" if r["engine_cpu_pct"] is not None else \
            "—" if r["engine"].startswith("bare") else "(in GUI)"
        print(f"{r['engine']:<10} {r['seconds']:4.0f} {r['hops']:6d} {r['xruns']:5d} {r['gaps']:5d} {r['worker_late']:5d} "
              f"{r['trims']:5d} {r['fps_mean']:5.1f} {r['fps_p5']:6.1f} {cb:>24} {worker:>18} {engine_cpu:>10} "
              f"{r['gui_cpu_pct']:7.0f}% {r['load'][0]:5.2f}→{r['load'][1]:<5.2f}")
    print("\nengine worker scheduling: " + ", ".join(f"{r['engine']} {r['priority']}" for r in results))
    print("\nCPU per hop per model (thread CPU time of the network step, µs, median / p99):")
    for r in results:
        per_model = ", ".join(f"{n} {v[0]:.0f}/{v[1]:.0f}" for n, v in r["model_cpu_us"].items())
        print(f"  {r['engine']:<10} {per_model}")
    paced = [r for r in results if r.get("paced")]
    if paced:
        print("\nLava slots: hops whose mask came from the CPU twin because Lava "
              "was late / restarted / failed:")
        for r in paced:
            for name, share in r["paced"].items():
                print(f"  {r['engine']:<10} {name}: late {share['late']:.2%}, out of step {share['out_of_step']:.2%}, "
                      f"failed {share['failed']:.2%} of {r['hops']} hops")
    for r in results:
        if r["seconds"] >= 300 and r.get("samples"):
            print_soak(r)
    print("\nengine:buf = where the engine runs (its own process, or a thread of the GUI process) and its "
          "output buffer in 8 ms hops.")
    print("gaps = cycles the sound server skipped (stream clock jumped; no PortAudio flag).")
    print("xruns = PortAudio status flags; late = callbacks that found the worker's output not ready "
          "(silence played); trims = latency trims after late hops; a hop is 8 ms (8000 µs).")


if __name__ == "__main__":
    main()
