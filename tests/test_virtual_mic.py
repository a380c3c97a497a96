"""The virtual microphone on a real sound server: the private PipeWire of tests/virtual_audio.py.

The engine runs in its own process, as in the app, plays a speech file as its microphone and publishes
its output as the source "SPANDEX denoised microphone"; a separate recorder (``parec``, as Zoom or OBS
would) reads that source. What it receives must be the offline ``denoise()`` of the same input, bit
for bit, piece by piece (a feeder underrun under load shifts the stream once: the piece it falls in is
the only one allowed to differ). The source must be gone after the engine stops — also when the engine
was killed — and a stale one from a crashed run is removed on the next start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.backends import prepare
from engine.denoiser import denoise
from engine.files.netx import load_model
from engine.live import protocol
from engine.live.host import EngineHost
from engine.live.protocol import EngineConfig
from engine.live.virtual_mic import DESCRIPTION, FEED_SINK, OWNER_PROPERTY, SOURCE_NAME, published_modules
from tests.reference_models import reference_path
from tests.test_live_audio import offset_of

BIT_EXACT = 1e-6
PIECE = 4000        # 1/4 s
CAPTURE_S = 6.0
LOOPED_S = 40.0     # the offline reference covers this much of the looping file: more than the test runs


def pactl_env(audio) -> dict[str, str]:
    return {**os.environ, **{k: audio.env[k] for k in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS")}}


def sources(audio) -> str:
    return subprocess.run(["pactl", "list", "sources"], env=pactl_env(audio), capture_output=True, text=True,
                          timeout=10, check=True).stdout


def start(audio, file: Path, model: str) -> EngineHost:
    config = EngineConfig(models=[model], file=str(file), output="app_out", virtual_mic=True)
    host = EngineHost(config, mode="process", env=audio.jack_env()).start()
    published = host.wait_event(protocol.VirtualMicChanged, 60)
    assert published.on and published.source == SOURCE_NAME, published
    return host


def capture(audio, seconds: float, path: Path) -> np.ndarray:
    """Record the virtual source with parec until it has ``seconds`` of audio (waits on the file)."""
    recorder = subprocess.Popen(["parec", "-d", SOURCE_NAME, "--raw", "--format=float32le", "--rate=16000",
                                 "--channels=1", "--latency-msec=20", str(path)], env=pactl_env(audio),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + seconds + 30
    while (not path.exists() or path.stat().st_size < seconds * 16000 * 4) and time.monotonic() < deadline:
        assert recorder.poll() is None, recorder.stderr.read()
        time.sleep(0.05)
    recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=10)
    return np.fromfile(path, dtype="<f4")


@pytest.fixture(scope="module")
def speech_file(noisy_speech, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vmic") / "noisy.wav"
    sf.write(path, noisy_speech[0][: 3 * 16000], 16000, subtype="FLOAT")
    return path


@pytest.mark.slow
def test_a_recorder_on_the_virtual_microphone_gets_the_offline_denoise(virtual_audio, speech_file, tmp_path):
    model = str(reference_path("spandex_prune50.net"))
    host = start(virtual_audio, speech_file, model)
    try:
        listed = sources(virtual_audio)
        assert f"Name: {SOURCE_NAME}" in listed and f"Description: {DESCRIPTION}" in listed
        assert host.wait_event(protocol.StreamChanged, 30).state == "running"
        captured = capture(virtual_audio, CAPTURE_S, tmp_path / "captured.raw")
        hops = host.counters()["hops"]
    finally:
        host.stop()
    assert hops < LOOPED_S * 16000 / 128, "the reference below does not cover the whole run"
    # the engine heard the file looping from its first sample: its output is denoise() of the loop
    clip, _ = sf.read(speech_file, dtype="float32")
    looped = np.tile(clip, int(np.ceil(LOOPED_S * 16000 / clip.size)))
    reference = denoise(looped, prepare(load_model(model))).audio.astype(np.float32)
    audible = [s for s in range(0, captured.size - PIECE, PIECE)
               if np.sqrt(np.mean(captured[s:s + PIECE] ** 2)) > 1e-3]
    assert len(audible) >= CAPTURE_S * 16000 / PIECE * 0.6, "the virtual microphone was mostly silent"
    offsets, exact = [], []
    for start_at in audible:
        piece = captured[start_at:start_at + PIECE]
        at = offset_of(piece, reference)
        # the loop repeats the input; find the copy of the output that matches (state differs by loop)
        matches = [a for a in range(at % clip.size, reference.size - PIECE, clip.size)
                   if np.max(np.abs(reference[a:a + PIECE] - piece)) <= BIT_EXACT]
        exact.append(bool(matches))
        offsets.append((matches[0] if matches else at) - start_at)
    # every piece is bit-exact but one in which the stream shifted (a feeder underrun inserts silence)
    for k, ok in enumerate(exact):
        if not ok:
            neighbours = [offsets[j] for j in (k - 1, k + 1) if 0 <= j < len(exact) and exact[j]]
            assert len(set(neighbours)) > 1 or len(neighbours) < 2, (k, offsets, exact)
    assert np.mean(exact) >= 0.75, (offsets, exact)
    # and it is gone with the engine
    assert published_modules(pactl_env(virtual_audio)) == []
    assert f"Name: {SOURCE_NAME}" not in sources(virtual_audio)


@pytest.mark.slow
def test_a_crashed_engine_leaves_nothing_behind(virtual_audio, speech_file):
    """Killed: the host removes the source; a stale one from an earlier crash is removed on start."""
    env = pactl_env(virtual_audio)
    stale_owner = subprocess.Popen(["true"])
    stale_owner.wait()  # a process id that existed and is gone: the owner of a crashed run's source
    owner = f"{OWNER_PROPERTY}={stale_owner.pid}"
    subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={FEED_SINK}",
                    f"sink_properties='device.description=\"stale\" {owner}'"], env=env, check=True,
                   capture_output=True, timeout=10)
    assert [pid for _, pid in published_modules(env)] == [stale_owner.pid]
    host = start(virtual_audio, speech_file, "assets/models/spandex-dense.net")
    try:
        owners = [pid for _, pid in published_modules(env)]
        assert owners == [host.pid, host.pid], owners  # the stale one went; the sink and the source are new
        host.runner.kill()  # a crash: the engine cannot clean up
        host.runner.join(10)
        assert len(published_modules(env)) == 2
    finally:
        host.stop()
    assert published_modules(env) == []


@pytest.mark.slow
def test_without_a_sound_server_the_engine_says_so_and_runs_on(tmp_path, speech_file):
    env = {"XDG_RUNTIME_DIR": str(tmp_path), "PULSE_SERVER": f"unix:{tmp_path}/no-such-server"}
    config = EngineConfig(models=[], file=str(speech_file), output="none", virtual_mic=True)
    host = EngineHost(config, mode="process", env=env).start()
    try:
        error = host.wait_event(protocol.EngineError, 60).message
        assert "virtual microphone" in error and "PipeWire" in error, error
        assert host.wait_event(protocol.VirtualMicChanged, 10).on is False
        hops = host.counters()["hops"]
        host.wait_event(protocol.Status, 10)
        assert host.alive
        deadline = time.monotonic() + 10
        while host.counters()["hops"] < hops + 50 and time.monotonic() < deadline:
            host.wait_event(protocol.Status, 10)
        assert host.counters()["hops"] >= hops + 50  # the audio goes on
    finally:
        host.stop()
