"""engine.live.protocol: commands and events are typed records; a misspelt one fails where it is written."""

from __future__ import annotations

import dataclasses
import pickle
import typing

import pytest

from engine.live import protocol
from engine.live.host import REPLAYED, EngineHost


def test_every_command_and_event_is_a_frozen_picklable_record():
    for kind in (*typing.get_args(protocol.Command), *typing.get_args(protocol.Event)):
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen, kind
    event = protocol.StreamChanged(state="running", message="", rate=48000, input="mic", output=None, file=None,
                                   device_latency_s=0.01, prefill_hops=2, priority="normal")
    assert pickle.loads(pickle.dumps(event)) == event  # it crosses a process boundary in a queue
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.state = "no-device"  # type: ignore[misc]
    with pytest.raises(TypeError):
        protocol.SetNoise(kind="pink", snr=5.0)  # type: ignore[call-arg]  # the field is snr_db


def test_the_host_refuses_what_is_not_a_command_and_keeps_the_settings_to_replay():
    host = EngineHost(protocol.EngineConfig(), mode="thread")  # not started: commands wait in the queue
    try:
        with pytest.raises(TypeError, match="not an engine command"):
            host.send(("select", 1))  # type: ignore[arg-type]  # the old string protocol
        host.select(2)
        host.set_input("mic")
        host.set_file("talk.wav")  # replaces the microphone setting: one source at a time
        host.set_noise("pink", 5.0)
        host.record_start(10.0)  # not a setting: not replayed
        assert list(host.replay.values()) == [protocol.Select(2), protocol.SetFile("talk.wav"),
                                              protocol.SetNoise("pink", 5.0)]
        assert all(isinstance(command, REPLAYED) for command in host.replay.values())
        sent = [host.commands.get_nowait() for _ in range(5)]
        assert sent == [protocol.Select(2), protocol.SetInput("mic"), protocol.SetFile("talk.wav"),
                        protocol.SetNoise("pink", 5.0), protocol.RecordStart(10.0, False)]
    finally:
        host.stop()


_PROBE = """
import queue, sys
from engine.live.protocol import EngineConfig
from engine.live.record import SharedBlock
from engine.live.worker import AudioEngine
config = EngineConfig()
engine = AudioEngine(config, SharedBlock(bytearray(SharedBlock.nbytes(config)), config), queue.Queue(), queue.Queue())
before = "scipy.signal" in sys.modules
seen = []
class Stop(BaseException):
    pass
def opening():
    seen.append("scipy.signal" in sys.modules)
    raise Stop
engine.devices.open = opening
try:
    engine.run()
except Stop:
    pass
print(before, seen)
"""


def test_the_engine_imports_scipy_signal_before_its_stream_starts():
    """scipy.signal takes about a second to import. The fan noise bed and a resampled stream use it between
    hops, with the stream running (a reviewer measured 108 late hops the first time "fan" was chosen): the
    engine imports it while it sets up, before the stream opens (in its own process: the GUI's need not)."""
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "[True]"]
