"""The main window, offscreen (QT_QPA_PLATFORM=offscreen), driven with QTest through pytest-qt, with the
real engine in its own process playing the demo clip (no sound card: the internal clock drives it).

Screenshots go to test-artifacts/gui/. Every test tears the window down the way the app does: timer
stopped, pyqtgraph views closed, engine stopped, widgets deleted — pyqtgraph crashes at exit otherwise.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from app.launch import DEMO_CLIP, AppOptions, checked_model, engine_config  # noqa: E402
from app.panels.models_panel import COLUMNS  # noqa: E402
from app.window.main_window import MainWindow  # noqa: E402
from engine.constants import BYPASS  # noqa: E402
from engine.errors import SpandexError  # noqa: E402
from engine.files.audio import write_wav  # noqa: E402
from engine.library.card import card_lines, read_card  # noqa: E402
from engine.library.catalog import default_lineup, default_model  # noqa: E402
from engine.live.host import EngineHost  # noqa: E402
from engine.live.record import xruns  # noqa: E402
from tests.reference_models import reference_path  # noqa: E402

NETS = ("ndns_baseline", "spandex_prune50", "spandex_prune75")


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "gui"
    folder.mkdir(exist_ok=True)
    return folder


def test_a_model_named_for_the_app_is_remembered_by_its_absolute_path(tmp_path, monkeypatch):
    """`spandex --model ../x.net` was saved as typed: started from another folder, the app lost it (or found
    another file). A library name is its file's path; a state dict is found but left to the engine to read
    (importing torch costs the window tens of seconds)."""
    shutil.copy(reference_path("spandex_prune50.net"), tmp_path / "mine.net")
    (tmp_path / "later.pt").write_bytes(b"not read here")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert checked_model("../mine.net") == tmp_path / "mine.net"
    assert checked_model("../later.pt") == tmp_path / "later.pt"
    (tmp_path / "latest.net").symlink_to(tmp_path / "mine.net")  # a link stays a link: its card is beside it
    assert checked_model("../latest.net") == tmp_path / "latest.net"
    (tmp_path / "sub" / "spandex-prune90").mkdir()  # a run folder named as a library model: the model is meant
    assert checked_model("spandex-prune90") == Path(os.path.abspath(default_model().path.with_name("spandex-prune90.net")))
    with pytest.raises(SpandexError, match="--model: model file not found"):
        checked_model("../gone.pt")


def test_models_remembered_from_the_last_exit_that_are_gone_are_said_to_be_left_out(tmp_path, capsys):
    shutil.copy(reference_path("spandex_prune50.net"), tmp_path / "kept.net")
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    settings.setValue("models", [str(tmp_path / "kept.net"), str(tmp_path / "gone.net")])
    assert engine_config(AppOptions(), settings).models == [str(tmp_path / "kept.net")]
    assert capsys.readouterr().err == (f"spandex: left out, no longer there: {tmp_path / 'gone.net'} (loaded when "
                                       "the app was last closed)\n")
    # there and not a model (replaced by another file): said, and the rest (here the shipped lineup) load
    (tmp_path / "notes.md").write_text("# not a model\n")
    settings.setValue("models", [str(tmp_path / "notes.md")])
    assert engine_config(AppOptions(), settings).models == [str(entry.path) for entry in default_lineup()]
    said = capsys.readouterr().err
    assert said.startswith(f"spandex: left out, loaded when the app was last closed and not loadable now: "
                           f"{tmp_path / 'notes.md'}: not a readable netx HDF5 file") and said.count("\n") == 1
    settings.setValue("models", [str(tmp_path / "kept.net")] * 10)  # more than the app runs at once (a hand edit)
    assert engine_config(AppOptions(), settings).models == [str(tmp_path / "kept.net")] * 9
    assert capsys.readouterr().err.startswith("spandex: left out, past the 9 models the app runs at once: ")


@pytest.mark.parametrize("saved", ["-3", "0", "101", "lots"])
def test_a_saved_buffer_the_engine_does_not_take_gives_way_to_the_default(tmp_path, saved):
    """`spandex --buffer -3` was saved, and every later start crashed the engine ("negative dimensions") until
    the user found the option again: a bad saved value (an older version's, a hand edit) is not used."""
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    settings.setValue("buffer", saved)
    assert engine_config(AppOptions(models=["x.net"]), settings).prefill_hops == 2
    assert settings.value("buffer") in (2, "2")  # and the default saved in its place
    settings.setValue("buffer", "7")
    assert engine_config(AppOptions(models=["x.net"]), settings).prefill_hops == 7  # a good one is kept


def open_window(qtbot, tmp_path, models, env=None, **options):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    config = engine_config(AppOptions(models=models, **options), settings)
    host = EngineHost(config, mode="process", env=env).start()
    window = MainWindow(host, DEMO_CLIP, settings)
    window.show()
    qtbot.waitExposed(window)
    return window, host


def close_window(window, host):
    window.shutdown()
    host.stop()
    window.close()
    window.deleteLater()
    # delete now, and drop the Python wrappers of deleted Qt objects: a stale wrapper whose address Qt
    # reused once made a later window's QMenu come back as a QWidgetItem (PySide6 6.11, seen once)
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
    QtWidgets.QApplication.processEvents()
    gc.collect()


@pytest.fixture
def window(qtbot, tmp_path):
    window, host = open_window(qtbot, tmp_path, [str(reference_path(f"{n}.net")) for n in NETS],
                               output="none")
    qtbot.waitUntil(lambda: len(window.controller.models) == 3 and window.frames_received > 200, timeout=60_000)
    yield window
    close_window(window, host)


def press(qtbot, window, key: str) -> None:
    qtbot.keyClick(window, getattr(QtCore.Qt.Key, f"Key_{key}"))


def playing_becomes(qtbot, window, slot: int) -> None:
    qtbot.waitUntil(lambda: window.history.playing == slot, timeout=10_000)


@pytest.fixture
def window_on_devices(qtbot, tmp_path, virtual_audio, noisy_speech):
    """The window on the PipeWire devices (real callbacks, real xruns), real noisy speech at the microphone."""
    window, host = open_window(qtbot, tmp_path, [str(reference_path(f"{n}.net")) for n in NETS],
                               env=virtual_audio.jack_env(), input="mic_feed", output="app_out")
    player = virtual_audio.play(np.tile(noisy_speech[0], 12))
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 3 and window.frames_received > 200, timeout=120_000)
        yield window
    finally:
        player.kill()
        player.wait()
        close_window(window, host)


@pytest.mark.slow
def test_plots_receive_data(qtbot, window_on_devices, shots):
    window = window_on_devices
    views = (window.spectrogram_in, window.spectrogram_out, window.raster, window.synops_trace,
             window.mops_trace, window.cpu_trace, window.sparsity)
    qtbot.waitUntil(lambda: all(view.updates > 10 for view in views), timeout=60_000)
    h = window.history
    assert window.spectrogram_in.updates > 10 and window.spectrogram_out.updates > 10
    assert np.ptp(h.in_db[-100:]) > 20  # real spectra, not the -120 dB fill
    assert window.raster.updates > 10 and h.fired_hops(100, 1281).sum() > 1000
    assert window.raster.layer_sizes == (257, 512, 512)
    for trace in (window.synops_trace, window.mops_trace, window.cpu_trace):
        assert trace.updates > 10 and len(trace.curves) == 3
        _, y = trace.curves[0].getData()
        assert np.max(y) > 0
    assert window.sparsity.updates > 10 and all(0 < a < 1 for a in window.sparsity.last_activity)
    assert window.meter_in.db > -60
    # side by side: the pruned models cost fewer SynOps than the baseline, as measured
    column = COLUMNS.index("SynOps")
    synops = [float(window.models_panel.table.item(row, column).text().replace(",", "")) for row in range(3)]
    assert synops[0] > synops[1] > synops[2] > 0
    # the status line says what the counters say, and a correct engine keeps xruns rare on this machine
    window.refresh_text()
    counted = xruns(np.array(list(window.counters.values())))
    assert window.xrun_label.text().startswith(f"xruns {counted} ")
    assert window.controller.stream_info.state == "running" and window.counters["callbacks"] > 500
    assert counted <= 0.02 * window.counters["callbacks"], window.counters
    # the frame rate is a speed target: measured in bench/gui.py, not asserted on this shared machine
    window.grab().save(str(shots / "main_window.png"))


def test_model_card_of_the_selected_model(qtbot, tmp_path):
    shipped = default_model().path
    window, host = open_window(qtbot, tmp_path, [str(shipped), str(reference_path("ndns_baseline.net"))],
                               output="none")
    try:
        # until the engine first speaks (its process takes seconds to start), the window says what it waits for
        assert window.banner.isVisible(), "an empty window while the engine starts"
        assert window.banner.text().startswith("<b>Starting the audio engine and loading 2 models…</b>")
        panel = window.models_panel
        qtbot.waitUntil(lambda: len(window.controller.models) == 2, timeout=60_000)
        assert not window.banner.isVisible()  # the models came: nothing to say
        lines = card_lines(read_card(shipped)[0], brief_stages=True)  # room is short in the app
        expected = "\n".join(line.lstrip(" ") for line in lines)  # its indents are the paragraphs' margins
        assert "SI-SNR dB" in expected and panel.card.toPlainText() == expected
        blocks = [panel.card.document().findBlockByNumber(n) for n in range(len(lines))]
        margins = [block.blockFormat().leftMargin() + block.blockFormat().textIndent() for block in blocks]
        indented = [n for n, line in enumerate(lines) if line.startswith("  ")]
        assert indented and all(margins[n] > margins[0] for n in indented)  # the card's indent, kept
        wrapped = [block.layout() for block in blocks if block.layout().lineCount() > 1]
        assert wrapped, "no card line wraps at this width: nothing to check"
        for layout in wrapped:  # a wrapped line hangs under its own first line, clear of the next label
            assert all(layout.lineAt(k).x() > layout.lineAt(0).x() for k in range(1, layout.lineCount()))
        assert "stages: spandex-dense-stage1 (3,200 steps) → spandex-dense (2,400 steps) → blend: 80% spandex-dense + 20% ndns_baseline → " in expected  # in brief
        assert "stage spandex-dense-stage1: 3,200 steps, batch 16" in "\n".join(card_lines(read_card(shipped)[0]))
        panel.table.selectRow(1)  # the official file has no card: said so
        assert panel.card.toPlainText() == "ndns_baseline: no model card (a file opened from disk?)"
        # each model's mask sharpening: its own as it loads; set in the panel, the engine sharpens it from then on
        assert panel.sharpening_spin.value() == 0.0 and panel.sharpening_label.text() == "Slot 2 mask sharpening:"
        panel.table.selectRow(0)
        own = read_card(shipped)[0]["decoder"]["sharpening"]
        assert own > 0 and panel.sharpening_spin.value() == own and panel.sharpening_own.text() == f"Its own ({own:g})"
        assert not panel.sharpening_own.isEnabled()  # it is its own already
        panel.sharpening_spin.setValue(1.5)
        qtbot.waitUntil(lambda: window.controller.models[0]["sharpening"] == 1.5, timeout=10_000)
        assert window.controller.models[1]["sharpening"] == 0.0 and panel.sharpening_own.isEnabled()
        panel.sharpening_own.click()
        qtbot.waitUntil(lambda: window.controller.models[0]["sharpening"] == own, timeout=10_000)
        assert panel.sharpening_spin.value() == own and not panel.sharpening_own.isEnabled()
        # the arrow keys step the focused box, not the noise's SNR (the window's Up / Down)
        snr = window.noise_panel.snr.value()
        window.tabs.setCurrentWidget(panel)
        panel.sharpening_spin.setFocus()
        qtbot.waitUntil(panel.sharpening_spin.hasFocus, timeout=5000)
        qtbot.keyClick(panel.sharpening_spin, QtCore.Qt.Key.Key_Up)
        assert panel.sharpening_spin.value() == own + 0.25 and window.noise_panel.snr.value() == snr
        qtbot.waitUntil(lambda: window.controller.models[0]["sharpening"] == own + 0.25, timeout=10_000)
    finally:
        close_window(window, host)


@pytest.mark.slow
def test_pick_model_ab_switch_and_bypass(qtbot, window, shots):
    press(qtbot, window, "3")
    playing_becomes(qtbot, window, 2)
    press(qtbot, window, "A")
    playing_becomes(qtbot, window, window.models_panel.a)
    press(qtbot, window, "B")
    playing_becomes(qtbot, window, window.models_panel.b)
    press(qtbot, window, "Space")
    playing_becomes(qtbot, window, window.models_panel.a)
    window.models_panel.select_requested.emit(1)  # what a double-click on row 2 sends
    playing_becomes(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.models_panel.table.item(1, 0).text().startswith("▶"), timeout=5000)
    press(qtbot, window, "0")
    playing_becomes(qtbot, window, -1)
    assert window.bypass_action.isChecked()
    qtbot.wait(300)
    records = window.history
    assert np.array_equal(records.in_db[-5:], records.out_db[-5:])  # bypass: output spectrum = input
    press(qtbot, window, "0")
    playing_becomes(qtbot, window, 1)
    window.grab().save(str(shots / "ab_switch.png"))


def test_the_notice_says_a_device_missing_the_default_output_too_and_not_a_silent_choice():
    from app.window.controller import _device_missing
    from engine.live import protocol

    def stream(state: str, output: str | None, message: str, missing_output: str | None = None):
        return protocol.StreamChanged(state=state, message=message, rate=16000, input="mic (JACK)", output=output,
                                      file=None, device_latency_s=0.0, prefill_hops=2, priority="normal",
                                      missing_output=missing_output)

    lost_default = "no output device: the denoised sound is not played until it is back"  # (unplugged, none chosen)
    assert _device_missing(stream("running", None, lost_default))
    assert _device_missing(stream("running", None, "no output device 'x': …", missing_output="x"))
    assert _device_missing(stream("no-device", "spk (JACK)", "no microphone 'usb': playing the demo clip"))
    assert not _device_missing(stream("running", None, ""))  # --output none: silence chosen
    assert not _device_missing(stream("running", "spk (JACK)", "mic (JACK) sends only silence: muted?"))
    assert not _device_missing(stream("internal-clock", None, "no output device chosen: running silently"))


def test_a_model_removed_just_before_the_engine_restarts_is_not_shown_again(qtbot, window):
    """The engine restarted (its sound server gone) before it reported a removal: the window showed the models as last
    reported until the fresh engine's report, and a row the user acted on then meant another model than the engine's."""
    from engine.live import protocol

    host = window.controller._host
    sources = [m["source"] for m in window.controller.models]
    window.models_panel.remove_requested.emit(0)
    host.events.put(protocol.DeviceLost("speakers", True))  # (as the engine says it when PortAudio is stuck)
    qtbot.waitUntil(lambda: host.restarts == 1, timeout=10_000)
    assert [m["source"] for m in window.controller.models] == sources[1:]  # at once, not after the models load
    assert window.models_panel.table.rowCount() == 2
    qtbot.waitUntil(lambda: host.restore is None and window.controller.loading == 0, timeout=60_000)
    assert [m["source"] for m in window.controller.models] == sources[1:]


@pytest.mark.slow
def test_demo_mode_noise_and_reset(qtbot, window, shots):
    press(qtbot, window, "D")
    assert window.in_demo_mode and window.isFullScreen()
    press(qtbot, window, "N")  # white noise
    press(qtbot, window, "N")  # pink
    assert window.noise_panel.current == ("pink", 5.0)
    qtbot.waitUntil(lambda: np.isfinite(window.history.noise_db), timeout=10_000)
    press(qtbot, window, "Up")
    assert window.noise_panel.current == ("pink", 6.0)
    press(qtbot, window, "3")
    playing_becomes(qtbot, window, 2)
    qtbot.waitUntil(lambda: "spandex_prune75" in window.demo_view.playing.text(), timeout=5000)
    qtbot.waitUntil(lambda: "fewer than ndns_baseline" in window.demo_view.synops.text(), timeout=5000)
    assert "pink noise at 6 dB SNR" in window.demo_view.noise.text()
    window.grab().save(str(shots / "demo_mode.png"))
    press(qtbot, window, "R")  # one-key reset: model A, the noise the demo started with (none)
    playing_becomes(qtbot, window, 0)
    assert window.noise_panel.current == ("", 5.0)
    qtbot.waitUntil(lambda: not np.isfinite(window.history.noise_db), timeout=10_000)
    press(qtbot, window, "Escape")
    assert not window.in_demo_mode and not window.isFullScreen()


@pytest.mark.slow
def test_the_window_paints_all_its_plots_in_one_sync_a_frame(qtbot, window):
    """Each plot whose scene changes on its own got a backing-store sync (and flush) of its own: 4.3 a frame."""

    class Syncs(QtCore.QObject):
        count = 0

        def eventFilter(self, watched, event):
            self.count += event.type() == QtCore.QEvent.Type.UpdateRequest
            return False

    syncs = Syncs()
    window.installEventFilter(syncs)
    ticks = window.ticks
    qtbot.waitUntil(lambda: window.ticks > ticks + 60, timeout=30_000)
    window.removeEventFilter(syncs)
    assert window.spectrogram_in.updates > 0 and syncs.count < 1.5 * (window.ticks - ticks)


@pytest.mark.slow
def test_a_minimized_window_drains_the_engine_but_draws_nothing_until_it_is_back(qtbot, window):
    views = (window.spectrogram_in, window.spectrogram_out, window.raster, window.synops_trace, window.sparsity)
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized, timeout=5_000)
    drawn, frames = [view.updates for view in views], window.frames_received
    qtbot.waitUntil(lambda: window.frames_received > frames + 125, timeout=10_000)  # a second of hops read
    assert [view.updates for view in views] == drawn
    window.showNormal()
    qtbot.waitUntil(lambda: all(view.updates > n for view, n in zip(views, drawn)), timeout=10_000)
    assert window.spectrogram_in.seen > frames + 125  # the hops it missed are drawn, not skipped


@pytest.mark.slow
def test_blind_abx_hides_models_and_keeps_score(qtbot, window, shots):
    qtbot.mouseClick(window.abx_panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    session = window.abx_panel.session
    assert session is not None and {session.a, session.b} == {0, 2}
    assert window.models_panel.table.isHidden() and window.raster.isHidden()
    assert window.models_panel.card.isHidden() and window.models_panel.sharpening_row.isHidden()  # a setting per model
    qtbot.waitUntil(lambda: window.latency_label.text() == "latency hidden during the blind test", timeout=5000)
    playing_becomes(qtbot, window, session.x)
    assert not window.models_panel.remove_button.isEnabled() and not window.models_panel.open_button.isEnabled()
    for key in ("0", "0", "R"):  # bypass (twice: it came back to the last model heard, not X) and reset (to A)
        press(qtbot, window, key)
    qtbot.wait(300)
    assert window.history.playing == session.x
    press(qtbot, window, "A")
    playing_becomes(qtbot, window, session.a)
    press(qtbot, window, "3")  # slots would tell: ignored while blind
    qtbot.wait(300)
    assert window.history.playing == session.a
    right = window.abx_panel.guess_a if session.x_is_a else window.abx_panel.guess_b
    qtbot.mouseClick(right, QtCore.Qt.MouseButton.LeftButton)
    playing_becomes(qtbot, window, session.x)
    wrong = window.abx_panel.guess_b if session.x_is_a else window.abx_panel.guess_a
    qtbot.mouseClick(wrong, QtCore.Qt.MouseButton.LeftButton)
    assert (session.correct, session.trials) == (1, 2)
    assert "1 / 2 correct" in window.abx_panel.score.text()
    window.grab().save(str(shots / "abx.png"))
    qtbot.mouseClick(window.abx_panel.start_button, QtCore.Qt.MouseButton.LeftButton)
    assert window.abx_panel.session is None and not window.models_panel.table.isHidden()
    qtbot.waitUntil(lambda: window.latency_label.text().startswith("latency ") and "hidden" not in
                    window.latency_label.text(), timeout=5000)


@pytest.mark.slow
def test_no_model_says_so_then_opens_one(qtbot, tmp_path, shots, monkeypatch):
    monkeypatch.setattr("app.launch.default_lineup", lambda: [])  # as on a checkout without assets/models
    window, host = open_window(qtbot, tmp_path, [], output="none")
    try:
        qtbot.waitUntil(lambda: window.banner.isVisible() and "Starting" not in window.banner.text(), timeout=60_000)
        assert "No model loaded" in window.banner.text()
        qtbot.waitUntil(lambda: window.frames_received > 50, timeout=30_000)
        window.grab().save(str(shots / "no_model.png"))
        window.controller.load_model(str(reference_path("spandex_prune50.net")))
        qtbot.waitUntil(lambda: len(window.controller.models) == 1 and not window.banner.isVisible(), timeout=60_000)
        playing_becomes(qtbot, window, 0)
        window.controller.load_model(str(tmp_path / "settings.ini"))  # not a model: says so, keeps running
        qtbot.waitUntil(lambda: window.notice.isVisible(), timeout=30_000)
        assert len(window.controller.models) == 1
    finally:
        close_window(window, host)


@pytest.mark.slow
def test_device_pickers_list_real_devices(qtbot, tmp_path, virtual_audio):
    window, host = open_window(qtbot, tmp_path, [str(reference_path("spandex_prune75.net"))],
                               env=virtual_audio.jack_env(), input="mic_feed", output="app_out")
    try:
        qtbot.waitUntil(lambda: window.controller.stream_info is not None and window.controller.stream_info.state == "running", timeout=60_000)
        qtbot.mouseClick(window.devices.refresh_button, QtCore.Qt.MouseButton.LeftButton)  # rescan
        sources = window.devices.source
        qtbot.waitUntil(lambda: sources.findData("mic_feed (JACK Audio Connection Kit)") >= 0, timeout=30_000)
        assert window.devices.output.findData("app_out (JACK Audio Connection Kit)") >= 0
        qtbot.waitUntil(lambda: window.controller.stream_info is not None and window.controller.stream_info.state == "running", timeout=30_000)
        assert sources.currentData() == "mic_feed (JACK Audio Connection Kit)"
        sources.setCurrentIndex(0)  # the demo clip, through the same path
        sources.activated.emit(0)
        qtbot.waitUntil(lambda: (window.controller.stream_info.file or "").endswith("noisy_speech.flac"),
                        timeout=30_000)
        assert window.controller.stream_info.output.startswith("app_out")
        assert window.settings.value("input").startswith("file:")  # remembered for the next start
    finally:
        close_window(window, host)


@pytest.mark.slow
def test_a_lagging_lava_slot_says_so_while_the_audio_goes_on(qtbot, tmp_path, shots):
    """A Lava model in the real engine process; its Lava processes are stopped (SIGSTOP: as on a machine
    far too busy for Lava). The audio keeps flowing from its CPU twin and the window says so."""
    import signal

    from engine.live.paced import LAVA_NICE, LAVA_SLACK_HOPS
    from tests.test_app_stop import descendants

    window, host = open_window(qtbot, tmp_path, [str(reference_path("spandex_prune75.net"))], output="none",
                               backend="lava")
    lava: list[int] = []
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 1 and window.frames_received > 100, timeout=180_000)
        assert window.controller.models[0]["backend"] == "lava" and window.controller.models[0]["twin"] == "sparse"
        lava = [pid for pid in descendants(host.pid) if pid not in _resource_trackers()]
        assert len(lava) >= 8, "Lava's processes did not start"
        assert all(os.getpriority(os.PRIO_PROCESS, pid) == LAVA_NICE for pid in lava)  # below the engine
        for pid in lava:
            os.kill(pid, signal.SIGSTOP)
        hops = host.counters()["hops"]
        qtbot.waitUntil(lambda: "Lava is running at" in window.pace_label.text(), timeout=20_000)
        assert window.pace_label.isVisible()
        assert "Slot 1 · spandex_prune75" in window.pace_label.text()
        assert "audio from the CPU backend (sparse, bit-identical masks)" in window.pace_label.text()
        qtbot.wait(1000)
        assert host.counters()["hops"] - hops > 100  # the engine kept real time without Lava
        assert window.history.playing == 0 and np.ptp(window.history.out_db[-50:]) > 20  # heard, denoised
        assert np.all(window.history.fallback[-50:, 0] != 0)
        late = 32 + 8 * (1 + LAVA_SLACK_HOPS)  # the STFT's 32 ms, Lava's step and its slack
        assert f"latency {late} ms algorithmic" in window.latency_label.text()
        window.grab().save(str(shots / "lava_lagging.png"))
        window.tabs.setCurrentWidget(window.loihi_panel)
        qtbot.wait(200)
        assert window.loihi_panel.selected.name == "spandex_prune75"
        window.grab().save(str(shots / "loihi_tab.png"))
    finally:
        for pid in lava:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        close_window(window, host)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in lava) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in lava if Path(f"/proc/{pid}").exists()], "Lava processes outlived the engine"


@pytest.mark.slow
def test_spandex_without_command_opens_the_app(tmp_path, shots):
    """`python main.py` (= `spandex`) with models: the window runs, plays the demo clip, closes cleanly."""
    import subprocess
    import sys

    from tests.corpus import REPO

    shot = shots / "spandex_cli.png"
    shot.unlink(missing_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "main.py", "--model", str(reference_path("spandex_prune75.net")),
                          "--output", "none", "--quit-after", "8", "--screenshot", str(shot)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_spandex_without_a_display_says_so(tmp_path):
    import subprocess
    import sys

    from tests.corpus import REPO

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    run = subprocess.run([sys.executable, "main.py", "--output", "none"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "no display" in run.stderr


def _resource_trackers() -> set[int]:
    """multiprocessing's resource tracker helpers (not Lava's processes)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"resource_tracker" in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
        except OSError:
            pass
    return found


@pytest.mark.slow
def test_a_model_that_fails_to_load_is_said_until_clicked_away_and_a_missing_output_is_said(qtbot, tmp_path,
                                                                                              virtual_audio):
    """Among models that load, one that did not was said in the red notice for a twentieth of a second: the stream's
    next "running" cleared it. And with only the output device missing, no notice said so."""
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    good = str(reference_path("spandex_prune75.net"))
    window, host = open_window(qtbot, tmp_path, [good, str(bad)], env=virtual_audio.jack_env(), input="mic_feed",
                               output="app_out")
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 1 and window.controller.stream_info is not None
                        and window.controller.stream_info.state == "running", timeout=60_000)
        qtbot.waitUntil(lambda: window.frames_received > 200, timeout=30_000)  # (more events: none clears it)
        assert window.notice.isVisible() and f"Cannot load the model {bad} — not a readable torch state dict" in \
            window.notice.text() and window.notice.text().count(str(bad)) == 1  # (its path said once)
        assert window.notice.toolTip() == "Click to dismiss"
        qtbot.mouseClick(window.notice, QtCore.Qt.MouseButton.LeftButton)
        assert not window.notice.isVisible()
        host.set_output("nosuch_out")  # chosen and not there: the microphone runs on, and the notice says so
        qtbot.waitUntil(lambda: "no output device 'nosuch_out'" in window.notice.text(), timeout=30_000)
        assert window.controller.stream_info.state == "running" and window.notice.isVisible()
        host.set_output("app_out")
        qtbot.waitUntil(lambda: not window.notice.isVisible(), timeout=30_000)
    finally:
        close_window(window, host)


@pytest.mark.slow
def test_a_bad_file_or_model_says_so_once_and_the_engine_runs_on(qtbot, tmp_path, shots):
    """Not audio, a model that does not exist: one clear message each in the window, no stale text, the
    engine keeps running, and the user picks another file and model."""
    bad_file = tmp_path / "notes.wav"
    bad_file.write_text("not audio")
    window, host = open_window(qtbot, tmp_path, ["no-such-model"], output="none", file=str(bad_file))
    try:
        qtbot.waitUntil(lambda: window.banner.isVisible() and window.notice.isVisible()
                        and "Starting" not in window.banner.text(), timeout=60_000)
        assert "Cannot load the model no-such-model" in window.banner.text()
        assert "No default model is shipped" not in window.banner.text()
        qtbot.waitUntil(lambda: window.controller.stream_info is not None and window.frames_received > 50, timeout=30_000)
        assert window.state_label.text() != "starting the audio engine…" and host.alive
        assert window.controller.stream_info.file.endswith("noisy_speech.flac")  # the demo clip plays meanwhile
        assert "Cannot play this file" in window.notice.text()
        assert "Cannot load" not in window.notice.text()  # the model's error is said once, in the banner
        window.grab().save(str(shots / "bad_input.png"))
        qtbot.mouseClick(window.notice, QtCore.Qt.MouseButton.LeftButton)  # clicked away
        assert not window.notice.isVisible()
        host.set_file(str(bad_file))  # picked again from the window: said again, nothing else changes
        qtbot.waitUntil(lambda: "Cannot play this file as the microphone" in window.notice.text(), timeout=30_000)
        assert host.alive and window.controller.stream_info.file.endswith("noisy_speech.flac")
        silent = tmp_path / "silent.wav"
        write_wav(silent, np.zeros(16000, np.float32))
        host.set_file(str(silent))  # another file plays: what was said of the bad one goes; this one is silent
        qtbot.waitUntil(lambda: "A silent file plays as the microphone: silent.wav" in window.notice.text(),
                        timeout=30_000)
        assert "Cannot play this file" not in window.notice.text()
        host.set_file(str(DEMO_CLIP))  # and a file with sound: the notice has nothing left to say
        qtbot.waitUntil(lambda: not window.notice.isVisible(), timeout=30_000)
        window.controller.load_model(str(reference_path("spandex_prune50.net")))
        qtbot.waitUntil(lambda: len(window.controller.models) == 1 and not window.banner.isVisible(), timeout=60_000)
    finally:
        close_window(window, host)


@pytest.mark.slow
def test_recording_is_written_when_the_app_closes(qtbot, tmp_path):
    window, host = open_window(qtbot, tmp_path, [str(reference_path("spandex_prune50.net"))], output="none")
    try:
        window.settings.setValue("record_folder", str(tmp_path / "recordings"))
        qtbot.waitUntil(lambda: len(window.controller.models) == 1 and window.frames_received > 50, timeout=60_000)
        window.record_action.setChecked(True)
        qtbot.waitUntil(lambda: "recording" in window.state_label.text(), timeout=10_000)
        assert str(tmp_path / "recordings") in window.state_label.text()  # where the files will go
        window.shutdown()  # as when the app is closed or stopped by a signal
        assert window.controller.recorded is not None and window.controller.recorded.seconds > 0
        assert all(Path(p).is_file() and Path(p).parent == tmp_path / "recordings" for p in window.controller.recorded.paths)
    finally:
        close_window(window, host)


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)], ids=["1280x800", "1920x1080"])
def test_screenshots_under_xvfb(tmp_path, shots, size):
    """The real app on a virtual X server of that size; the screenshot is kept in test-artifacts/gui/."""
    import shutil
    import subprocess
    import sys

    from tests.corpus import REPO

    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is missing: run scripts/setup.sh"
    width, height = size
    server = subprocess.Popen([xvfb, "-displayfd", "1", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        display = server.stdout.readline().strip()
        shot = shots / f"xvfb_{width}x{height}.png"
        shot.unlink(missing_ok=True)
        env = {**os.environ, "DISPLAY": f":{display}", "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": str(tmp_path)}
        run = subprocess.run([sys.executable, "main.py", "--model", "spandex-dense", "--model", "spandex-prune75",
                              "--output", "none", "--window-size", f"{width}x{height}", "--quit-after", "12",
                              "--screenshot", str(shot)], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    from PySide6 import QtGui

    image = QtGui.QImage(str(shot))
    assert (image.width(), image.height()) == (width, height), image.size()


def test_a_screenshot_not_of_the_size_asked_says_why(qtbot, capsys):
    """`--window-size` larger than the screen (Qt's offscreen one is 800x800 unless its configfile names another
    size), or the full-screen demo page: the screenshot is of another size, and the app says why."""
    from PySide6 import QtWidgets

    from app.launch import _say_if_not_the_size_asked

    widget = QtWidgets.QWidget()
    qtbot.addWidget(widget)
    widget.resize(300, 200)
    _say_if_not_the_size_asked(widget, (300, 200))
    assert capsys.readouterr().err == ""
    _say_if_not_the_size_asked(widget, (1300, 900))
    screen = widget.screen().size()
    assert capsys.readouterr().err.startswith(
        f"spandex: the screenshot is 300x200, not the 1300x900 asked for: the screen is "
        f"{screen.width()}x{screen.height()}")
    widget.showFullScreen()
    qtbot.waitUntil(lambda: widget.isFullScreen() and widget.width() != 300)
    _say_if_not_the_size_asked(widget, (300, 200))
    assert capsys.readouterr().err.endswith("asked for: the window is full screen (the demo page; leave out --demo)\n")


@pytest.mark.slow
def test_bypass_off_after_the_last_heard_model_is_removed_hears_a_model_and_closing_frees_the_device_first(
        qtbot, tmp_path):
    """Bypass off comes back to a model even when the one heard last was removed meanwhile; closing the window
    asks a training run to stop, closes the engine (the device), and only then waits for the run."""
    window, host = open_window(qtbot, tmp_path, [str(reference_path(f"{n}.net")) for n in NETS[:2]], output="none")
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 2, timeout=60_000)
        press(qtbot, window, "2")
        playing_becomes(qtbot, window, 1)
        press(qtbot, window, "0")  # bypass
        playing_becomes(qtbot, window, BYPASS)
        host.remove_model(1)  # the one heard last
        qtbot.waitUntil(lambda: len(window.controller.models) == 1, timeout=30_000)
        press(qtbot, window, "0")  # bypass off
        playing_becomes(qtbot, window, 0)
        assert "no model in slot" not in window.notice.text()
        order: list[str] = []
        panel = window.prune_panel
        stop_run, wait = panel.stop_run, panel.shutdown
        panel.stop_run = lambda: (order.append("run asked to stop"), stop_run())
        panel.shutdown = lambda: (order.append("run waited for"), wait())  # (it closes its plots too)
        window.shutdown(before_waiting=lambda: order.append("engine closed"))
        assert order[:3] == ["run asked to stop", "engine closed", "run waited for"]  # (then its own stop_run)
    finally:
        close_window(window, host)


def test_the_source_picker_after_a_cancelled_or_chosen_file_shows_what_plays(qtbot, tmp_path, monkeypatch):
    """Cancelling "Open a file…" left the picker on "Open a file…" while the old source played on; choosing a file
    showed the output as "None (silent)" though it was not changed."""
    from app.panels.devices import DevicePicker

    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    picker = DevicePicker(DEMO_CLIP, settings)
    qtbot.addWidget(picker)
    device = {"index": 0, "name": "spk", "hostapi": "ALSA", "max_input_channels": 0, "max_output_channels": 2,
              "default_samplerate": 48000.0, "key": "spk (ALSA)"}
    picker.set_devices([device], "file:" + str(DEMO_CLIP), "spk (ALSA)")
    chosen: list[str] = []
    picker.input_chosen.connect(chosen.append)
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    picker.source.setCurrentIndex(picker.source.findData("open"))
    picker.source.activated.emit(picker.source.currentIndex())
    assert picker.source.currentData() == "file:" + str(DEMO_CLIP) and chosen == []
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "talk.wav"), ""))
    picker.source.setCurrentIndex(picker.source.findData("open"))
    picker.source.activated.emit(picker.source.currentIndex())
    assert chosen == ["file:" + str(tmp_path / "talk.wav")] and picker.source.currentText() == "File: talk.wav"
    assert picker.output.currentData() == "spk (ALSA)"


@pytest.mark.slow
def test_a_mask_sharpening_set_by_hand_is_set_again_at_the_next_start(qtbot, tmp_path):
    """The models loaded at closing came back at the next start, but each with its own sharpening: the one set in
    the Models panel was lost. One file loaded twice (to hear two strengths) gets each slot's back; set back to its
    own, it stays its own."""
    model = str(reference_path("spandex_prune75.net"))
    window, host = open_window(qtbot, tmp_path, [model, model], output="none")
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 2, timeout=60_000)
        window.models_panel.table.selectRow(1)
        window.models_panel.sharpening_spin.setValue(1.5)
        qtbot.waitUntil(lambda: window.controller.models[1]["sharpening"] == 1.5, timeout=10_000)
    finally:
        close_window(window, host)
    window, host = open_window(qtbot, tmp_path, [model, model], output="none")
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 2 and window.controller.models[1]["sharpening"] == 1.5,
                        timeout=60_000)
        qtbot.wait(500)  # (events keep coming: none sets slot 0 too)
        assert [m["sharpening"] for m in window.controller.models] == [0.0, 1.5]  # slot 0 at its own (0)
        window.models_panel.table.selectRow(1)
        assert window.models_panel.sharpening_spin.value() == 1.5
        window.models_panel.sharpening_own.click()
        qtbot.waitUntil(lambda: window.controller.models[1]["sharpening"] == 0.0, timeout=10_000)
    finally:
        close_window(window, host)
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    assert settings.value("sharpening") == [f"own {model}", f"own {model}"]


def test_the_sharpenings_are_not_saved_while_a_restarted_engine_gets_its_models_back(tmp_path):
    """After a restart the fresh engine first reports its models at their own strengths; saved then, the user's were
    lost should the app be closed (or restart again) before the host had set them back."""
    from types import SimpleNamespace

    from app.window.controller import WindowController

    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    settings.setValue("sharpening", ["1.5 /m.net"])

    def saved() -> list:
        value = settings.value("sharpening")
        return value if isinstance(value, list) else [value]

    back = [{"slot": 0, "source": "/m.net", "sharpening": 0.75, "own_sharpening": 0.75}]
    controller = SimpleNamespace(_host=SimpleNamespace(restore=([], None)), _sharpening_to_restore=None,
                                 _settings=settings, models=back)
    WindowController._remember_models(controller)  # type: ignore[arg-type]
    assert saved() == ["1.5 /m.net"]
    controller._host.restore = None  # the host has set them back: from now on what the engine says is saved
    controller.models = [{**back[0], "sharpening": 1.5}]
    WindowController._remember_models(controller)  # type: ignore[arg-type]
    assert saved() == ["1.5 /m.net"]
    controller.models = back
    WindowController._remember_models(controller)  # type: ignore[arg-type]
    assert saved() == ["own /m.net"]


def test_an_output_asked_for_and_missing_is_shown_as_missing_not_as_silent(qtbot, tmp_path):
    """Started with --output of a device not there, the picker said "None (silent)", as if the user had chosen
    silence; the engine looks for the device meanwhile."""
    from app.panels.devices import DevicePicker

    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    picker = DevicePicker(DEMO_CLIP, settings)
    qtbot.addWidget(picker)
    speakers = {"index": 0, "name": "spk", "hostapi": "ALSA", "max_input_channels": 0, "max_output_channels": 2,
                "default_samplerate": 48000.0, "key": "spk (ALSA)"}
    headset = {**speakers, "index": 1, "name": "headset", "key": "headset (ALSA)"}
    source = "file:" + str(DEMO_CLIP)
    picker.set_devices([speakers], source, None, "headset")
    assert picker.output.currentText() == "⚠ headset (missing)" and picker.output.currentData() == "headset"
    assert "looked for every 3 s" in picker.output.itemData(picker.output.currentIndex(),
                                                           QtCore.Qt.ItemDataRole.ToolTipRole)
    picker.show_current(source, None, "headset")  # said again: one entry, not two
    assert [picker.output.itemText(i) for i in range(picker.output.count())] == [
        "🔊 spk (ALSA)", "None (silent)", "⚠ headset (missing)"]
    picker.set_devices([speakers, headset], source, "headset (ALSA)")  # plugged in, found: the entry goes
    picker.show_current(source, "headset (ALSA)", None)
    assert picker.output.currentText() == "🔊 headset (ALSA)"
    assert not any(picker.output.itemText(i).startswith("⚠") for i in range(picker.output.count()))
    picker.show_current(source, None, None)  # silence chosen
    assert picker.output.currentText() == "None (silent)"
    picker.show_current(source, "headset (ALSA)", None)
    picker.show_current(source, None, "headset (ALSA)")  # unplugged: the list (from before) still has it
    assert picker.output.currentText() == "⚠ headset (ALSA) (missing)"
    assert picker.output.count() == 3
    picker.show_current(source, "headset (ALSA)", None)  # back: named as listed again
    assert picker.output.currentText() == "🔊 headset (ALSA)" and picker.output.count() == 3
    assert not picker.output.itemData(picker.output.currentIndex(), QtCore.Qt.ItemDataRole.ToolTipRole)
    picker.set_devices([speakers], None, None, "headset")  # a list while no source is known yet keeps it too
    assert picker.output.currentText() == "⚠ headset (missing)"
    picker.show_current(source, "headset (JACK)", None)  # plugged in, found: not in the list made before it was
    assert picker.output.currentText() == "🔊 headset (JACK)" and picker.output.currentData() == "headset (JACK)"
    assert [picker.output.itemText(i) for i in range(picker.output.count())] == [
        "🔊 spk (ALSA)", "🔊 headset (JACK)", "None (silent)"]
    picker.show_current("mic (JACK)", "headset (JACK)", None)  # a microphone plugged in: the same
    assert picker.source.currentText() == "🎤 mic (JACK)" and picker.source.currentData() == "mic (JACK)"


@pytest.mark.slow
def test_closing_in_demo_mode_does_not_remember_the_full_screen_as_the_windows_size(qtbot, tmp_path):
    """Every later start opened full screen on the normal page (and a --window-size screenshot was the screen's)."""
    window, host = open_window(qtbot, tmp_path, [str(reference_path("spandex_prune75.net"))], output="none")
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 1, timeout=60_000)
        press(qtbot, window, "D")
        qtbot.waitUntil(lambda: window.in_demo_mode and window.isFullScreen(), timeout=5000)
    finally:
        close_window(window, host)  # (its shutdown saves what is to be remembered)
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    assert settings.value("geometry") is None
    window, host = open_window(qtbot, tmp_path / "again", [str(reference_path("spandex_prune75.net"))], output="none")
    close_window(window, host)
    again = QtCore.QSettings(str(tmp_path / "again" / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    assert again.value("geometry") is not None  # a normal window's is



@pytest.mark.slow
def test_a_screenshot_that_cannot_be_written_is_said_with_a_non_zero_exit(tmp_path):
    import subprocess
    import sys

    from tests.corpus import REPO

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "main.py", "--model", str(reference_path("spandex_prune75.net")),
                          "--output", "none", "--quit-after", "3", "--screenshot", str(tmp_path / "nowhere" / "x.png")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"spandex: error: --screenshot {tmp_path / 'nowhere' / 'x.png'} could not be written" in run.stderr
