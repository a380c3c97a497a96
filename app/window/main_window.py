"""The SPANDEX main window: plots on the left, A/B, ABX, noise and the coming tools on the right.

This module lays the widgets out (toolbar, plots, side panel, status bar), binds the keys and runs the two
timers. Data flow (Friture-style): a QTimer (:data:`FPS` per second) drains the engine's events (handed to
the controller) and its telemetry ring into :class:`app.plots.frame_history.FrameHistory`, and every visible
plot redraws from it; a second, slower timer (:data:`TEXT_HZ`) sets the status text
(:mod:`app.window.status_text`). What a control does — an :class:`engine.live.host.EngineHost` command —
and what an engine event changes are :class:`app.window.controller.WindowController`'s job (``window.controller``);
the window never calls model or audio code itself.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from app.panels.abx_panel import AbxPanel
from app.panels.demo_view import DemoView
from app.panels.devices import DevicePicker
from app.panels.loihi_panel import LoihiPanel
from app.panels.models_panel import ModelsPanel
from app.panels.noise_panel import NoisePanel
from app.panels.prune_panel import PrunePanel
from app.plots.frame_history import FrameHistory
from app.plots.meters import LevelMeter
from app.plots.raster import SpikeRaster
from app.plots.sparsity import SparsityBars
from app.plots.spectrogram import SpectrogramView
from app.plots.traces import ModelLegend, ModelTraces
from app.window.controller import WindowController
from app.window.elided_label import ElidedLabel
from app.window.notice_label import NoticeLabel
from app.window.status_text import BLIND_LATENCY, STARTING, fps_line, latency_line, pace_notice, xrun_details, xrun_line
from engine.backends import BACKEND_NAMES
from engine.library.catalog import user_data_dir
from engine.live.host import EngineHost

FPS = 30
"""Plot redraws per second."""
TEXT_HZ = 4
"""Status text updates per second."""
TOOL_BUTTON_STYLE = ("QToolBar QToolButton { border: 1px solid palette(mid); border-radius: 3px; padding: 1px 2px; "
                     "margin: 0px; } QToolBar QToolButton:checked { background: palette(highlight); "
                     "color: palette(highlighted-text); }")
"""The toolbar's actions drawn as framed buttons, a switched-on one (Bypass, Record, Virtual mic) filled."""
PLOTS_MIN_WIDTH = 520
"""The plots' column keeps at least this width (its titles whole) where the side panel's own minimum leaves room:
a side panel remembered from a wide screen is narrowed on a small one."""
SIDE_SHARE = 0.36
"""The side panel's share of the window's width at the first start (at least what its widest tab needs);
then the width the user left it at, remembered as ``side_width``. A wider window widens the plots three
times as fast as the side panel."""


class _SpinBoxKeys(QtCore.QObject):
    """The arrow and page keys step a focused spin box (a mask sharpening, a fine-tune's settings), not what the window's
    shortcuts give them (Up / Down: the noise's SNR), which Qt would otherwise let take them first."""

    KEYS = (QtCore.Qt.Key.Key_Up, QtCore.Qt.Key.Key_Down, QtCore.Qt.Key.Key_PageUp, QtCore.Qt.Key.Key_PageDown)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.ShortcutOverride and isinstance(event, QtGui.QKeyEvent) \
                and event.key() in self.KEYS:
            event.accept()  # the spin box wants the key: it comes as a key press, no shortcut fires
            return True
        return False


class MainWindow(QtWidgets.QMainWindow):
    """The window's widgets, keys and timers; what its controls do is :attr:`controller`'s."""

    def __init__(self, host: EngineHost, demo_clip: Path, settings: QtCore.QSettings,
                 backend: str | None = None) -> None:
        super().__init__()
        self.host = host  # the timers read its telemetry; commands go through the controller
        self.settings = settings
        self.history = FrameHistory()
        self.summaries: list[dict] = []
        self.callback_us: deque[float] = deque(maxlen=4096)
        self.counters = host.counters()
        self.blind = False
        self.ticks = 0
        self.tick_times: deque[float] = deque(maxlen=FPS * 2)
        self.render_ms: deque[float] = deque(maxlen=FPS * 2)
        self.frames_received = 0
        self.closed = False
        self.setWindowTitle("SPANDEX — spiking denoiser, live")
        self.resize(1280, 800)
        geometry = settings.value("geometry")
        if isinstance(geometry, QtCore.QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        self._fit_screen()

        self.split_done = False  # the split is set at the first show, when the window has its size
        self._build_plots()
        self._build_side(demo_clip)
        self._build_toolbar(demo_clip)
        self._build_status()
        self.controller = WindowController(self, host, settings, backend)
        self._build_shortcuts()
        self.spin_box_keys = _SpinBoxKeys(self)
        for spin_box in self.findChildren(QtWidgets.QAbstractSpinBox):
            spin_box.installEventFilter(self.spin_box_keys)
        self.timer = QtCore.QTimer(self)  # plots
        # precise: once measured at 8-16 ticks a second with Qt's default coarse timer (offscreen, busy machine);
        # both kinds tick 30 times a second now that a frame costs ~4 ms (docs/using.md, bench/gui.py)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1000 // FPS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.text_timer = QtCore.QTimer(self)  # status text: a person reads a few updates a second
        self.text_timer.setInterval(1000 // TEXT_HZ)
        self.text_timer.timeout.connect(self.refresh_text)
        self.text_timer.start()

    # --- layout ----------------------------------------------------------------------------------

    def _build_plots(self) -> None:
        self.spectrogram_in = SpectrogramView("in_db", "Input (+ injected noise)")
        self.spectrogram_out = SpectrogramView("out_db", "Output (what you hear)")
        self.raster = SpikeRaster()
        self.synops_trace = ModelTraces("synops")
        self.mops_trace = ModelTraces("mops")
        self.cpu_trace = ModelTraces("cpu")
        self.sparsity = SparsityBars()
        self.model_legend = ModelLegend((self.synops_trace, self.mops_trace, self.cpu_trace))
        self.meter_in = LevelMeter("in")
        self.meter_out = LevelMeter("out")
        grid = QtWidgets.QGridLayout()
        grid.addWidget(self.spectrogram_in, 0, 0)
        grid.addWidget(self.spectrogram_out, 0, 1)
        grid.addWidget(self.raster, 1, 0, 1, 2)
        grid.addWidget(self.model_legend, 2, 0, 1, 2)
        grid.addWidget(self.synops_trace, 3, 0)
        grid.addWidget(self.mops_trace, 3, 1)
        grid.addWidget(self.cpu_trace, 4, 0)
        grid.addWidget(self.sparsity, 4, 1)
        meters = QtWidgets.QHBoxLayout()
        meters.addWidget(self.meter_in)
        meters.addWidget(self.meter_out)
        grid.addLayout(meters, 5, 0, 1, 2)
        for row, stretch in enumerate((3, 3, 0, 2, 2, 0)):
            grid.setRowStretch(row, stretch)
        self.plots_widget = QtWidgets.QWidget()
        self.plots_widget.setLayout(grid)
        self.model_views = (self.raster, self.synops_trace, self.mops_trace, self.cpu_trace, self.sparsity)

    def _build_side(self, demo_clip: Path) -> None:
        self.models_panel = ModelsPanel()
        self.abx_panel = AbxPanel()
        self.abx_panel.blind_changed.connect(self.set_blind)  # views only: no command
        self.noise_panel = NoisePanel()
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.models_panel, "A/B")
        self.tabs.addTab(self.abx_panel, "ABX")
        self.tabs.addTab(self.noise_panel, "Noise")
        self.prune_panel = PrunePanel(user_data_dir() / "runs", self.settings)
        self.tabs.addTab(self.prune_panel, "Prune")
        self.loihi_panel = LoihiPanel()
        self.tabs.addTab(self.loihi_panel, "Loihi 2")
        for index, tip in enumerate((
                "The loaded models side by side: which one plays, A and B, each model's card",
                "Blind ABX listening: the app hides which model plays and keeps the score",
                "Noise injected into the microphone, and the conference demo mode",
                "Prune and fine-tune a model (GMP, activity regularisation); the library's Pareto chart",
                "Loihi 2 resources per model (neurons, synapses, memory, cores) and export for Lava")):
            self.tabs.setTabToolTip(index, tip)
        self.banner = QtWidgets.QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.banner.setStyleSheet("background: #5a4300; color: white; padding: 6px;")
        self.banner.hide()
        self.notice = NoticeLabel()
        self.pace_label = QtWidgets.QLabel()  # a Lava slot behind real time: whose audio is heard
        self.pace_label.setWordWrap(True)
        self.pace_label.setStyleSheet("background: #5a4300; color: white; padding: 6px;")
        self.pace_label.hide()
        self.splitter = QtWidgets.QSplitter()
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.plots_widget)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.installEventFilter(self)
        normal = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(normal)
        layout.addWidget(self.banner)
        layout.addWidget(self.notice)
        layout.addWidget(self.pace_label)
        layout.addWidget(self.splitter, 1)
        self.demo_view = DemoView()
        self.pages = QtWidgets.QStackedWidget()
        self.pages.addWidget(normal)
        self.normal_page = normal
        self.pages.addWidget(self.demo_view)
        self.setCentralWidget(self.pages)

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if not self.split_done:
            self.split_done = True
            self._split()
        self._place_toolbars()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._place_toolbars()

    def _place_toolbars(self) -> None:
        """Both toolbars on one row where the window is wide enough for them, else the network's (backend, demo
        mode) on a row of its own: on a 1024-px projector nothing hides behind a toolbar's » button."""
        wrapped = self.toolBarBreak(self.network_bar)
        fits = self.audio_bar.sizeHint().width() + self.network_bar.sizeHint().width() <= self.width()
        if fits and wrapped:
            self.removeToolBarBreak(self.network_bar)
        elif not fits and not wrapped:
            self.insertToolBarBreak(self.network_bar)

    def _fit_screen(self) -> None:
        """No larger than the screen's free area (a size remembered from a bigger screen, or the first start's on a
        1024×768 projector), and on it."""
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        if screen is None:
            return
        free = screen.availableGeometry()
        if self.width() > free.width() or self.height() > free.height():
            self.resize(min(self.width(), free.width()), min(self.height(), free.height()))
            self.move(free.topLeft())

    def _split(self) -> None:
        """The split between plots and side panel: the side panel as wide as the user left it, else
        :data:`SIDE_SHARE` of the window; never narrower than its widest tab needs, nor so wide that the plots get
        less than :data:`PLOTS_MIN_WIDTH`."""
        width = sum(self.splitter.sizes())
        try:
            side = int(self.settings.value("side_width") or 0)
        except (TypeError, ValueError):
            side = 0
        side = self._side_width(width, side or round(width * SIDE_SHARE))
        self.splitter.setSizes([width - side, side])

    def _side_width(self, total: int, wanted: int) -> int:
        """``wanted`` for the side panel of a splitter ``total`` wide, within the least its tabs need and the most
        that leaves the plots :data:`PLOTS_MIN_WIDTH`."""
        least = self.tabs.minimumSizeHint().width()
        return max(least, min(wanted, total - PLOTS_MIN_WIDTH))

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 (Qt's name)
        """The splitter resized (the window made smaller, a toolbar row added): the plots keep their least width."""
        if watched is self.splitter and event.type() == QtCore.QEvent.Type.Resize and self.split_done:
            QtCore.QTimer.singleShot(0, self._keep_plots_readable)  # once the splitter has shared out its new width
        return super().eventFilter(watched, event)

    def _keep_plots_readable(self) -> None:
        if self.closed:
            return
        plots, side = self.splitter.sizes()
        narrower = self._side_width(plots + side, side)
        if narrower < side:
            self.splitter.setSizes([plots + side - narrower, narrower])

    def _build_toolbar(self, demo_clip: Path) -> None:
        bar = self.addToolBar("Audio")
        bar.setMovable(False)
        bar.setStyleSheet(TOOL_BUTTON_STYLE)  # framed: flat text-only buttons read as labels
        self.devices = DevicePicker(demo_clip, self.settings)
        bar.addWidget(self.devices)
        bar.addSeparator()
        self.bypass_action = QtGui.QAction("Bypass (0)", self)
        self.bypass_action.setCheckable(True)
        bar.addAction(self.bypass_action)
        self.reset_action = QtGui.QAction("Reset (R)", self)
        bar.addAction(self.reset_action)
        self.record_action = QtGui.QAction("Record", self)
        self.record_action.setCheckable(True)
        bar.addAction(self.record_action)
        self.record_folder_action = QtGui.QAction("to …", self)  # its text: the controller, from the settings
        bar.addAction(self.record_folder_action)
        self.virtual_mic_action = QtGui.QAction("Virtual mic", self)
        self.virtual_mic_action.setCheckable(True)
        self.virtual_mic_action.setToolTip("Publish the denoised sound as the microphone \"SPANDEX denoised "
                                           "microphone\" that Zoom, Jitsi, OBS or a browser can pick")
        bar.addAction(self.virtual_mic_action)
        self.audio_bar = bar
        bar = self.network_bar = self.addToolBar("Network")  # its own row where one row is too narrow for both
        bar.setMovable(False)
        bar.setStyleSheet(TOOL_BUTTON_STYLE)
        backend_label = QtWidgets.QLabel("Backend ")
        self.backend_combo = QtWidgets.QComboBox()
        for widget in (backend_label, self.backend_combo):
            widget.setToolTip("The backend of the models opened from now on (those loaded keep theirs): dense and "
                              "sparse give the same sound, Lava runs Loihi 2's simulation")
        bar.addWidget(backend_label)
        self.backend_combo.addItems(BACKEND_NAMES)  # the current one: the controller's choice
        bar.addWidget(self.backend_combo)
        self.demo_action = QtGui.QAction("Demo mode (D)", self)
        bar.addAction(self.demo_action)

    def _build_status(self) -> None:
        self.state_label = ElidedLabel(STARTING)  # the rest of a long line: in its tooltip
        self.latency_label = QtWidgets.QLabel()
        self.xrun_label = QtWidgets.QLabel()
        self.fps_label = QtWidgets.QLabel()
        status = self.statusBar()
        status.addWidget(self.state_label, 1)
        for label in (self.latency_label, self.xrun_label, self.fps_label):
            status.addPermanentWidget(label)

    def _build_shortcuts(self) -> None:
        """The keys of docs/using.md, each to its action (the controller's commands, a few view toggles)."""
        control = self.controller
        keys: dict[str, Callable[[], object]] = {
            "A": lambda: control.ab_key("a"), "B": lambda: control.ab_key("b"), "X": lambda: control.ab_key("x"),
            "Space": control.swap_ab, "0": self.bypass_action.trigger, "R": control.reset,
            "D": lambda: control.set_demo_mode(not self.in_demo_mode),
            "Escape": lambda: control.set_demo_mode(False),
            "F11": self._toggle_fullscreen, "N": self.noise_panel.next_kind,
            "Up": lambda: self.noise_panel.step_snr(1), "Down": lambda: self.noise_panel.step_snr(-1),
            "Ctrl+O": control.open_model_dialog,
        }
        for digit in range(1, 10):
            keys[str(digit)] = functools.partial(control.digit_key, digit - 1)
        self.shortcuts = []
        for key, action in keys.items():
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            shortcut.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(action)
            self.shortcuts.append(shortcut)

    # --- views the controller drives ------------------------------------------------------------

    def set_blind(self, blind: bool) -> None:
        """Hide (or show again) every view that tells which model is playing."""
        self.blind = blind
        self.models_panel.set_hidden(blind)
        for view in self.model_views + (self.spectrogram_out, self.model_legend):
            view.setVisible(not blind)
        self.bypass_action.setEnabled(not blind)

    @property
    def in_demo_mode(self) -> bool:
        return self.pages.currentWidget() is self.demo_view

    def show_demo_page(self, on: bool) -> None:
        """The demo page full screen, no toolbar and no status bar (or the normal page back)."""
        self.pages.setCurrentWidget(self.demo_view if on else self.normal_page)
        self.statusBar().setVisible(not on)
        for bar in self.findChildren(QtWidgets.QToolBar):
            bar.setVisible(not on)
        if on:
            self.showFullScreen()
        else:
            self.showNormal()

    def _toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def show_notice(self, text: str | None) -> None:
        """The red notice above the plots; hidden when ``text`` is empty."""
        self.notice.setText(text or "")
        self.notice.setVisible(bool(text))

    def show_banner(self, text: str) -> None:
        """The yellow banner above the plots (rich text); hidden when ``text`` is empty."""
        if text:
            self.banner.setText(text)
        self.banner.setVisible(bool(text))

    # --- the timers --------------------------------------------------------------------------------

    def tick(self) -> None:
        """The plot timer (:data:`FPS`): drain events and telemetry, redraw every visible plot."""
        start = time.perf_counter()
        for event in self.host.events_now():
            self.controller.on_event(event)
        records = self.host.read_frames()
        self.frames_received += records.size
        self.history.extend(records)
        callbacks = self.host.read_callbacks()
        self.callback_us.extend((callbacks["duration_ns"] / 1e3).tolist())
        self.ticks += 1
        self.tick_times.append(start)
        handle = self.windowHandle()
        if self.isMinimized() or handle is None or not handle.isExposed():
            return  # nothing to see: no plot work; the images catch up (the hops they missed) when it is back
        elapsed = 1.0 / FPS
        models = self.controller.models
        self.meter_in.show_peak(self.history.in_peak if records.size else 0.0, elapsed)
        self.meter_out.show_peak(self.history.out_peak if records.size else 0.0, elapsed)
        self.summaries = self.models_panel.refresh(self.history)
        if self.in_demo_mode:
            self.demo_view.refresh(self.history, models, self.summaries, self.models_panel.a,
                                   self.noise_panel.describe(), self.blind)
        else:
            self.spectrogram_in.refresh(self.history)
            if not self.blind:
                self.spectrogram_out.refresh(self.history)
                for view in self.model_views:
                    view.refresh(self.history, models)
                self.model_legend.show_models(models, self.history.playing)  # (when they changed)
        self.render_ms.append((time.perf_counter() - start) * 1e3)

    def refresh_text(self) -> None:
        """The text timer (:data:`TEXT_HZ`): counters, latency, frame rate and the Lava pace notice."""
        self.counters = self.host.counters()
        if self.in_demo_mode:
            return
        stream, status = self.controller.stream_info, self.controller.status_info
        running = stream is not None and stream.state == "running"
        self.xrun_label.setText(xrun_line(self.counters, self.callback_us, running))
        self.xrun_label.setToolTip(xrun_details(self.counters))
        self.fps_label.setText(fps_line(self.fps))
        if status is not None:  # (in a blind test a Lava model's longer latency would tell which model X is)
            self.latency_label.setText(BLIND_LATENCY if self.blind else latency_line(status))
        pace = "" if self.blind else pace_notice(self.controller.models, self.history)  # names would tell in ABX
        self.pace_label.setText(pace)
        self.pace_label.setVisible(bool(pace))

    @property
    def fps(self) -> float:
        if len(self.tick_times) < 2:
            return 0.0
        return (len(self.tick_times) - 1) / (self.tick_times[-1] - self.tick_times[0])

    # --- teardown --------------------------------------------------------------------------------

    def shutdown(self, before_waiting: Callable[[], None] = lambda: None) -> None:
        """Finish a recording (its files written), remember the window, stop the timers, ask a training run to
        stop, run ``before_waiting`` (the app closes the engine there: the device is not held while a run
        checkpoints), wait for the run, close every pyqtgraph view (they crash at exit if left to the GC)."""
        if self.closed:
            return
        self.closed = True
        self.timer.stop()
        self.text_timer.stop()
        self.controller.finish_recording()
        if not (self.isFullScreen() or self.in_demo_mode):  # (the demo page's full screen is not the window's size)
            self.settings.setValue("geometry", self.saveGeometry())
        if self.split_done:
            self.settings.setValue("side_width", self.splitter.sizes()[1])
        self.prune_panel.stop_run()
        before_waiting()
        self.prune_panel.shutdown()
        self.loihi_panel.shutdown()
        for view in (self.spectrogram_in, self.spectrogram_out, self.demo_view.input_view,
                     self.demo_view.output_view) + self.model_views:
            view.close()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
