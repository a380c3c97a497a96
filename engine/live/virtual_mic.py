"""The denoised output as a microphone other applications can pick ("SPANDEX denoised microphone").

Zoom, Jitsi, OBS and browsers take their microphone from the sound server, so SPANDEX publishes its
output there, as NoiseTorch and EasyEffects do: through the PulseAudio protocol (PulseAudio itself, or
PipeWire's pipewire-pulse), with ``pactl``:

- a null sink :data:`FEED_SINK` that the engine plays its denoised 16 kHz output into (through a
  ``pacat`` child fed by a pipe), and
- a remap source :data:`SOURCE_NAME` of that sink's monitor, described as :data:`DESCRIPTION`: the
  microphone other applications list.

Both modules carry the owner's process id (``spandex.owner_pid``). :func:`remove_stale` unloads those
whose owner is gone — after a crash, on the next start — and :meth:`VirtualMicrophone.close` unloads
its own.

Real-time rules: :meth:`VirtualMicrophone.write` is for the engine's worker thread (never the audio
callback): it never blocks — a hop that does not fit in the pipe (the sound server stalled) is dropped
and counted. Creating and removing the source runs ``pactl`` (tens of milliseconds): not on the worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Mapping

import numpy as np

from engine.constants import SAMPLE_RATE
from engine.errors import SpandexError

SOURCE_NAME = "spandex_denoised_mic"
"""The source's name (what ``pactl``/``parecord -d`` and remembered app settings use)."""
FEED_SINK = "spandex_denoised_mic_feed"
"""The null sink the engine plays into; its monitor is the source's master."""
DESCRIPTION = "SPANDEX denoised microphone"
"""The name applications show in their microphone list."""
OWNER_PROPERTY = "spandex.owner_pid"
PIPE_BYTES = 1 << 16
"""The feed pipe's size: 1 s of 16 kHz float32 between the worker and ``pacat``."""
FEED_LATENCY_MS = 40
"""``pacat``'s buffer: what the virtual microphone adds to the STFT's 24 ms + the engine's buffer."""
PACTL_TIMEOUT_S = 10.0

_OWNER = re.compile(rf"{re.escape(OWNER_PROPERTY)}=(\d+)")


class VirtualMicError(SpandexError):
    """The sound server could not publish (or stopped taking) the virtual microphone."""


def _pactl(env: Mapping[str, str] | None, *args: str) -> str:
    if shutil.which("pactl") is None or shutil.which("pacat") is None:
        raise VirtualMicError("the virtual microphone needs PipeWire (pipewire-pulse) or PulseAudio and their "
                              "tools pactl and pacat (apt: pulseaudio-utils)")
    try:
        run = subprocess.run(["pactl", *args], env=None if env is None else dict(env), capture_output=True,
                             text=True, timeout=PACTL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VirtualMicError("the sound server did not answer pactl within "
                              f"{PACTL_TIMEOUT_S:.0f} s: no virtual microphone") from None
    if run.returncode != 0:
        reason = run.stderr.strip() or run.stdout.strip()
        raise VirtualMicError(f"the sound server refused the virtual microphone (pactl {args[0]}: {reason}); "
                              "is PipeWire (pipewire-pulse) or PulseAudio running?")
    return run.stdout


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def published_modules(env: Mapping[str, str] | None = None) -> list[tuple[str, int]]:
    """The sound server's modules that belong to a SPANDEX virtual microphone: (module id, owner pid)."""
    found = []
    for line in _pactl(env, "list", "short", "modules").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and (FEED_SINK in fields[2] or SOURCE_NAME in fields[2]):
            owner = _OWNER.search(fields[2])
            found.append((fields[0], int(owner.group(1)) if owner else 0))
    return found


def remove_stale(env: Mapping[str, str] | None = None, owner: int | None = None) -> int:
    """Unload virtual-microphone modules whose owner process is gone (or, given ``owner``, that one's).
    Returns how many were unloaded. The source goes before its sink (it reads the sink's monitor)."""
    modules = [(module, pid) for module, pid in published_modules(env)
               if (pid == owner if owner is not None else not _pid_alive(pid))]
    for module, _ in sorted(modules, key=lambda m: int(m[0]), reverse=True):
        with contextlib.suppress(VirtualMicError):  # gone meanwhile
            _pactl(env, "unload-module", module)
    return len(modules)


class VirtualMicrophone:
    """The virtual source and its feed. :meth:`open` (off the worker), :meth:`write` per hop, :meth:`close`.

    Args:
        env: the environment for ``pactl``/``pacat`` (None: this process's), e.g. a private server's.
        rate: the rate of what :meth:`write` gets (the engine's 16 kHz).
    """

    def __init__(self, env: Mapping[str, str] | None = None, rate: int = SAMPLE_RATE) -> None:
        self.env = None if env is None else dict(env)
        self.rate = rate
        self.owner = os.getpid()
        self.modules: list[str] = []
        self.feeder: subprocess.Popen | None = None
        self._fd: int | None = None
        self.dropped = 0          # samples that did not fit in the pipe
        self.error: str | None = None

    @property
    def active(self) -> bool:
        return self._fd is not None and self.error is None

    def open(self) -> VirtualMicrophone:
        """Remove stale sources, create the sink and the source, start the feeder. Raises VirtualMicError."""
        remove_stale(self.env)
        mine = [pid for _, pid in published_modules(self.env) if pid != self.owner]
        if mine:
            raise VirtualMicError(f"another SPANDEX (process {mine[0]}) publishes the virtual microphone "
                                  f"'{DESCRIPTION}' already: turn it off there first")
        owner = f"{OWNER_PROPERTY}={self.owner}"
        try:
            self.modules.append(_pactl(
                self.env, "load-module", "module-null-sink", f"sink_name={FEED_SINK}", f"rate={self.rate}",
                "channels=1", "channel_map=mono", "format=float32le",
                f"sink_properties='device.description=\"{DESCRIPTION} (feed)\" {owner}'").strip())
            self.modules.append(_pactl(
                self.env, "load-module", "module-remap-source", f"master={FEED_SINK}.monitor",
                f"source_name={SOURCE_NAME}", f"rate={self.rate}", "channels=1", "channel_map=mono",
                "format=float32le", f"source_properties='device.description=\"{DESCRIPTION}\" {owner}'").strip())
            self.feeder = subprocess.Popen(
                ["pacat", "--playback", "-d", FEED_SINK, "--raw", "--format=float32le", f"--rate={self.rate}",
                 "--channels=1", f"--latency-msec={FEED_LATENCY_MS}", "--client-name=SPANDEX",
                 "--stream-name=denoised output"],
                env=self.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except BaseException:
            self.close()
            raise
        assert self.feeder.stdin is not None  # stdin=PIPE
        self._fd = self.feeder.stdin.fileno()
        os.set_blocking(self._fd, False)
        with contextlib.suppress(OSError):  # a bigger pipe rides out longer server stalls
            fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        return self

    def write(self, samples: np.ndarray) -> None:
        """Queue float32 samples for the source; never blocks (what does not fit is dropped, counted).

        Written in pieces of at most one pipe page, which the kernel writes whole or not at all, so a
        full pipe never splits a sample."""
        fd = self._fd
        if fd is None or self.error is not None:
            return
        data = np.ascontiguousarray(samples, dtype="<f4")
        view = memoryview(data.data).cast("B")
        page = 4096
        for start in range(0, len(view), page):
            try:
                os.write(fd, view[start:start + page])
            except BlockingIOError:
                self.dropped += (len(view) - start) // 4
                return
            except OSError as exc:  # the feeder died (the sound server went away)
                self.error = f"the virtual microphone's feed stopped ({exc.strerror or exc})"
                return

    def close(self) -> None:
        """Stop the feeder and unload the source and the sink (safe twice, and after a failed open)."""
        if self.feeder is not None:
            with contextlib.suppress(OSError):
                if self.feeder.stdin is not None:
                    self.feeder.stdin.close()
            try:
                self.feeder.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.feeder.kill()
                self.feeder.wait()
            self.feeder = None
        self._fd = None
        modules, self.modules = self.modules, []
        for module in reversed(modules):
            with contextlib.suppress(VirtualMicError):
                _pactl(self.env, "unload-module", module)
