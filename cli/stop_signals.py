"""How a command stops on a signal: Ctrl-C (SIGINT), a kill (SIGTERM) and a closed terminal (SIGHUP) unwind the same
way — finally blocks stop Lava's processes and remove temporary files, a training run checkpoints first — and the
exit status says which signal it was (128 + its number: 130, 143, 129)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Besides Ctrl-C (SIGINT): a kill, a closed terminal. They unwind like Ctrl-C."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, unwinding as Ctrl-C does; the command then exits with 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal unwinds with: Python's own for Ctrl-C, :class:`Terminated` for the others."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _raise_interrupted(signum, frame) -> None:
    raise interrupted(signum)


@contextlib.contextmanager
def stop_signals_as_interrupts() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP unwind as Ctrl-C does (only the main thread can set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupted) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
