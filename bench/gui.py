"""What the GUI costs: CPU of the GUI process and of the engine process, main view and demo mode, beside an
empty window, in one run.

Each case runs in a child process of its own (offscreen Qt unless ``--platform`` says otherwise), one after
the other, for ``--seconds`` after a warm-up:

- ``empty``: a QApplication and an empty main window of the same size, nothing else — what Qt itself
  costs here (the floor);
- ``main``: the real main window on three models (``--models``), the engine in its own process playing
  the demo clip on its internal clock (no sound card needed), the plots at the window's frame rate;
- ``demo``: the same in demo mode (full screen, big numbers, two spectrograms).

CPU comes from /proc (user + system time of each process over the measured seconds, as a share of one
core); ``fps`` is the window's own plot-timer rate; ``paints/s`` counts the window's backing-store syncs
(Qt's ``UpdateRequest``: each paints whatever changed, then flushes it to the screen), so a window that
really paints every frame shows about one sync per tick. The machine's load average is printed too: on a
shared 2-core machine the numbers move with what else runs, so compare the rows of one run.

``--against DIR`` measures another checkout of SPANDEX in the same run (e.g. ``git worktree add /tmp/before
main``): each case runs for both, one after the other, so that both see the same load.

``--platform xcb`` paints to an X server instead (run under ``xvfb-run -a -s "-screen 0 1280x800x24"`` or on
a desktop): the flushes to the server are then part of the GUI's cost (the server's own CPU is not counted).

Run: ``.venv/bin/python bench/gui.py [--seconds 20] [--models A B C] [--against DIR] [--platform xcb]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = ("spandex-dense", "spandex-prune75", "spandex-prune90")
CASES = ("empty", "main", "demo")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_for(app, seconds: float) -> None:
    """Run Qt's own event loop for ``seconds`` (the app's timers fire as in the app; nothing spins)."""
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def child(args: argparse.Namespace) -> None:
    """One case; prints one JSON line."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.repo:  # the checkout measured: its app and engine (the engine process inherits sys.path)
        sys.path.insert(0, args.repo)
    from PySide6 import QtCore, QtWidgets

    class SyncCounter(QtCore.QObject):
        """Counts the window's backing-store syncs (UpdateRequest events)."""

        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def eventFilter(self, watched, event) -> bool:
            if event.type() == QtCore.QEvent.Type.UpdateRequest:
                self.count += 1
            return False

    app = QtWidgets.QApplication(["spandex-bench-gui"])
    engine_pid = None
    if args.case == "empty":
        window = QtWidgets.QMainWindow()
        window.resize(1280, 800)
        window.show()
        host = None
    else:
        from app.launch import DEMO_CLIP, AppOptions, engine_config
        from app.window.main_window import MainWindow
        from engine.live.host import EngineHost

        settings = QtCore.QSettings(str(Path(args.workdir) / "settings.ini"), QtCore.QSettings.Format.IniFormat)
        options = AppOptions(models=args.models, output="none", file=str(DEMO_CLIP), backend="sparse")
        host = EngineHost(engine_config(options, settings)).start()
        window = MainWindow(host, DEMO_CLIP, settings, backend="sparse")
        window.resize(1280, 800)
        window.show()
        deadline = time.monotonic() + 300
        while len(window.controller.models) < len(args.models) and time.monotonic() < deadline:
            run_for(app, 0.2)
        if args.case == "demo":
            window.controller.set_demo_mode(True)
        engine_pid = host.pid
    run_for(app, args.warmup)
    syncs = SyncCounter()
    window.installEventFilter(syncs)
    ticks0 = getattr(window, "ticks", 0)
    gui0 = process_cpu_s(os.getpid())
    engine0 = process_cpu_s(engine_pid) if engine_pid else 0.0
    start = time.monotonic()
    run_for(app, args.seconds)
    elapsed = time.monotonic() - start
    gui = process_cpu_s(os.getpid()) - gui0
    engine = process_cpu_s(engine_pid) - engine0 if engine_pid else None
    ticks = getattr(window, "ticks", 0) - ticks0
    window.removeEventFilter(syncs)
    result = {"case": args.case, "seconds": elapsed, "gui_pct": 100 * gui / elapsed,
              "engine_pct": None if engine is None else 100 * engine / elapsed, "fps": ticks / elapsed,
              "paints": syncs.count / elapsed, "models": len(window.controller.models) if host is not None else 0}
    if host is not None:
        window.shutdown()
        host.stop()
    window.close()
    window.deleteLater()
    app.processEvents()
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--models", nargs="+", default=list(MODELS), metavar="MODEL")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--against", metavar="DIR", help="another checkout, measured in the same run")
    parser.add_argument("--platform", default="offscreen", choices=("offscreen", "xcb"),
                        help="Qt platform (xcb: the X server in $DISPLAY)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--repo", default="", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        child(args)
        return
    trees = [("this", "")]
    if args.against:
        trees.insert(0, (Path(args.against).name, str(Path(args.against).resolve())))
    results = []
    for case in args.cases:
        for tree, repo in trees if case != "empty" else trees[-1:]:
            with tempfile.TemporaryDirectory() as workdir:
                load = os.getloadavg()[0]
                env = {**os.environ, "QT_QPA_PLATFORM": args.platform, "XDG_CONFIG_HOME": workdir}
                command = [sys.executable, __file__, "--case", case, "--workdir", workdir, "--repo", repo,
                           "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--models", *args.models]
                run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.seconds + 600)
            lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
            if run.returncode != 0 or not lines:
                print(f"{case} ({tree}): the run failed (exit {run.returncode}):\n{run.stderr[-3000:]}",
                      file=sys.stderr)
                continue
            result = json.loads(lines[-1])
            result["tree"] = tree
            result["load"] = (load, os.getloadavg()[0])
            results.append(result)
    print(f"\nGUI cost: {len(args.models)} models ({', '.join(args.models)}), sparse backend, the demo clip as "
          f"the microphone, Qt {args.platform} at 1280×800, {args.seconds:.0f} s per case, {os.cpu_count()} cores\n")
    header = (f"{'case':<6} {'tree':<10} {'GUI CPU':>8} {'engine CPU':>10} {'plot fps':>8} {'paints/s':>8} "
              f"{'GUI CPU ms/frame':>16} {'models':>6} {'load 1m':>12}")
    print(header)
    print("-" * len(header))
    for r in results:
        engine = "—" if r["engine_pct"] is None else f"{r['engine_pct']:.0f}%"
        per_frame = f"{10 * r['gui_pct'] / r['fps']:.1f}" if r["fps"] > 0 else "—"
        print(f"{r['case']:<6} {r['tree']:<10} {r['gui_pct']:7.1f}% {engine:>10} {r['fps']:8.1f} {r['paints']:8.1f} "
              f"{per_frame:>16} {r['models']:6d} {r['load'][0]:5.2f}→{r['load'][1]:<5.2f}")
    empty = next((r for r in results if r["case"] == "empty"), None)
    if empty:
        print("\nabove the empty window: " + ", ".join(
            f"{r['case']} ({r['tree']}) {r['gui_pct'] - empty['gui_pct']:+.0f} points" for r in results
            if r is not empty))
    print("GUI CPU = the GUI process's share of one core (user + system); engine CPU = the engine process's;\n"
          "paints/s = the window's backing-store syncs a second (one per frame when every plot is painted in\n"
          "the same sync); GUI CPU ms/frame = GUI CPU time per plot-timer tick (less sensitive to a busy\n"
          "machine capping the fps).")


if __name__ == "__main__":
    main()
