"""What the live engine does when something goes wrong: a command for a model already gone, a defect in one
command, a recording folder that cannot be written, an engine that dies, devices that change under it.

The engine runs without a sound card (its internal clock), in a thread or a process; the device cases drive the
:class:`~engine.live.supervisor.DeviceSupervisor` with PortAudio's lookups replaced.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from engine.constants import BYPASS, HOP, SAMPLE_RATE
from engine.errors import SpandexError
from engine.files.audio import write_wav
from engine.live import protocol, supervisor
from engine.live.denoiser import LiveDenoiser
from engine.live.devices import InternalClock, OpenStream
from engine.live.host import EngineHost, models_to_reload, restore_after_reload, with_slot_commands
from engine.live.protocol import NO_OUTPUT, EngineConfig
from engine.live.record import CLOCK_LATE, SharedBlock
from engine.live.worker import AudioEngine
from tests.reference_models import reference_path


def bare_engine(config: EngineConfig | None = None) -> AudioEngine:
    """An engine object whose loop is not running: its parts, called one at a time."""
    config = config or EngineConfig(output=NO_OUTPUT)
    return AudioEngine(config, SharedBlock(bytearray(SharedBlock.nbytes(config)), config), queue.Queue(),
                       queue.Queue())


def running(host: EngineHost) -> EngineHost:
    """Started, with its first stream event and hops coming."""
    host.start()
    host.wait_event(protocol.StreamChanged, 60)
    hops = host.counters()["hops"]
    deadline = time.monotonic() + 30
    while host.counters()["hops"] < hops + 10:
        assert time.monotonic() < deadline, "no hops"
        host.wait_event(protocol.Status, 30)
    return host


def test_a_command_for_a_slot_already_gone_or_a_defect_in_one_is_said_and_the_engine_runs_on(monkeypatch):
    host = running(EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread"))
    try:
        host.remove_model(0)  # no model loaded: a GUI that has not yet heard of a removal
        error = host.wait_event(protocol.EngineError, 30)
        assert error.message == "no model in slot 1"
        monkeypatch.setattr(LiveDenoiser, "reset", lambda self: 1 / 0)
        host.reset()
        error = host.wait_event(protocol.EngineError, 30)
        assert error.message.startswith("Reset failed: ZeroDivisionError") and "runs on" in error.message
        hops = host.counters()["hops"]
        host.wait_event(protocol.Status, 30)
        host.wait_event(protocol.Status, 30)
        assert host.alive and host.counters()["hops"] > hops
    finally:
        host.stop()


def test_a_recording_whose_folder_cannot_be_written_goes_to_the_fallback_folder_and_says_so(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the fallback: DATA/spandex/recordings
    host = running(EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread"))
    try:
        host.record_start(30.0)
        host.wait_event(protocol.RecordingStarted, 30)
        host.wait_event(protocol.Status, 30)
        host.record_stop(str(blocker / "rec"))
        recorded = host.wait_event(protocol.Recorded, 30, failed=protocol.RECORD_FAILED)
        assert recorded.note.startswith(f"{protocol.RECORD_FAILED} in {blocker} ({blocker} is a file, not a folder): "
                                        f"it is in ")
        assert [os.path.basename(p) for p in recorded.paths] == ["rec-input.wav", "rec-output.wav"]
        fallback = tmp_path / "data" / "spandex" / "recordings"
        assert all(p.startswith(str(fallback)) and os.path.getsize(p) > 1000 for p in recorded.paths)
        assert (fallback.stat().st_mode & 0o777) == 0o700  # the user's own
        host.record_start(30.0)  # a folder under the file: the file is named
        host.wait_event(protocol.RecordingStarted, 30)
        host.wait_event(protocol.Status, 30)
        host.record_stop(str(blocker / "sub" / "rec"))
        recorded = host.wait_event(protocol.Recorded, 30, failed=protocol.RECORD_FAILED)
        assert f"({blocker} is a file, not a folder)" in recorded.note
        # the fallback cannot be written either: said, with how much was lost
        monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "data"))  # (under a file: cannot be made)
        host.record_start(30.0)
        host.wait_event(protocol.RecordingStarted, 30)
        host.wait_event(protocol.Status, 30)
        host.record_stop(str(blocker / "again"))
        with pytest.raises(SpandexError, match=f"^{protocol.RECORD_FAILED} \\(\\d+ s\\): .* nor in "):
            host.wait_event(protocol.Recorded, 30, failed=protocol.RECORD_FAILED)
    finally:
        host.stop()


def test_an_error_in_the_worker_loop_is_said_once_without_a_traceback(monkeypatch):
    escaped: list = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(AudioEngine, "_process_available", broken)
    host = EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread").start()
    try:
        deadline = time.monotonic() + 60
        events: list = []
        while not any(isinstance(e, protocol.Stopped) for e in events):
            assert time.monotonic() < deadline, events
            events += host.events_now()
            time.sleep(0.05)
        fatal = [e for e in events if isinstance(e, protocol.Fatal)]
        assert [f.message for f in fatal] == ["The audio engine stopped: RuntimeError: boom (please report it)"]
        assert host.runner is not None
        host.runner.join(10)
        assert not host.alive and escaped == []
        assert host.events_now() == []  # its end was said (Fatal, Stopped): not said again
    finally:
        host.stop()


def test_an_engine_process_that_dies_without_a_word_is_reported():
    host = running(EngineHost(EngineConfig(output=NO_OUTPUT), mode="process"))
    try:
        assert host.pid is not None
        os.kill(host.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        fatal: list = []
        while not fatal:
            assert time.monotonic() < deadline, "the dead engine was not reported"
            fatal = [e for e in host.events_now() if isinstance(e, protocol.Fatal)]
            time.sleep(0.05)
        assert [f.message for f in fatal] == ["The audio engine stopped unexpectedly (killed by SIGKILL): "
                                              "restart SPANDEX"]
        assert not any(isinstance(e, protocol.Fatal) for e in host.events_now())  # said once
    finally:
        host.stop()


def test_a_restarted_engine_loads_each_model_in_its_slot_on_its_own_backend_and_none_if_none_was_left():
    same = [{"source": "a.net", "backend": "sparse"}, {"source": None, "backend": "sparse"},
            {"source": "c.net", "backend": "sparse"}]
    assert models_to_reload(same, "sparse") == (["a.net", "c.net"], [])  # type: ignore[arg-type]
    mixed = [{"source": "a.net", "backend": "lava"}, {"source": "b.net", "backend": "sparse"}]
    assert models_to_reload(mixed, "sparse") == ([], [protocol.LoadModel("a.net", "lava"),  # type: ignore[arg-type]
                                                      protocol.LoadModel("b.net", "sparse")])
    assert models_to_reload([], "sparse") == ([], [])
    # the model heard is selected again once the reloads are in (a Select before them: "no model in slot N"), and
    # each one's sharpening set again as its user had it
    before = [{"source": "a.net", "backend": "lava", "sharpening": 1.5, "own_sharpening": 0.75},
              {"source": "b.net", "backend": "sparse", "sharpening": 0.5, "own_sharpening": 0.5}]
    host = EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread")  # not started: commands wait in the queue
    host.restore = (before, 1)  # type: ignore[assignment]
    back = [{**m, "sharpening": m["own_sharpening"]} for m in before]
    host._handle(protocol.ModelsChanged(tuple(back[:1]), playing=0, loading=1))  # type: ignore[arg-type]
    assert host.commands.empty()
    host._handle(protocol.ModelsChanged(tuple(back), playing=0, loading=0))  # type: ignore[arg-type]
    assert host.restore is None
    assert [host.commands.get_nowait() for _ in range(2)] == [protocol.Select(1), protocol.SetSharpening(0, 1.5)]
    assert host.commands.empty()


def test_a_restarted_engine_loads_what_was_still_loading_and_nothing_twice():
    """A restart (PortAudio stuck on a dead sound server) brought back the models the engine had reported, but a
    model still loading (or loaded, not yet reported) was lost without a word."""
    first, second, third = (str(reference_path(f"{n}.net")) for n in ("spandex_prune75", "spandex_prune50",
                                                                      "ndns_baseline"))
    host = EngineHost(EngineConfig(models=[first], output=NO_OUTPUT), mode="process").start()

    def sources_when(count: int) -> list[str]:
        event = host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == count and e.loading == 0)
        return [m["source"] for m in event.models]

    try:
        assert sources_when(1) == [first]
        host.load_model(second)
        host._handle(protocol.DeviceLost("speakers", True))  # at once: the engine has not said it loaded it
        assert sources_when(2) == [first, second]
        host.load_model(third)
        assert sources_when(3) == [first, second, third]  # (said: not loaded again after the next restart)
        host._handle(protocol.DeviceLost("speakers", True))
        assert sources_when(3) == [first, second, third]
        time.sleep(1.0)
        host.events_now()
        assert [m["source"] for m in host.models] == [first, second, third]  # what it last said: none loaded twice
        assert host.restarts == 2
    finally:
        host.stop()


@pytest.mark.parametrize("said_between", [True, False])
def test_two_restarts_in_a_row_bring_each_model_back_once_with_its_settings(said_between):
    """Models on two backends come back by LoadModel commands after a restart. A second restart before they were back
    (the fresh engine had said only that it had none yet: ``said_between``; or nothing at all) lost them, or loaded
    them twice, and lost the model heard and the sharpenings."""
    first, second = (str(reference_path(f"{n}.net")) for n in ("spandex_prune75", "spandex_prune50"))
    host = EngineHost(EngineConfig(models=[first], output=NO_OUTPUT), mode="process").start()
    try:
        host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 1)
        host.load_model(second, "sparse")  # (the engine's default: dense)
        host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 2 and e.loading == 0)
        host.set_sharpening(1, 1.5)
        host.select(1)
        host.wait_event(protocol.ModelsChanged, 60, lambda e: e.models[1]["sharpening"] == 1.5)
        host.wait_event(protocol.Status, 10, lambda e: e.playing == 1)
        host._handle(protocol.DeviceLost("speakers", True))
        if said_between:  # the fresh engine says it has no model yet (they come by command, after its start)
            host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 0)
        host._handle(protocol.DeviceLost("speakers", True))
        back = host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 2 and e.loading == 0)
        assert [m["sharpening"] for m in back.models] == [0.0, 1.5]  # (shown as sent at once)
        time.sleep(1.5)
        host.events_now()
        assert [(m["source"], m["backend"]) for m in host.models] == [(first, "dense"), (second, "sparse")]
        assert [m["sharpening"] for m in host.models] == [0.0, 1.5]
        assert host.wait_event(protocol.Status, 10).playing == 1
        assert host.restore is None and host.restarts == 2
    finally:
        host.stop()


def test_a_restore_waits_for_the_loads_its_restart_sent_not_for_the_first_quiet_moment():
    """Restarted again after the fresh engine had said it had one of two models, the next engine started with that one
    and was sent the other by command: its first report (one model, nothing loading yet) fired the restore, and the
    second model came back without its sharpening, the heard slot lost."""
    a = {"slot": 0, "source": "a.net", "backend": "dense", "sharpening": 0.0, "own_sharpening": 0.0}
    b = {"slot": 1, "source": "b.net", "backend": "sparse", "sharpening": 2.0, "own_sharpening": 0.0}
    host = EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread")  # not started: commands wait in the queue
    host.restore = ([a, b], 1)  # type: ignore[assignment]
    host.loads_sent, host.restore_loads = [protocol.LoadModel("b.net", "sparse")], 1
    host._handle(protocol.ModelsChanged((a,), playing=0, loading=0, loads_taken=0))  # type: ignore[arg-type]
    assert host.restore is not None and host.commands.empty()  # b's load not taken yet: wait
    back = {**b, "sharpening": 0.0}
    shown = host._handle(protocol.ModelsChanged((a, back), playing=0, loading=0, loads_taken=1))  # type: ignore
    assert host.restore is None
    assert [host.commands.get_nowait() for _ in range(2)] == [protocol.Select(1), protocol.SetSharpening(1, 2.0)]
    assert [m["sharpening"] for m in shown[0].models] == [0.0, 2.0]  # shown as sent at once
    # and with b failed to load: the restore comes once its load is over, with what came back
    host.restore, host.loads_finished = ([a, b], 1), 0  # type: ignore[assignment]
    host._handle(protocol.ModelsChanged((a,), playing=0, loading=0, loads_taken=1))  # type: ignore[arg-type]
    assert host.restore is None
    # and with every model failed to load: the restore is over (it stayed pending, and the app saved no settings)
    host.restore, host.loads_finished = ([a, b], 1), 0  # type: ignore[assignment]
    host._handle(protocol.ModelsChanged((), playing=-1, loading=0, loads_taken=1))
    assert host.restore is None and host.commands.empty()
    host.restore, host.loads_finished, host.restore_loads = ([a, b], 0), 0, 0  # type: ignore[assignment]
    host._handle(protocol.ModelsChanged((), playing=-1, loading=0))  # (both were its start's models)
    assert host.restore is None and host.commands.empty()


def test_what_the_user_does_while_a_restart_restores_is_what_the_restore_does():
    """The restore's commands, computed once the models were back, undid what the user had done meanwhile: a strength
    set was set back, a model removed moved the others' settings, a new choice of model heard was replaced."""
    a = {"slot": 0, "source": "a.net", "backend": "dense", "sharpening": 0.5, "own_sharpening": 0.0}
    b = {"slot": 1, "source": "b.net", "backend": "sparse", "sharpening": 2.0, "own_sharpening": 0.0}
    c = {"slot": 2, "source": "c.net", "backend": "sparse", "sharpening": 1.0, "own_sharpening": 0.0}
    host = EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread")  # not started: commands wait in the queue
    host.restore, host.restore_loads = ([a, b, c], 2), 0  # type: ignore[assignment]
    own = [{**m, "sharpening": 0.0} for m in (a, b)]
    host.models = own[:1]  # a is back (b, c to come)
    host.set_sharpening(0, 3.0)
    assert host.restore[0][0]["sharpening"] == 3.0  # type: ignore[index]
    host.remove_model(0)
    assert [m["source"] for m in host.restore[0]] == ["b.net", "c.net"] and host.restore[1] == 1  # type: ignore[index]
    host.models = []
    host.select(-1)  # bypass: none to hear once they are back
    assert host.restore[1] is None  # type: ignore[index]
    sent = [host.commands.get_nowait() for _ in range(3)]
    assert sent == [protocol.SetSharpening(0, 3.0), protocol.RemoveModel(0), protocol.Select(-1)]
    back = [{**own[1], "slot": 0}, {**c, "slot": 1, "sharpening": 0.0}]
    host._handle(protocol.ModelsChanged(tuple(back), playing=-1, loading=0, loads_taken=0))  # type: ignore[arg-type]
    assert [host.commands.get_nowait() for _ in range(2)] == [protocol.SetSharpening(0, 2.0),
                                                             protocol.SetSharpening(1, 1.0)]
    assert host.commands.empty()


def test_what_the_user_does_while_a_restart_restores_numbers_the_slots_as_the_engine_will_take_it():
    """A removal and then a strength for the model now first, both before the engine reported the removal: the strength
    was matched against the models as last reported, where slot 0 was the removed model, and was lost."""
    a = {"slot": 0, "source": "a.net", "backend": "dense", "sharpening": 0.0, "own_sharpening": 0.0}
    b = {"slot": 1, "source": "b.net", "backend": "dense", "sharpening": 0.0, "own_sharpening": 0.0}
    host = EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread")  # not started: commands wait in the queue
    host.restore, host.restore_loads = ([a, b], None), 0  # type: ignore[assignment]
    host.models = [a, b]  # type: ignore[list-item]
    host.remove_model(0)
    host.set_sharpening(0, 2.0)  # b, as the engine numbers it when it takes this
    host.select(0)
    assert host.restore == ([{**b, "sharpening": 2.0}], 0)


def test_a_restarted_engine_finds_each_model_again_by_its_file_and_a_missing_one_moves_no_other_setting():
    before = [{"source": "a.net", "backend": "sparse", "sharpening": 1.5, "own_sharpening": 0.75},
              {"source": None, "backend": "sparse", "sharpening": 2.0, "own_sharpening": 0.0},  # (not reloadable)
              {"source": "b.net", "backend": "sparse", "sharpening": 0.0, "own_sharpening": 0.5},  # (failed to load)
              {"source": "c.net", "backend": "sparse", "sharpening": 1.0, "own_sharpening": 0.5},
              {"source": "a.net", "backend": "sparse", "sharpening": 0.25, "own_sharpening": 0.75}]  # a twice
    now = [{**before[k], "sharpening": before[k]["own_sharpening"]} for k in (0, 3, 4)]
    assert restore_after_reload(before, 3, now) == [  # type: ignore[arg-type]
        protocol.Select(1), protocol.SetSharpening(0, 1.5), protocol.SetSharpening(1, 1.0),
        protocol.SetSharpening(2, 0.25)]
    assert restore_after_reload(before, 2, now)[0] == protocol.SetSharpening(0, 1.5)  # b heard, gone: no Select
    # the loading over with a model missing: what came back is restored, once
    host = EngineHost(EngineConfig(output=NO_OUTPUT), mode="thread")
    host.restore = (before, 3)  # type: ignore[assignment]
    host._handle(protocol.ModelsChanged(tuple(now), playing=0, loading=0))  # type: ignore[arg-type]
    assert host.restore is None and host.commands.get_nowait() == protocol.Select(1)


def _sources(models) -> list[tuple[str, float]]:
    return [(m["source"], m["sharpening"]) for m in models]


def test_a_model_removed_or_sharpened_just_before_a_restart_stays_so():
    """A RemoveModel or SetSharpening sent to an engine that had to be restarted before it reported the change was
    lost: the restart brought back the models as last reported, so the removed model came back, or the strength
    reverted; and the model heard was the one in its slot before the removal."""
    first, second, third = (str(reference_path(f"{n}.net")) for n in ("spandex_prune75", "spandex_prune50",
                                                                      "ndns_baseline"))
    host = EngineHost(EngineConfig(models=[first, second, third], output=NO_OUTPUT), mode="process").start()
    try:
        host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 3 and e.loading == 0)
        host.set_sharpening(1, 1.5)
        host.remove_model(0)
        host.select(1)  # the third model, as the slots are after the removal
        host.pending_events.clear()  # (handled: the host knows them; the waits below look at new ones only)
        lost, restarted = host._handle(protocol.DeviceLost("speakers", True))  # at once: none of them reported yet
        # the window is told the models coming back, numbered as they will be: its next commands mean them
        assert isinstance(restarted, protocol.EngineRestarted) and restarted.playing == 1
        assert _sources(restarted.models) == [(second, 1.5), (third, 0.0)]
        assert [m["slot"] for m in restarted.models] == [0, 1]
        assert host.restore is not None and host.restore[1] == 1
        host.wait_event(protocol.Status, 30, lambda e: e.playing == 1)  # once back, the restore selects it
        back = host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) >= 2 and e.loading == 0)
        assert _sources(back.models) == [(second, 1.5), (third, 0.0)]
        # a change the engine has reported is not done twice
        host.remove_model(0)
        host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 1)
        host.pending_events.clear()
        host._handle(protocol.DeviceLost("speakers", True))
        back = host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) >= 1 and e.loading == 0)
        assert _sources(back.models) == [(third, 0.0)]
        time.sleep(1.0)
        host.events_now()
        assert _sources(host.models) == [(third, 0.0)]
    finally:
        host.stop()


def test_a_model_removed_between_two_restarts_stays_removed_and_the_last_one_leaves_bypass():
    """Removed while a restarted engine was still starting (it had said nothing), a model came back with the next
    restart: that engine was given its start's models again. And with the last model removed just before a restart,
    the Select replayed named a slot the fresh engine did not have ("no model in slot 1")."""
    first, second = (str(reference_path(f"{n}.net")) for n in ("spandex_prune75", "spandex_prune50"))
    host = EngineHost(EngineConfig(models=[first, second], output=NO_OUTPUT), mode="process").start()
    try:
        host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 2 and e.loading == 0)
        host._handle(protocol.DeviceLost("speakers", True))
        host.remove_model(0)  # as the window shows the models coming back
        assert not host.reported_since_start  # (the fresh engine takes a second to start)
        host.pending_events.clear()
        host._handle(protocol.DeviceLost("speakers", True))
        assert host.config.models == [second]
        back = host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) >= 1 and e.loading == 0)
        assert _sources(back.models) == [(second, 0.0)]
        host.select(0)
        host.remove_model(0)
        host.pending_events.clear()
        host._handle(protocol.DeviceLost("speakers", True))
        assert host.config.models == [] and host.replay[protocol.Select] == protocol.Select(BYPASS)
        host.wait_event(protocol.ModelsChanged, 60, lambda e: len(e.models) == 0)
        time.sleep(1.0)
        errors = [e.message for e in host.events_now() if isinstance(e, protocol.EngineError)]
        assert errors == [] and host.models == []
    finally:
        host.stop()


def test_the_slot_commands_a_report_does_not_show_are_done_as_the_engine_does_them():
    a, b, c = ({"slot": k, "source": f"{n}.net", "backend": "sparse", "sharpening": 0.0} for k, n in enumerate("abc"))
    models = [a, b, c]
    assert with_slot_commands(models, 2, []) == (models, 2)  # type: ignore[arg-type]
    shown, heard = with_slot_commands(models, 2, [protocol.SetSharpening(2, 1.0),  # type: ignore[arg-type]
                                                  protocol.RemoveModel(0), protocol.SetSharpening(0, 0.5)])
    assert [(m["slot"], m["source"], m["sharpening"]) for m in shown] == [(0, "b.net", 0.5), (1, "c.net", 1.0)]
    assert heard == 1 and models[1]["sharpening"] == 0.0  # (a copy: the host's list as reported is not changed)
    assert with_slot_commands(models, 1, [protocol.RemoveModel(1)])[1] == 0  # type: ignore[arg-type]
    assert with_slot_commands(models, 0, [protocol.RemoveModel(2)])[1] == 0  # type: ignore[arg-type]
    assert with_slot_commands([a], 0, [protocol.RemoveModel(0)]) == ([], BYPASS)  # type: ignore[arg-type]
    assert with_slot_commands(models, None, [protocol.RemoveModel(0)])[1] is None  # type: ignore[arg-type]
    # a Select numbers the slots as they are when the engine takes it: after the removal before it, not before
    assert with_slot_commands(models, 0, [protocol.RemoveModel(0), protocol.Select(1)])[1] == 1  # type: ignore
    assert with_slot_commands(models, 0, [protocol.Select(2), protocol.RemoveModel(0)])[1] == 1  # type: ignore
    assert with_slot_commands(models, 0, [protocol.Select(BYPASS)])[1] == BYPASS  # type: ignore[arg-type]
    # refused by the engine (no such slot, a strength out of range): nothing changes
    assert with_slot_commands(models, 0, [protocol.RemoveModel(3), protocol.SetSharpening(-1, 2.0),  # type: ignore
                                          protocol.Select(3), protocol.SetSharpening(0, 99.0)]) == (models, 0)


def test_each_device_rate_gets_resamplers_of_its_own():
    engine = bare_engine()
    engine._configure_rate(48000)
    assert (engine.to16.up, engine.to16.down) == (1, 3)
    engine._configure_rate(24000)  # the same `down` as 48 kHz
    assert (engine.to16.up, engine.to16.down) == (2, 3) and (engine.from16.up, engine.from16.down) == (3, 2)
    engine._configure_rate(SAMPLE_RATE)
    assert engine.to16 is None and engine.from16 is None


def test_late_clock_ticks_are_added_to_the_counter_so_that_reset_zeroes_it():
    engine = bare_engine()
    devices = engine.devices
    clock = InternalClock(engine.callback)  # not started: its count set by hand
    devices.stream = OpenStream(clock, SAMPLE_RATE, HOP, None, None, 0.0)
    devices.state = "internal-clock"
    clock.late = 3
    devices.supervise(time.monotonic())
    assert engine.shared.counters[CLOCK_LATE] == 3
    engine.shared.counters[CLOCK_LATE] = 0  # Reset
    clock.late = 5
    devices.supervise(time.monotonic())
    assert engine.shared.counters[CLOCK_LATE] == 2


class _Stream:
    active = True

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def _devices_without_the_output(monkeypatch, opened: list) -> None:
    microphone = SimpleNamespace(key="mic (JACK)", hostapi="JACK Audio Connection Kit")

    def open_stream(input, output, callback, *args, **kwargs):
        opened.append((input, output))
        return OpenStream(_Stream(), SAMPLE_RATE, HOP, input, output, 0.0)

    monkeypatch.setattr(supervisor.audio_device, "rescan", lambda: None)
    monkeypatch.setattr(supervisor.audio_device, "find_device",
                        lambda key, kind: microphone if kind == "input" else None)
    monkeypatch.setattr(supervisor.audio_device, "open_stream", open_stream)


def test_a_missing_output_device_is_said_while_the_microphone_runs_on_unbroken(monkeypatch):
    """It was not said at all; then (a first fix) the microphone was reopened every few seconds to look for the
    output, a gap in the sound each time, for good on a machine without one."""
    opened: list = []
    _devices_without_the_output(monkeypatch, opened)
    engine = bare_engine(EngineConfig(output="speakers"))
    devices = engine.devices
    devices.open()
    assert opened == [(SimpleNamespace(key="mic (JACK)", hostapi="JACK Audio Connection Kit"), None)]
    assert devices.state == "running" and not devices.plays_output
    assert devices.message == "no output device 'speakers': the denoised sound is not played until it is back"
    looks: list = []
    answers = iter([None, False, None, True])

    class FakeWatch:  # a look in a child process (engine/live/device_watch.py), answering as told
        def __init__(self, *devices):
            looks.extend(devices)

        def found(self):
            return next(answers)

        def answer(self):  # (the look for the running stream's devices, not due in this test)
            raise AssertionError("not asked")

        def stop(self):
            pass

    monkeypatch.setattr(supervisor, "DeviceWatch", FakeWatch)
    engine.callback.last_call, devices.next_retry = time.monotonic(), 0.0  # callbacks coming, any retry long due
    devices.supervise(time.monotonic())
    assert len(opened) == 1 and looks == []  # the running microphone is left alone; the first look comes later
    later = time.monotonic() + devices.OUTPUT_LOOK_S
    engine.callback.last_call = later
    for _ in range(3):  # a look starts; it is under way; it says the device is not there
        devices.supervise(later)
    assert len(opened) == 1 and looks == [("output", "speakers")]
    assert devices.next_output_look == later + 2 * devices.OUTPUT_LOOK_S  # the next look after a longer delay
    engine.callback.last_call = later + 1.0
    devices.supervise(later + 1.0)
    assert looks == [("output", "speakers")] and len(opened) == 1  # not yet
    later += 2 * devices.OUTPUT_LOOK_S
    engine.callback.last_call = later
    for _ in range(3):  # a second look: under way, then there: the stream is reopened to play on it
        devices.supervise(later)
    assert len(looks) == 2 and len(opened) == 2


@pytest.mark.parametrize("hostapi", ["JACK Audio Connection Kit", "ALSA"])
def test_the_devices_a_jack_stream_runs_on_are_looked_for_and_one_gone_is_a_device_lost(monkeypatch, hostapi):
    """Unplugged under JACK, a device does not stop the stream (its ports lead nowhere): the app said "running" and
    played to nothing. A look every PRESENCE_S asks a fresh listing; only its "gone" is a loss (a look that failed or
    hung is no answer: a loss then would be a gap in the sound every few seconds on a busy machine). ALSA stops the
    stream on unplug (the stall check): no look there."""
    from engine.live.device_watch import GONE, THERE, UNKNOWN
    from engine.live.record import DEVICE_LOSSES

    mic = SimpleNamespace(key="mic (X)", hostapi=hostapi)
    speakers = SimpleNamespace(key="spk (X)", hostapi=hostapi)
    listed: dict = {"input": mic, "output": speakers}
    opened: list = []

    def open_stream(input, output, callback, *args, **kwargs):
        opened.append((input, output))
        return OpenStream(_Stream(), SAMPLE_RATE, HOP, input, output, 0.0)

    monkeypatch.setattr(supervisor.audio_device, "rescan", lambda: None)
    monkeypatch.setattr(supervisor.audio_device, "find_device", lambda key, kind: listed[kind])
    monkeypatch.setattr(supervisor.audio_device, "open_stream", open_stream)
    looks: list = []
    answers = iter([None, THERE, None, UNKNOWN, None, GONE])

    class FakeWatch:  # a look in a child process (engine/live/device_watch.py), answering as told
        def __init__(self, *devices):
            looks.append(devices)

        def answer(self):
            return next(answers)

        def stop(self):
            pass

    monkeypatch.setattr(supervisor, "DeviceWatch", FakeWatch)
    engine = bare_engine(EngineConfig(input="mic", output="spk"))
    devices = engine.devices
    lost: list = []
    devices.on_lost = lambda names, restart: lost.append(names)
    devices.open()
    now = time.monotonic()

    def at(moment: float, times: int = 1) -> None:
        for _ in range(times):
            engine.callback.last_call = moment  # (callbacks coming: no stall)
            devices.supervise(moment)

    at(now)
    assert looks == []  # not due yet
    if hostapi == "ALSA":
        at(now + 10 * devices.PRESENCE_S, 3)
        assert looks == [] and opened == [(mic, speakers)]
        return
    now += devices.PRESENCE_S
    at(now, 3)  # a look starts, is under way, finds both
    assert looks == [(("input", "mic (X)"), ("output", "spk (X)"))] and lost == [] and len(opened) == 1
    at(now + 1.0)
    assert len(looks) == 1  # the next one after PRESENCE_S
    now += devices.PRESENCE_S
    at(now, 3)  # one that knows nothing (it hung, or did not start): no loss, no reopen
    assert len(looks) == 2 and lost == [] and len(opened) == 1
    now += devices.PRESENCE_S
    listed["output"] = None  # unplugged
    at(now, 3)
    assert lost == ["mic (X) / spk (X)"] and devices.counters[DEVICE_LOSSES] == 1
    assert opened[-1] == (mic, None) and devices.output_missing and devices.state == "running"
    assert devices.message == "no output device 'spk': the denoised sound is not played until it is back"
    # the microphone, unplugged while it sent sound, found gone by a look before the silence check: the stream
    # reopened without it, and the next silence check asserted it had one (the engine stopped: AssertionError)
    listed["output"] = speakers
    answers = iter([GONE])
    devices.open()
    listed["input"] = None
    now += devices.PRESENCE_S
    devices.heard_at = now  # sound heard just before the unplug: the silence check is not due
    at(now, 2)  # the look starts; it says gone
    assert devices.stream is not None and devices.stream.input is None and devices.heard_at is None
    at(now + 3 * devices.SILENT_S, 3)  # (no error)


def test_an_output_device_found_that_does_not_open_leaves_the_microphone_running(monkeypatch):
    """A look found the output device, but it did not open yet (a headset still connecting): the stream fell back to
    the internal clock, the microphone stopped. Now the microphone runs on alone and the device is looked for again;
    and another output chosen is looked for from the first delay, not the grown one."""
    opened: list = []
    _devices_without_the_output(monkeypatch, opened)
    engine = bare_engine(EngineConfig(output="headset"))
    devices = engine.devices
    devices.open()
    headset = SimpleNamespace(key="headset (JACK)")
    microphone = opened[0][0]

    def open_stream(input, output, callback, *args, **kwargs):
        opened.append((input, output))
        if output is not None:
            raise SpandexError("device unavailable")
        return OpenStream(_Stream(), SAMPLE_RATE, HOP, input, output, 0.0)

    monkeypatch.setattr(supervisor.audio_device, "find_device",
                        lambda key, kind: microphone if kind == "input" else headset if key == "headset" else None)
    monkeypatch.setattr(supervisor.audio_device, "open_stream", open_stream)
    devices.open()  # as when a look has found it
    assert opened[1:] == [(microphone, headset), (microphone, None)]
    assert devices.state == "running" and devices.stream is not None and devices.stream.input is microphone
    assert devices.output_missing and "the output device headset (JACK) does not open (device unavailable)" in \
        devices.message
    devices.output_look_delay = devices.MAX_OUTPUT_LOOK_S
    devices.use_output("speakers")
    assert devices.output_look_delay == devices.OUTPUT_LOOK_S
    # chosen while it is listed and busy: the same (it was the microphone that was blamed, the demo clip played)
    del opened[:]
    devices.use_output("headset")
    assert opened == [(microphone, headset), (microphone, None)] and devices.file_source is None
    assert devices.output_missing and "the output device headset (JACK) does not open" in devices.message


def test_a_look_for_a_device_that_hangs_or_cannot_start_counts_as_not_found(monkeypatch):
    import subprocess

    from engine.live import device_watch

    watch = device_watch.DeviceWatch(("output", "nosuchdevice"))  # a real look: the child's own PortAudio
    deadline = time.monotonic() + 60
    while (found := watch.found()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert found is False
    hung = device_watch.DeviceWatch(("output", None))
    hung.stop()
    hung._child = subprocess.Popen(["sleep", "60"])  # as a PortAudio that hangs
    assert hung.found() is None
    hung._started -= device_watch.LOOK_TIMEOUT_S
    assert hung.found() is False and hung._child.poll() is not None  # ended, not left behind

    def no_process(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(device_watch.subprocess, "Popen", no_process)
    assert device_watch.DeviceWatch(("output", None)).found() is False


def test_a_file_playing_as_the_microphone_is_read_once(monkeypatch, tmp_path):
    opened: list = []
    _devices_without_the_output(monkeypatch, opened)
    clip = tmp_path / "clip.wav"
    write_wav(clip, np.full(SAMPLE_RATE, 0.1, np.float32))
    engine = bare_engine()
    engine.devices.use_file(str(clip))
    clip.unlink()  # gone from the disk: a reopen at another rate resamples what was read
    engine.devices._configure_rate(48000)
    assert engine.devices.file_source is not None and engine.devices.file_source.audio.size == 3 * SAMPLE_RATE


def test_a_silent_file_played_as_the_microphone_is_said_to_be_silent(tmp_path):
    """`spandex --file silent.wav` (or a silent file picked in the window) ran with empty plots and no word why."""
    silent, sound = tmp_path / "silent.wav", tmp_path / "sound.wav"
    write_wav(silent, np.zeros(SAMPLE_RATE, np.float32))
    write_wav(sound, np.full(SAMPLE_RATE, 0.1, np.float32))
    host = running(EngineHost(EngineConfig(output=NO_OUTPUT, file=str(silent)), mode="thread"))
    try:
        said = host.wait_event(protocol.EngineError, 30)
        assert said.message == ("A silent file plays as the microphone: silent.wav is below -60 dBFS, nothing in it "
                                "to hear or denoise")
        host.set_file(str(sound))
        stream = host.wait_event(protocol.StreamChanged, 30, lambda e: bool(e.file) and e.file.endswith("sound.wav"))
        time.sleep(0.5)
        assert stream.file and not [e for e in host.events_now() if isinstance(e, protocol.EngineError)]
        host.set_file(str(silent))
        assert host.wait_event(protocol.EngineError, 30).message.startswith(protocol.FILE_SILENT)
    finally:
        host.stop()


def test_the_virtual_microphone_is_removed_off_the_worker_thread():
    engine = bare_engine()
    closed: list[str] = []
    done = threading.Event()

    class Microphone:
        dropped = 0

        def close(self) -> None:
            closed.append(threading.current_thread().name)
            done.set()

    engine.virtual_mic = Microphone()  # type: ignore[assignment]
    engine._close_virtual_mic()
    assert engine.virtual_mic is None
    assert done.wait(10)
    assert closed[0].startswith("spandex-virtual-mic") and closed[0] != threading.current_thread().name
    event = engine.events.get_nowait()
    assert isinstance(event, protocol.VirtualMicChanged) and not event.on
    engine.opener.shutdown(wait=True)
    engine.loader.shutdown(wait=True)


def test_a_model_loaded_but_refused_is_closed(monkeypatch):
    engine = bare_engine()
    from concurrent.futures import Future

    from engine.backends import prepare
    from engine.files.netx import load_model

    runner = prepare(load_model(reference_path("spandex_prune75.net")))
    closed: list[bool] = []
    monkeypatch.setattr(runner, "close", lambda: closed.append(True))
    monkeypatch.setattr(LiveDenoiser, "add_model", lambda self, r: (_ for _ in ()).throw(SpandexError("full")))
    future: Future = Future()
    future.set_result(runner)
    engine.pending.append(future)
    engine._collect_models()
    assert closed == [True]
    error = engine.events.get_nowait()
    assert isinstance(error, protocol.EngineError) and error.message == f"{protocol.LOAD_FAILED} — full"
    engine.opener.shutdown(wait=True)
    engine.loader.shutdown(wait=True)
