"""A progress bar on stderr for work that takes more than a moment (only when stderr is a terminal)."""

from __future__ import annotations

import sys
import time

from engine.stop_signals import terminal_hung_up


class ProgressBar:
    """``bar.update(done, total)``; ``bar.close()`` ends the line. Silent when stderr is not a TTY."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label = label
        self.width = width
        self.enabled = sys.stderr.isatty()
        self.started = time.monotonic()
        self.drawn = False

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(self.width * done / total)
        elapsed = time.monotonic() - self.started
        bar = "#" * filled + "-" * (self.width - filled)
        try:
            sys.stderr.write(f"\r{self.label} [{bar}] {100 * done / total:5.1f}%  {elapsed:5.1f} s")
            sys.stderr.flush()
        except OSError as exc:  # the terminal closed under the bar: the work goes on until SIGHUP stops it
            if not terminal_hung_up(exc):
                raise
            self.enabled = False
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
