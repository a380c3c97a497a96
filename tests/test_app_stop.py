"""Stopping the real app from outside: Ctrl-C (SIGINT) and SIGTERM, as a user or a session manager does.

``python main.py`` runs as a subprocess (offscreen Qt) on the private PipeWire server's devices, with the
virtual microphone on; once its engine — and, with ``--backend lava``, its Lava processes — run, a signal
is sent. The app must end by itself, with status 0 and no traceback, every process it started gone and
the virtual microphone removed from the sound server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.live.virtual_mic import published_modules
from tests.corpus import REPO
from tests.lava_session import descendants
from tests.reference_models import reference_path

START_TIMEOUT_S = 240.0   # torch, Qt and (for Lava) a network's processes load on a busy 2-core machine
STOP_TIMEOUT_S = 60.0



def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        try:
            if (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                living.append(pid)
        except OSError:
            pass
    return living


def wait_for(condition, timeout: float, what: str, app: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if app.poll() is not None:
            raise AssertionError(f"the app ended before {what}: {app.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "backend", "least_processes"),
                         [(signal.SIGINT, "lava", 8), (signal.SIGTERM, "sparse", 1), (signal.SIGHUP, "sparse", 1)],
                         ids=["ctrl-c-lava", "sigterm", "sighup"])
def test_a_signal_stops_the_app_cleanly(virtual_audio, tmp_path, signum, backend, least_processes):
    pactl_env = {**os.environ, **{k: virtual_audio.env[k] for k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}}
    env = {**os.environ, **virtual_audio.jack_env(), "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    app = subprocess.Popen([sys.executable, "main.py", "--model", str(reference_path("spandex_prune75.net")),
                            "--backend", backend, "--input", "mic_feed", "--output", "app_out", "--virtual-mic"],
                           cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)  # its own process group, as a terminal's foreground job has
    try:
        wait_for(lambda: published_modules(pactl_env), START_TIMEOUT_S, "virtual microphone", app)
        # engine (+ the resource tracker); with Lava, its host process and Lava's own
        wait_for(lambda: len(descendants(app.pid)) >= least_processes + 1, START_TIMEOUT_S, "engine", app)
        started = descendants(app.pid)
        if signum in (signal.SIGINT, signal.SIGHUP):  # from a terminal: the whole group gets it, the engine too
            os.killpg(app.pid, signum)
        else:
            app.send_signal(signum)
        _, stderr = app.communicate(timeout=STOP_TIMEOUT_S)
    finally:
        if app.poll() is None:  # it did not stop: its whole group goes, so that nothing it started outlives the test
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()
    assert app.returncode == 0, stderr[-3000:]
    if "Traceback" in stderr or "stopped cleanly" not in stderr:
        pytest.fail(f"not a clean stop; the app's stderr:\n{stderr[-4000:]}")
    deadline = time.monotonic() + 10
    while alive(started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(started) == [], "processes outlived the app"
    assert published_modules(pactl_env) == [], "the virtual microphone outlived the app"
