"""Long files through `spandex denoise`: peak memory and time, streamed from disk to disk vs held whole.

Builds real noisy speech (the shipped demo clip, tiled) as 16 kHz 16-bit WAV files of 10 minutes and of
``--hours`` (default 3), then runs, each in a fresh process measured with ``wait4`` (peak RSS of that process):

- ``spandex denoise IN OUT`` (streams in 4 s blocks) on both files;
- the whole-file path the CLI used before (``load_audio`` → ``denoise`` → ``write_wav``) on the 10-minute
  file only, side by side, and whether its output is bit-identical to the streamed one.

Prints progress while each run goes (from the size of the output written so far) and a table at the end.
Target: a 3-hour file under 500 MB peak RSS.

    .venv/bin/python bench/long_file.py [--hours 3] [--backend dense|sparse] [--model NAME] [--dir FOLDER]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.files.audio import load_audio  # noqa: E402

DEMO = REPO / "assets" / "demo" / "noisy_speech.flac"
TARGET_MB = 500
WHOLE_FILE = """
import sys
from engine.files.audio import load_audio, write_wav
from engine.backends import prepare
from engine.denoiser import denoise
from engine.library.catalog import resolve_model
audio = load_audio(sys.argv[1])
write_wav(sys.argv[2], denoise(audio, prepare(resolve_model(sys.argv[3] or None), sys.argv[4])).audio)
"""


def build_input(path: Path, minutes: float) -> Path:
    """Tile the demo clip (real noisy speech) to ``minutes``, written block by block."""
    if path.is_file() and abs(sf.info(path).duration - minutes * 60) < 1:
        return path
    clip = load_audio(DEMO)
    total = int(minutes * 60 * 16000)
    with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as out:
        written = 0
        while written < total:
            block = clip[:total - written]
            out.write(block)
            written += block.size
    return path


def measured_run(label: str, command: list[str], out: Path, expected_bytes: int) -> tuple[float, float, float, int]:
    """Run ``command``; report progress from OUT's temporary file; return (wall s, CPU s, peak RSS MB, exit code).

    CPU time (user + system) is the number to compare on a shared machine: wall time there says how busy the
    other processes kept the cores."""
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    done = threading.Event()

    def report() -> None:
        while not done.wait(15):
            written = sum(p.stat().st_size for p in out.parent.glob(f".{out.name}.*.tmp") if p.exists())
            share = f"{100 * written / expected_bytes:5.1f} % written" if written else "starting"
            print(f"  {label}: {time.monotonic() - start:6.0f} s, {share}", flush=True)

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - start
    done.set()
    reader.join(timeout=5)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"  {label} failed ({code}): {b''.join(errors).decode(errors='replace')[-2000:]}", file=sys.stderr)
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--backend", default="dense", choices=("dense", "sparse"))
    parser.add_argument("--model", default="", help="library name or file (default: the shipped default model)")
    parser.add_argument("--dir", type=Path, help="where the input files go (default: a temporary folder)")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="spandex-long-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"building inputs in {folder} ...", flush=True)
    short = build_input(folder / "noisy-10min.wav", 10)
    long = build_input(folder / f"noisy-{args.hours:g}h.wav", args.hours * 60)
    model = ["--model", args.model] if args.model else []
    rows = []
    runs = [("streamed (spandex denoise)", short, 10.0, "stream"), ("whole file in memory (before)", short, 10.0,
            "whole"), ("streamed (spandex denoise)", long, args.hours * 60, "stream")]
    outputs = {}
    for label, source, minutes, mode in runs:
        out = folder / f"out-{mode}-{source.stem}.wav"
        out.unlink(missing_ok=True)
        if mode == "stream":
            command = [sys.executable, "-m", "cli.main", "denoise", str(source), str(out), "--backend", args.backend,
                       *model]
        else:
            command = [sys.executable, "-c", WHOLE_FILE, str(source), str(out), args.model, args.backend]
        print(f"{label}, {minutes:g} min of audio:", flush=True)
        seconds, cpu, peak_mb, code = measured_run(label, command, out, int(minutes * 60 * 16000 * 2))
        outputs[(mode, source)] = out
        rows.append((label, minutes, seconds, cpu, peak_mb, code))
    identical = np.array_equal(sf.read(outputs[("stream", short)], dtype="int16")[0],
                               sf.read(outputs[("whole", short)], dtype="int16")[0])
    print()
    print(f"backend {args.backend}, model {args.model or 'shipped default'}; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")
    header = (f"| {'run':<30} | audio min | wall s | CPU s | × real time (CPU) | peak RSS MB | MB per audio min "
              f"| exit |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for label, minutes, seconds, cpu, peak_mb, code in rows:
        print(f"| {label:<30} | {minutes:9.0f} | {seconds:6.0f} | {cpu:5.0f} | {minutes * 60 / cpu:17.1f} "
              f"| {peak_mb:11.0f} | {peak_mb / minutes:16.2f} | {code:4d} |")
    print(f"\n10-minute outputs, streamed vs whole file: {'bit-identical' if identical else 'DIFFERENT'}")
    long_peak = rows[-1][4]
    met = long_peak < TARGET_MB and rows[-1][5] == 0
    print(f"target: a {args.hours:g}-hour file under {TARGET_MB} MB peak RSS: "
          f"{'met' if met else 'NOT met'} ({long_peak:.0f} MB)")
    if not args.dir:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return 0 if met and identical and all(r[5] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
