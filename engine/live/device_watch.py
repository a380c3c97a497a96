"""Look for a missing audio device without touching the streams that run here.

PortAudio lists devices only when it is initialised, and re-initialising it (:func:`engine.live.devices.rescan`)
needs every stream closed: a gap in the sound. So while the microphone runs and only the output device is missing,
the engine does not look again itself; a short child process, with a PortAudio of its own, looks for the device
and says by its exit status whether it is there (``python -m engine.live.device_watch output KEY``: 0 there, 3 not).
Only when it is does the engine reopen its stream (one gap, as when a device is chosen). The same look, for the devices
a running stream is on (``… input KEY output KEY``: 0 all there), tells an unplugged JACK device, whose stream runs on
unconnected, silent, from one still there. :class:`DeviceWatch` starts one such look and is polled between hops: it
never blocks. A look that hangs (PortAudio can, on a dying sound server)
is ended after :data:`LOOK_TIMEOUT_S` and counts as not found; the child also ends itself then.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

FOUND, MISSING = 0, 3  # the child's exit status
THERE, GONE, UNKNOWN = "there", "gone", "unknown"  # a look's answer (:meth:`DeviceWatch.answer`)
LOOK_TIMEOUT_S = 10.0


class DeviceWatch:
    """One look, in a child process, for each ``(kind, key)`` of ``devices``: the ``kind`` ("input"/"output") device
    ``key`` (None: the default one)."""

    def __init__(self, *devices: tuple[str, str | None]) -> None:
        self._started = time.monotonic()
        try:
            self._child: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", "engine.live.device_watch", *(a for k, key in devices for a in (k, key or ""))],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=_repository_root(), start_new_session=True)  # (a Ctrl+C at the terminal is the engine's to handle)
        except OSError:  # no process to be had (out of memory, too many): not found this time, looked for later
            self._child = None

    def found(self) -> bool | None:
        """None while it looks; then whether every device is there (a look that failed or hung: not found)."""
        answer = self.answer()
        return None if answer is None else answer == THERE

    def answer(self) -> str | None:
        """None while it looks; then :data:`THERE` (every device listed), :data:`GONE` (one is not) or :data:`UNKNOWN`
        (the look could not start, failed, or hung and was ended: nothing is known of the devices)."""
        child = self._child
        if child is None:
            return UNKNOWN
        code = child.poll()
        if code is None:
            if time.monotonic() - self._started < LOOK_TIMEOUT_S:
                return None
            self.stop()
            return UNKNOWN
        return THERE if code == FOUND else GONE if code == MISSING else UNKNOWN

    def stop(self) -> None:
        """End the look if it still runs."""
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()


def _repository_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv: list[str]) -> int:
    """Exit :data:`FOUND` or :data:`MISSING`: whether a fresh PortAudio lists every device (``argv``: kind, key …)."""
    os.nice(10)  # a look in the background: the engine's hops come first
    signal.alarm(int(LOOK_TIMEOUT_S) + 5)  # a PortAudio that hangs ends here too, should the engine be gone
    from engine.live.devices import find_device  # (imports sounddevice: PortAudio initialised here, in this process)

    pairs = zip(argv[::2], argv[1::2], strict=True)
    return FOUND if all(find_device(key or None, kind) is not None for kind, key in pairs) else MISSING


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
