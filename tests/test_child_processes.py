"""Children the app stops in order ignore the terminal's Ctrl-C from their first instruction; the app does not."""

from __future__ import annotations

import multiprocessing
import signal
import time
from pathlib import Path

from engine.child_processes import start_deaf_to_ctrl_c


def ignores_sigint(pid: int) -> bool:
    """Whether the kernel lists SIGINT among the process's ignored signals (/proc/PID/status, SigIgn)."""
    status = (Path("/proc") / str(pid) / "status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return bool(mask & (1 << (signal.SIGINT - 1)))


def test_a_child_ignores_ctrl_c_from_its_start_and_the_parent_keeps_its_handler():
    before = signal.getsignal(signal.SIGINT)
    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(30,), daemon=True)
    start_deaf_to_ctrl_c(child)
    try:
        assert child.pid is not None and ignores_sigint(child.pid)  # at once: before its imports, not after them
        assert signal.getsignal(signal.SIGINT) is before  # the parent's own Ctrl-C handler is back
        child_of_plain_start = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(30,), daemon=True)
        child_of_plain_start.start()  # the check can fail: a plain start leaves SIGINT to Python's handler
        try:
            assert not ignores_sigint(child_of_plain_start.pid)
        finally:
            child_of_plain_start.kill()
    finally:
        child.kill()
        child.join(5)
