"""A private PipeWire server with two null sinks: a virtual microphone and a virtual speaker.

Used by the audio tests and ``bench/live.py`` on machines without a sound card (see
../shared/notes/virtual-audio.md). ``mic_feed`` is the microphone — whatever is played into it comes
out of its ``.monitor``, which PortAudio under ``pw-jack`` lists as the JACK client ``mic_feed`` —
and ``app_out`` is the speaker, captured from ``app_out.monitor``.

Everything runs with a private ``XDG_RUNTIME_DIR`` and session D-Bus, so nothing outside is touched,
and :meth:`VirtualAudio.stop` kills exactly the processes it started. Processes that use PortAudio
through ``pw-jack`` must terminate PortAudio before the server stops (run them as subprocesses
with :meth:`VirtualAudio.jack_env` and wait for them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

MIC = "mic_feed"
SPEAKER = "app_out"
JACK_LIBS = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack"
TOOLS = ("pipewire", "wireplumber", "pipewire-pulse", "pactl", "pw-play", "parec", "pw-metadata",
         "dbus-daemon")


def _raise_priority() -> None:
    """In a feeder/recorder child: run ahead of ordinary processes (root only), so that a busy machine
    does not starve it into gaps — the feeder is test equipment, not the thing under test."""
    try:
        os.nice(-10)
    except OSError:
        pass


class VirtualAudioUnavailable(RuntimeError):
    """PipeWire could not be started; the message says what is missing or what failed."""


class VirtualAudio:
    """Start with :meth:`start`, stop with :meth:`stop` (kills every process it started)."""

    def __init__(self, rate: int = 16000, quantum: int = 128) -> None:
        self.rate = rate
        self.quantum = quantum
        self.runtime_dir: Path | None = None
        self.env: dict[str, str] = {}
        self.daemons: dict[str, subprocess.Popen] = {}
        self.dbus_pid: int | None = None
        self.sink_modules: dict[str, str] = {}

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> VirtualAudio:
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing or not Path(JACK_LIBS).is_dir():
            raise VirtualAudioUnavailable(
                f"PipeWire tools missing ({', '.join(missing) or JACK_LIBS}): run scripts/setup.sh "
                "(apt: pipewire pipewire-pulse pipewire-jack wireplumber pulseaudio-utils dbus)")
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="spandex-pw-"))
        self.runtime_dir.chmod(0o700)
        for folder in ("seats", "sessions", "users"):  # wireplumber exits without them on a bare system
            try:
                Path("/run/systemd", folder).mkdir(parents=True, exist_ok=True)
            except OSError:
                pass
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEWIRE_", "PULSE_", "JACK_"))}
        env.update(XDG_RUNTIME_DIR=str(self.runtime_dir), XDG_CONFIG_HOME=str(self.runtime_dir / "config"),
                   XDG_STATE_HOME=str(self.runtime_dir / "state"), DISPLAY="")
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        dbus = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
                              env=env, capture_output=True, text=True, timeout=10)
        if dbus.returncode != 0:
            raise VirtualAudioUnavailable(f"dbus-daemon failed: {dbus.stderr.strip()}")
        address, pid = dbus.stdout.split()[:2]
        self.dbus_pid = int(pid)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        self.env = env
        try:
            self.start_server()
        except Exception:
            self.stop()
            raise
        return self

    def start_server(self) -> None:
        """Start pipewire, wireplumber, pipewire-pulse and the two sinks (also after :meth:`kill_server`)."""
        log = open(self.runtime_dir / "daemons.log", "ab")
        self.daemons["pipewire"] = subprocess.Popen(["pipewire"], env=self.env, stdout=log, stderr=log,
                                                    preexec_fn=_raise_priority)
        self._wait(lambda: (self.runtime_dir / "pipewire-0").exists(), "pipewire socket")
        for name in ("wireplumber", "pipewire-pulse"):
            self.daemons[name] = subprocess.Popen([name], env=self.env, stdout=log, stderr=log,
                                                  preexec_fn=_raise_priority)
        self._wait(lambda: self.pactl("info", check=False).returncode == 0, "pactl info")
        self.sink_modules = {}
        for sink in (MIC, SPEAKER):
            self.add_sink(sink)
        self._wait(lambda: self.pactl("set-default-sink", SPEAKER, check=False).returncode == 0,
                   "default sink")
        self.pactl("set-default-source", f"{MIC}.monitor", check=False)
        for key, value in (("clock.force-rate", self.rate), ("clock.force-quantum", self.quantum)):
            subprocess.run(["pw-metadata", "-n", "settings", "0", key, str(value)], env=self.env,
                           capture_output=True, timeout=10, check=True)

    def add_sink(self, name: str) -> None:
        out = self.pactl("load-module", "module-null-sink", f"sink_name={name}", f"rate={self.rate}",
                         "channels=1", "channel_map=mono", "format=float32le",
                         f"sink_properties=device.description={name}")
        self.sink_modules[name] = out.stdout.strip()

    def remove_sink(self, name: str) -> None:
        self.pactl("unload-module", self.sink_modules.pop(name))

    def kill_server(self) -> None:
        """Kill the PipeWire daemons (not D-Bus), as when the sound server crashes."""
        for name in ("pipewire-pulse", "wireplumber", "pipewire"):
            proc = self.daemons.pop(name, None)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        socket = self.runtime_dir / "pipewire-0"
        for leftover in (socket, socket.with_name("pipewire-0.lock")):
            leftover.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.runtime_dir is None:
            return
        for name in ("pipewire-pulse", "wireplumber", "pipewire"):
            proc = self.daemons.pop(name, None)
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        if self.dbus_pid is not None:
            try:
                os.kill(self.dbus_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.dbus_pid = None
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        self.runtime_dir = None

    # --- using it --------------------------------------------------------------------------------

    def jack_env(self) -> dict[str, str]:
        """Variables that make a new process's PortAudio open JACK devices served by this PipeWire
        (what ``pw-jack`` sets, plus this server's runtime dir and bus). Add them to its environment."""
        env = {k: v for k, v in self.env.items() if k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}
        previous = os.environ.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = JACK_LIBS + (":" + previous if previous else "")
        env["PIPEWIRE_LATENCY"] = f"{self.quantum}/{self.rate}"
        return env

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if check and result.returncode != 0:
            raise VirtualAudioUnavailable(f"pactl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def play(self, audio: np.ndarray, rate: int | None = None) -> subprocess.Popen:
        """Play float32 mono ``audio`` into the virtual microphone; returns the running player.

        ``pw-play`` (a native PipeWire client) reads it from a float WAV in the runtime dir; it kept
        the signal whole under load where ``pacat`` through pipewire-pulse slipped now and then.
        """
        rate = rate or self.rate
        path = self.runtime_dir / f"feed-{time.monotonic_ns()}.wav"
        sf.write(path, np.asarray(audio, dtype=np.float32), rate, subtype="FLOAT")
        return subprocess.Popen(["pw-play", "--target", MIC, "--latency", "200ms", str(path)],
                                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=_raise_priority)

    def play_and_record(self, audio: np.ndarray, folder: Path, rate: int | None = None,
                        tail_s: float = 1.5) -> tuple[np.ndarray, dict]:
        """Play ``audio`` into the microphone while recording the speaker, sample-locked, as one
        real-time JACK client (tests/jack_loop.py); returns (recording, {"frames", "flags"})."""
        rate = rate or self.rate
        np.save(folder / "signal.npy", np.asarray(audio, dtype=np.float32))
        run = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("jack_loop.py")), str(folder / "signal.npy"),
             str(folder / "recorded.npy"), "--rate", str(rate), "--tail", str(tail_s)],
            env={**os.environ, **self.jack_env()}, capture_output=True, text=True,
            timeout=audio.size / rate + 90)
        if run.returncode != 0:
            raise VirtualAudioUnavailable(f"jack_loop.py failed: {run.stderr[-2000:]}")
        return np.load(folder / "recorded.npy"), json.loads(run.stdout.strip().splitlines()[-1])

    def record(self, path: Path, rate: int | None = None) -> subprocess.Popen:
        """Capture the virtual speaker as raw float32 mono into ``path``; stop it with :func:`stop_recording`."""
        return subprocess.Popen(
            ["parec", "-d", f"{SPEAKER}.monitor", "--format=float32le", f"--rate={rate or self.rate}",
             "--channels=1", "--latency-msec=20", "--raw", str(path)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_raise_priority)

    def _wait(self, ready, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.02)
        log = (self.runtime_dir / "daemons.log").read_text(errors="replace")[-2000:]
        raise VirtualAudioUnavailable(f"timed out waiting for {what}; daemon log:\n{log}")


def stop_recording(proc: subprocess.Popen, path: Path) -> np.ndarray:
    """Stop a :meth:`VirtualAudio.record` capture and return what it wrote."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return np.fromfile(path, dtype="<f4")
