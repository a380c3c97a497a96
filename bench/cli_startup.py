"""How long `spandex` takes to start: a few commands that do little, each timed in fresh processes.

Each command runs ``--repeats`` times (default 5) as ``python -m cli.main ...`` in a new process; the table gives
the median wall time and the median CPU time (user + system, from ``wait4``: the number to compare on a shared
machine). For scale, a bare ``python -c pass`` and ``import torch`` are timed too. With ``--baseline REV`` the
same commands also run from that git revision's files (``git archive`` into a temporary folder), each right
after today's, and the last column gives the ratio of CPU times.

    .venv/bin/python bench/cli_startup.py [--repeats 5] [--baseline 32a4a2e]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.revision import unpack_revision  # noqa: E402

COMMANDS: list[tuple[str, list[str]]] = [
    ("spandex --help", ["--help"]),
    ("spandex models", ["models"]),
    ("spandex denoise --help", ["denoise", "--help"]),
    ("spandex denoise missing.wav out.wav (refused)", ["denoise", "missing.wav", "out.wav"]),
    ("spandex train missing.yaml (refused)", ["train", "missing.yaml"]),
]
SCALE: list[tuple[str, list[str]]] = [
    ("python -c pass", ["-c", "pass"]),
    ("python -c 'import torch'", ["-c", "import torch"]),
]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``python argv`` (its exit status does not matter here)."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen is told
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def median_times(argv: list[str], cwd: Path, env: dict[str, str], repeats: int) -> tuple[float, float]:
    runs = [timed(argv, cwd, env) for _ in range(repeats)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--baseline", metavar="REV", help="also time this git revision's command line")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: give at least 1")
    with tempfile.TemporaryDirectory(prefix="spandex-startup-") as scratch:
        work = Path(scratch) / "work"  # the commands' working folder: nothing of the repository's in it
        work.mkdir()
        env = {**os.environ, "PYTHONPATH": str(REPO), "SPANDEX_MODELS_DIR": str(Path(scratch) / "library")}
        tree = unpack_revision(args.baseline, Path(scratch), ("engine", "cli", "app", "assets")) \
            if args.baseline else None
        rows = []
        for label, argv in SCALE:
            rows.append((label, *median_times(argv, work, env, args.repeats), None, None))
        for label, argv in COMMANDS:
            today = median_times(["-m", "cli.main", *argv], work, env, args.repeats)
            before = median_times(["-m", "cli.main", *argv], work, {**env, "PYTHONPATH": str(tree)},
                                  args.repeats) if tree else (None, None)
            rows.append((label, *today, *before))
            print(f"  {label}: done", flush=True)
    rev = args.baseline[:9] if args.baseline else ""
    print(f"\nMedian of {args.repeats} fresh processes each; wall s / CPU s (user + system).\n")
    header = "| command | wall s | CPU s |" + (f" {rev} wall s | {rev} CPU s | CPU × {rev} |" if rev else "")
    print(header)
    print("| --- | ---: | ---: |" + (" ---: | ---: | ---: |" if rev else ""))
    for label, wall, cpu, old_wall, old_cpu in rows:
        line = f"| {label} | {wall:.2f} | {cpu:.2f} |"
        if rev:
            line += (f" {old_wall:.2f} | {old_cpu:.2f} | {old_cpu / cpu:.1f} |" if old_cpu is not None
                     else " – | – | – |")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
