"""Look for a missing audio device without touching the streams that run here.

PortAudio lists devices only when it is initialised, and re-initialising it (:func:`engine.live.devices.rescan`)
needs every stream closed: a gap in the sound. So while the microphone runs and only the output device is missing,
the engine does not look again itself; a short child process, with a PortAudio of its own, looks for the device
and says whether it is there (``python -m engine.live.device_watch output KEY``). Only when it is does the engine
reopen its stream (one gap, as when a device is chosen). :class:`DeviceWatch` starts one such look and is polled
between hops: it never blocks.
"""

from __future__ import annotations

import os
import subprocess
import sys

FOUND, MISSING = "found", "missing"


class DeviceWatch:
    """One look for the ``kind`` ("input"/"output") device ``key`` (None: the default one), in a child process."""

    def __init__(self, kind: str, key: str | None) -> None:
        self.kind, self.key = kind, key
        self._child = subprocess.Popen(
            [sys.executable, "-m", "engine.live.device_watch", kind, key or ""],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
            cwd=_repository_root(), start_new_session=True)  # (a Ctrl+C at the terminal is the engine's to handle)

    def found(self) -> bool | None:
        """None while it looks; then whether the device is there (a look that failed: not found)."""
        if self._child.poll() is None:
            return None
        out = self._child.stdout.read() if self._child.stdout else ""
        self.stop()
        return self._child.returncode == 0 and out.strip() == FOUND

    def stop(self) -> None:
        """End the look (if it still runs) and release its pipe."""
        if self._child.poll() is None:
            self._child.kill()
            self._child.wait()
        if self._child.stdout:
            self._child.stdout.close()


def _repository_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv: list[str]) -> int:
    """Print :data:`FOUND` or :data:`MISSING`: whether a fresh PortAudio lists the device."""
    os.nice(10)  # a look in the background: the engine's hops come first
    kind, key = argv[0], argv[1] or None
    from engine.live.devices import find_device  # (imports sounddevice: PortAudio initialised here, in this process)

    print(FOUND if find_device(key, kind) is not None else MISSING)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
