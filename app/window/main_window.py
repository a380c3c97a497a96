"""The SPANDEX main window: plots on the left, A/B, ABX, noise and the coming tools on the right.

Data flow (Friture-style): a QTimer (:data:`FPS` per second) drains the engine's telemetry ring into
:class:`app.plots.frame_history.FrameHistory`, and every visible plot redraws from it; a second, slower
timer (:data:`TEXT_HZ`) sets the status text (:mod:`app.window.status_text`). Commands go to the
engine through :class:`engine.live.host.EngineHost` — the window never calls model or audio code itself.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from app.panels.abx_panel import AbxPanel
from app.panels.demo_view import DemoView
from app.panels.devices import FILE_PREFIX, DevicePicker
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
from app.window.elided_label import ElidedLabel
from app.window.status_text import latency_line, pace_notice, stream_line, xrun_line
from engine.backends import BACKEND_NAMES
from engine.constants import BYPASS
from engine.errors import SpandexError
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES
from engine.library.catalog import user_data_dir
from engine.live import protocol
from engine.live.host import EngineHost

FPS = 30
"""Plot redraws per second."""
TEXT_HZ = 4
"""Status text updates per second."""
NO_MODEL_TEXT = ("<b>No model loaded.</b> Open a model file (Open model… in the A/B tab, or Ctrl+O) or start "
                 "with <code>spandex --model NAME|PATH</code>. Until then you hear the input unprocessed.")
RECORD_FOLDER = Path.home() / "spandex-recordings"
"""Where recordings go unless the user chose another folder (remembered as ``record_folder``)."""
RECORD_FINISH_S = 30.0
"""At shutdown, how long the engine may take to write a recording in progress."""
SIDE_SHARE = 0.36
"""The side panel's share of the window's width at the first start (at least what its widest tab needs);
then the width the user left it at, remembered as ``side_width``. A wider window widens the plots three
times as fast as the side panel."""
FOLDER_CHARS = 32
"""The record folder as the toolbar shows it: at most this many characters (the whole path in its tooltip)."""


def _same_file(path: str) -> Path:
    """A model's file in a form that compares equal however it was named."""
    return Path(path).expanduser().resolve()


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, host: EngineHost, demo_clip: Path, settings: QtCore.QSettings,
                 backend: str | None = None) -> None:
        super().__init__()
        self.host = host
        self.settings = settings
        self.backend = backend or host.config.backend  # for the models opened from now on
        self.models: list[protocol.ModelInfo] = []
        self.loading = len(host.config.models)
        self.history = FrameHistory()
        self.summaries: list[dict] = []
        self.callback_us: deque[float] = deque(maxlen=4096)
        self.counters = host.counters()
        self.stream_info: protocol.StreamChanged | None = None
        self.status_info: protocol.Status | None = None
        self.last_model = 0
        self.pending_ab: tuple[str, str] | None = None  # (parent, trained) files to make A and B once loaded
        self.blind = False
        self.demo_noise = ("", 5.0)
        self.ticks = 0
        self.tick_times: deque[float] = deque(maxlen=FPS * 2)
        self.render_ms: deque[float] = deque(maxlen=FPS * 2)
        self.frames_received = 0
        self.closed = False
        self.load_error = ""  # why the last model did not load (shown while none is loaded)
        self.recorded: protocol.Recorded | None = None
        self.setWindowTitle("SPANDEX — spiking denoiser, live")
        self.resize(1280, 800)
        geometry = settings.value("geometry")
        if isinstance(geometry, QtCore.QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)

        self._build_plots()
        self._build_side(demo_clip)
        self._build_toolbar(demo_clip)
        self._build_status()
        self._build_shortcuts()
        self.split_done = False  # the split is set at the first show, when the window has its size
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
        self.spectrogram_in = SpectrogramView("in_db", "Input (microphone + injected noise)")
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
        self.models_panel.select_requested.connect(self.select)
        self.models_panel.open_requested.connect(self.open_model_dialog)
        self.models_panel.remove_requested.connect(lambda slot: self.host.remove_model(slot))
        self.abx_panel = AbxPanel()
        self.abx_panel.start_button.toggled.connect(self._abx_toggled)
        self.abx_panel.play_requested.connect(lambda slot: self.host.select(slot))
        self.abx_panel.blind_changed.connect(self.set_blind)
        self.noise_panel = NoisePanel()
        self.noise_panel.noise_changed.connect(
            lambda kind, snr: self.host.set_noise(kind or None, snr))
        self.noise_panel.demo_requested.connect(lambda: self.set_demo_mode(True))
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.models_panel, "A/B")
        self.tabs.addTab(self.abx_panel, "ABX")
        self.tabs.addTab(self.noise_panel, "Noise")
        self.prune_panel = PrunePanel(user_data_dir() / "runs", self.settings)
        self.prune_panel.model_installed.connect(self.add_trained_model)
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
        self.notice = QtWidgets.QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background: #6b1d1d; color: white; padding: 6px;")
        self.notice.hide()
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

    def _split(self) -> None:
        """The split between plots and side panel: the side panel as wide as the user left it, else
        :data:`SIDE_SHARE` of the window; never narrower than its widest tab needs."""
        width = sum(self.splitter.sizes())
        try:
            side = int(self.settings.value("side_width") or 0)
        except (TypeError, ValueError):
            side = 0
        side = max(self.tabs.minimumSizeHint().width(), side or round(width * SIDE_SHARE))
        self.splitter.setSizes([width - side, side])

    def _build_toolbar(self, demo_clip: Path) -> None:
        bar = self.addToolBar("Audio")
        bar.setMovable(False)
        self.devices = DevicePicker(demo_clip, self.settings)
        self.devices.input_chosen.connect(self._input_chosen)
        self.devices.output_chosen.connect(lambda key: self.host.set_output(key))
        self.devices.refresh_requested.connect(lambda: self.host.list_devices(rescan=True))
        bar.addWidget(self.devices)
        bar.addSeparator()
        self.bypass_action = QtGui.QAction("Bypass (0)", self)
        self.bypass_action.setCheckable(True)
        self.bypass_action.toggled.connect(self._bypass_toggled)
        bar.addAction(self.bypass_action)
        reset = QtGui.QAction("Reset (R)", self)
        reset.triggered.connect(self.reset)
        bar.addAction(reset)
        self.record_action = QtGui.QAction("Record", self)
        self.record_action.setCheckable(True)
        self.record_action.toggled.connect(self._record_toggled)
        bar.addAction(self.record_action)
        self.record_folder_action = QtGui.QAction("to …", self)
        self.record_folder_action.triggered.connect(self.choose_record_folder)
        bar.addAction(self.record_folder_action)
        self._show_record_folder()
        self.virtual_mic_action = QtGui.QAction("Virtual mic", self)
        self.virtual_mic_action.setCheckable(True)
        self.virtual_mic_action.setToolTip("Publish the denoised sound as the microphone \"SPANDEX denoised "
                                           "microphone\" that Zoom, Jitsi, OBS or a browser can pick")
        self.virtual_mic_action.toggled.connect(self._virtual_mic_toggled)
        bar.addAction(self.virtual_mic_action)
        bar.addSeparator()
        backend_label = QtWidgets.QLabel("Backend ")
        self.backend_combo = QtWidgets.QComboBox()
        for widget in (backend_label, self.backend_combo):
            widget.setToolTip("The backend of the models opened from now on (those loaded keep theirs): dense and "
                              "sparse give the same sound, Lava runs Loihi 2's simulation")
        bar.addWidget(backend_label)
        self.backend_combo.addItems(BACKEND_NAMES)
        self.backend_combo.setCurrentText(self.backend)
        self.virtual_mic_action.setChecked(bool(self.host.config.virtual_mic))  # as the engine starts
        self.backend_combo.currentTextChanged.connect(self._backend_chosen)
        bar.addWidget(self.backend_combo)
        demo = QtGui.QAction("Demo mode (D)", self)
        demo.triggered.connect(lambda: self.set_demo_mode(True))
        bar.addAction(demo)

    def _build_status(self) -> None:
        self.state_label = ElidedLabel("starting the audio engine…")  # the rest of a long line: in its tooltip
        self.latency_label = QtWidgets.QLabel()
        self.xrun_label = QtWidgets.QLabel()
        self.fps_label = QtWidgets.QLabel()
        status = self.statusBar()
        status.addWidget(self.state_label, 1)
        for label in (self.latency_label, self.xrun_label, self.fps_label):
            status.addPermanentWidget(label)

    def _build_shortcuts(self) -> None:
        keys: dict[str, Callable[[], object]] = {
            "A": lambda: self._ab_key("a"), "B": lambda: self._ab_key("b"), "X": lambda: self._ab_key("x"),
            "Space": self.swap_ab, "0": lambda: self.bypass_action.toggle(), "R": self.reset,
            "D": lambda: self.set_demo_mode(not self.in_demo_mode), "Escape": lambda: self.set_demo_mode(False),
            "F11": self._toggle_fullscreen, "N": self.noise_panel.next_kind,
            "Up": lambda: self.noise_panel.step_snr(1), "Down": lambda: self.noise_panel.step_snr(-1),
            "Ctrl+O": self.open_model_dialog,
        }
        for digit in range(1, 10):
            keys[str(digit)] = functools.partial(self._digit_key, digit - 1)
        self.shortcuts = []
        for key, action in keys.items():
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            shortcut.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(action)
            self.shortcuts.append(shortcut)

    # --- commands --------------------------------------------------------------------------------

    def select(self, slot: int) -> None:
        """Hear model ``slot`` (or :data:`BYPASS`)."""
        if slot != BYPASS and not 0 <= slot < len(self.models):
            return
        if slot != BYPASS:
            self.last_model = slot
        self.bypass_action.blockSignals(True)
        self.bypass_action.setChecked(slot == BYPASS)
        self.bypass_action.blockSignals(False)
        self.host.select(slot)

    def _ab_key(self, which: str) -> None:
        if self.abx_panel.session is not None:
            self.abx_panel.play(which)
        elif which in "ab":
            self.select(self.models_panel.a if which == "a" else self.models_panel.b)

    def _digit_key(self, slot: int) -> None:
        if self.abx_panel.session is None:  # blind test: slots would give the answer away
            self.select(slot)

    def swap_ab(self) -> None:
        if self.abx_panel.session is not None:
            return
        a, b = self.models_panel.a, self.models_panel.b
        self.select(b if self.history.playing == a else a)

    def _bypass_toggled(self, on: bool) -> None:
        self.host.select(BYPASS if on else self.last_model if self.models else BYPASS)

    def reset(self) -> None:
        """One key: every network's state, the counters, model A playing, the demo's starting noise."""
        self.host.reset()
        self.callback_us.clear()
        if self.models:
            self.select(self.models_panel.a)
        if self.in_demo_mode:
            kind, snr = self.demo_noise
            index = self.noise_panel.kind.findData(kind)
            self.noise_panel.kind.setCurrentIndex(max(index, 0))
            self.noise_panel.snr.setValue(int(snr))

    def open_model_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in NETX_SUFFIXES + TORCH_SUFFIXES)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a model", "", f"SDNN models ({patterns})")
        if path:
            self.load_model(path)

    def load_model(self, path: str) -> None:
        self.loading += 1
        self.host.load_model(path, self.backend)

    def add_trained_model(self, path: str, parent: str) -> None:
        """Load a model a run has just made beside its parent (loaded too if it is not), then make them B and A."""
        loaded = {_same_file(m.get("source") or "") for m in self.models}
        if parent and _same_file(parent) not in loaded:
            self.load_model(parent)
        self.load_model(path)
        self.pending_ab = (parent, path)

    def _apply_pending_ab(self) -> None:
        if self.pending_ab is None:
            return
        slots = {_same_file(m.get("source") or ""): index for index, m in enumerate(self.models)}
        parent, trained = (_same_file(p) for p in self.pending_ab)
        if trained in slots:
            self.models_panel.set_ab(slots.get(parent, self.models_panel.a), slots[trained])
            self.pending_ab = None

    def _input_chosen(self, spec: str) -> None:
        if spec.startswith(FILE_PREFIX):
            self.host.set_file(spec[len(FILE_PREFIX):])
        else:
            self.host.set_input(spec)

    @property
    def record_folder(self) -> Path:
        return Path(str(self.settings.value("record_folder") or RECORD_FOLDER))

    def choose_record_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Record into", str(self.record_folder))
        if folder:
            self.settings.setValue("record_folder", folder)
            self._show_record_folder()

    def _show_record_folder(self) -> None:
        folder = str(self.record_folder).replace(str(Path.home()), "~", 1)
        if len(folder) > FOLDER_CHARS:
            folder = "…" + folder[-(FOLDER_CHARS - 1):]
        self.record_folder_action.setText(f"to {folder}")
        self.record_folder_action.setToolTip(f"Recordings go to {self.record_folder} (click to choose a folder)")
        self.record_action.setToolTip(f"Record the input and the output as WAV files in {self.record_folder}")

    def _record_toggled(self, on: bool) -> None:
        if on:
            self.host.record_start(600.0)
            return
        self.host.record_stop(str(self._record_prefix()))

    def _record_prefix(self) -> Path:
        folder = self.record_folder
        folder.mkdir(parents=True, exist_ok=True)
        return folder / time.strftime("%Y%m%d-%H%M%S")

    def _virtual_mic_toggled(self, on: bool) -> None:
        self.settings.setValue("virtual_mic", on)
        self.host.set_virtual_mic(on)

    def _backend_chosen(self, name: str) -> None:
        self.backend = name
        self.settings.setValue("backend", name)

    def _abx_toggled(self, on: bool) -> None:
        if on and self.abx_panel.session is None:
            problem = self.abx_panel.start(self.models_panel.a, self.models_panel.b)
            if problem:
                self.show_notice(f"ABX: {problem} (choose two different models as A and B)")
        elif not on:
            self.abx_panel.stop()
            self.select(self.last_model if self.models else BYPASS)

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

    def set_demo_mode(self, on: bool) -> None:
        if on == self.in_demo_mode:
            return
        self.pages.setCurrentWidget(self.demo_view if on else self.normal_page)
        self.statusBar().setVisible(not on)
        for bar in self.findChildren(QtWidgets.QToolBar):
            bar.setVisible(not on)
        if on:
            self.demo_noise = self.noise_panel.current
            self.showFullScreen()
        else:
            self.showNormal()

    def _toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def show_notice(self, text: str | None) -> None:
        self.notice.setText(text or "")
        self.notice.setVisible(bool(text))

    # --- the timers --------------------------------------------------------------------------------

    def tick(self) -> None:
        """The plot timer (:data:`FPS`): drain events and telemetry, redraw every visible plot."""
        start = time.perf_counter()
        for event in self.host.events_now():
            self.on_event(event)
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
        self.meter_in.show_peak(self.history.in_peak if records.size else 0.0, elapsed)
        self.meter_out.show_peak(self.history.out_peak if records.size else 0.0, elapsed)
        self.summaries = self.models_panel.refresh(self.history)
        if self.in_demo_mode:
            self.demo_view.refresh(self.history, self.models, self.summaries, self.models_panel.a,
                                   self.noise_panel.describe(), self.blind)
        else:
            self.spectrogram_in.refresh(self.history)
            if not self.blind:
                self.spectrogram_out.refresh(self.history)
                for view in self.model_views:
                    view.refresh(self.history, self.models)
                self.model_legend.show_models(self.models, self.history.playing)  # (when they changed)
        self.render_ms.append((time.perf_counter() - start) * 1e3)

    def refresh_text(self) -> None:
        """The text timer (:data:`TEXT_HZ`): counters, latency, frame rate and the Lava pace notice."""
        self.counters = self.host.counters()
        if self.in_demo_mode:
            return
        running = self.stream_info is not None and self.stream_info.state == "running"
        self.xrun_label.setText(xrun_line(self.counters, self.callback_us, running))
        self.fps_label.setText(f"GUI {self.fps:.0f} fps")
        if self.status_info is not None:
            self.latency_label.setText(latency_line(self.status_info))
        pace = "" if self.blind else pace_notice(self.models, self.history)  # names would tell in ABX
        self.pace_label.setText(pace)
        self.pace_label.setVisible(bool(pace))

    @property
    def fps(self) -> float:
        if len(self.tick_times) < 2:
            return 0.0
        return (len(self.tick_times) - 1) / (self.tick_times[-1] - self.tick_times[0])

    def on_event(self, event: protocol.Event) -> None:
        """React to one event from the engine (see :mod:`engine.live.protocol`)."""
        match event:
            case protocol.ModelsChanged():
                self.models = list(event.models)
                self.loading = event.loading
                self.models_panel.set_models(self.models)
                self._apply_pending_ab()
                self.prune_panel.offer_models([m.get("source") or "" for m in self.models])
                self.loihi_panel.set_models(self.models, event.playing)
                if not event.loading:  # what the next start loads
                    self.settings.setValue("models", [m["source"] for m in self.models if m.get("source")])
                self._show_banner()
            case protocol.StreamChanged():
                self.stream_info = event
                self.state_label.setText(stream_line(event))
                self.devices.show_current(self._source_spec(event), event.output)
                if event.state == "running":
                    self.show_notice(None)
                elif event.state == "no-device":
                    self.show_notice(event.message)
            case protocol.Status():
                self.status_info = event
            case protocol.DevicesListed():
                info = self.stream_info
                self.devices.set_devices(list(event.devices), self._source_spec(info),
                                         info.output if info else None)
            case protocol.DeviceLost():
                self.show_notice(f"Audio device lost ({event.devices}). SPANDEX keeps running and will "
                                 "resume when the device is back — or pick another one.")
            case protocol.EngineRestarted():
                self.state_label.setText("restarting the audio engine after the sound server went away…")
            case protocol.EngineError() | protocol.Fatal():
                if isinstance(event, protocol.EngineError) and event.message.startswith(protocol.LOAD_FAILED):
                    self.loading = max(0, self.loading - 1)
                    self.load_error = event.message
                self.show_notice(event.message)
                self._show_banner()
            case protocol.RecordingStarted():
                self.state_label.setText(f"recording (at most {event.max_seconds / 60:.0f} min) — files will go "
                                         f"to {self.record_folder}")
            case protocol.Recorded():
                self.recorded = event
                self.state_label.setText(f"recorded {event.seconds:.1f} s: {', '.join(event.paths)}")
            case protocol.VirtualMicChanged():
                self.virtual_mic_action.blockSignals(True)
                self.virtual_mic_action.setChecked(event.on)
                self.virtual_mic_action.blockSignals(False)
                if event.on:
                    self.state_label.setText(f"virtual microphone on: pick \"{event.name}\" as the microphone in "
                                             "your call or streaming app")
            case protocol.Stopped():
                pass

    def _show_banner(self) -> None:
        """The no-model banner, with the reason the last model did not load (if one did not)."""
        if self.models or self.loading:
            self.banner.hide()
            return
        why = f"<br>{self.load_error}" if self.load_error else ""
        self.banner.setText(NO_MODEL_TEXT + why)
        self.banner.show()

    @staticmethod
    def _source_spec(info: protocol.StreamChanged | None) -> str | None:
        """The device picker's entry for the stream's source: its file, else its input device."""
        if info is None:
            return None
        return FILE_PREFIX + info.file if info.file else info.input

    # --- teardown --------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Finish a recording (its files written), remember the window, stop the timers, close every
        pyqtgraph view (they crash at exit if left to the GC)."""
        if self.closed:
            return
        self.closed = True
        self.timer.stop()
        self.text_timer.stop()
        if self.record_action.isChecked() and self.host.alive:
            self.host.record_stop(str(self._record_prefix()))
            try:
                self.recorded = self.host.wait_event(protocol.Recorded, RECORD_FINISH_S)
            except (TimeoutError, SpandexError) as exc:
                print(f"spandex: the recording could not be finished: {exc}", file=sys.stderr)
        self.settings.setValue("geometry", self.saveGeometry())
        if self.split_done:
            self.settings.setValue("side_width", self.splitter.sizes()[1])
        self.prune_panel.shutdown()
        self.loihi_panel.shutdown()
        for view in (self.spectrogram_in, self.spectrogram_out, self.demo_view.input_view,
                     self.demo_view.output_view) + self.model_views:
            view.close()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
