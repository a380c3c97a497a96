"""How SPANDEX's processes stop on a signal: Ctrl-C (SIGINT), a kill (SIGTERM), a closed terminal (SIGHUP).

- A command (``spandex denoise``, ``train``, …) unwinds alike on all three — finally blocks stop Lava's processes and
  remove temporary files, a training run checkpoints first — and exits with 128 + the signal's number (130, 143,
  129): :func:`stop_signals_as_interrupts`, :class:`Terminated`.
- The app stops its child processes (the audio engine, a Prune-tab training run) in order itself: the engine closes
  the device first, a run checkpoints first. Ctrl-C and a closed terminal reach the whole process group, so the
  children are started deaf to them (:func:`start_deaf_to_terminal_signals`): an ignored signal stays ignored across
  fork and exec, and Python keeps it so (it installs its KeyboardInterrupt handler only where SIGINT is at its
  default), so a child is deaf from its first instruction, imports included.
- Once a terminal has hung up, every write to it fails (EIO): a stop on SIGHUP first sends the output that went to
  the terminal to /dev/null (:func:`silence_hung_up_terminal`), so that it can finish — and checkpoint — quietly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import threading
from collections.abc import Iterator
from multiprocessing.process import BaseProcess

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Besides Ctrl-C (SIGINT): a kill, a closed terminal. A command unwinds on them as on Ctrl-C."""

TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGHUP)
"""What a terminal sends to the whole process group (Ctrl-C, hanging up): the app's children ignore them."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, unwinding as Ctrl-C does; the command then exits with 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted(signum: int) -> KeyboardInterrupt:
    """The exception a stop signal unwinds with (after :func:`silence_hung_up_terminal` for SIGHUP): Python's own
    for Ctrl-C, :class:`Terminated` for the others."""
    if signum == signal.SIGHUP:
        silence_hung_up_terminal()
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def silence_hung_up_terminal() -> None:
    """Point standard output and error at /dev/null where they were a terminal (it hung up: writing there fails)."""
    _to_devnull(_terminal_outputs())


def silence_closed_output() -> None:
    """Point standard output at /dev/null: its reader is gone (``| head``), and what is still to print goes nowhere
    instead of failing again (Python's exit would flush it into the closed pipe)."""
    _to_devnull([1])


def _to_devnull(fds: list[int]) -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(null, fd)
    finally:
        os.close(null)


def _terminal_outputs() -> list[int]:
    """Standard output and error where they are a terminal, hung up or not: a character device (a hung-up terminal
    is no longer a TTY to ``isatty``, whose question fails; /dev/null is one too, and replacing it changes nothing)."""
    outputs = []
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            if stat.S_ISCHR(os.fstat(fd).st_mode):
                outputs.append(fd)
    return outputs


def terminal_hung_up(exc: OSError) -> bool:
    """Whether a failed write means the terminal hung up (EIO where standard output or error is one): if so, the
    output that went there now goes to /dev/null, and the caller goes on; SIGHUP is on its way and stops it. A write
    in progress when the terminal closes fails before Python runs the signal's handler."""
    if exc.errno != errno.EIO or not _terminal_outputs():
        return False
    silence_hung_up_terminal()
    return True


def _raise_interrupted(signum, frame) -> None:
    raise interrupted(signum)


def stop_signals_as_interrupts() -> contextlib.AbstractContextManager[None]:
    """While a command runs, SIGTERM and SIGHUP unwind as Ctrl-C does."""
    return _handled(STOP_SIGNALS, _raise_interrupted)


@contextlib.contextmanager
def _handled(signums: tuple[int, ...], handler) -> Iterator[None]:
    """``handler`` for ``signums`` while the block runs (a child started in it inherits SIG_IGN), the previous ones
    after. Only the main thread may set handlers: from another thread the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)


def ignore_terminal_signals() -> None:
    """A child's first lines: deaf to Ctrl-C and a hang-up (already so when :func:`start_deaf_to_terminal_signals`
    started it from the main thread)."""
    for signum in TERMINAL_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def start_resource_tracker_deaf() -> None:
    """Start multiprocessing's resource tracker (a process of its own in the app's group, which removes the queues'
    semaphores at the end) deaf to a hang-up: it ignores Ctrl-C and SIGTERM itself, not SIGHUP, and killed by it
    leaks the semaphores and says so with tracebacks. Call before the first queue; a no-op once it runs."""
    from multiprocessing import resource_tracker

    with _handled((signal.SIGHUP,), signal.SIG_IGN):
        resource_tracker.ensure_running()


def start_deaf_to_terminal_signals(process: BaseProcess) -> None:
    """``process.start()`` with :data:`TERMINAL_SIGNALS` ignored in the child from its first instruction.

    Only the main thread may change a handler: started from another thread, the child is deaf once its own first
    lines say so (:func:`ignore_terminal_signals`). A signal in the few milliseconds the start takes is ignored by
    the parent too."""
    with _handled(TERMINAL_SIGNALS, signal.SIG_IGN):
        process.start()
