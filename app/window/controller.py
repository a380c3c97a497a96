"""What the main window's controls do: user actions become engine commands, engine events reach the views.

:class:`WindowController` is the one place where the window talks to the engine's command side: it connects
the panels' and the toolbar's signals to :class:`engine.live.host.EngineHost` commands (select, A/B, bypass,
reset, models, devices, record, virtual microphone, backend, ABX, demo mode), remembers those choices in the
settings, and routes every engine event (:meth:`WindowController.on_event`, one ``match`` on the typed events
of :mod:`engine.live.protocol`) to the views. It builds no widget (:mod:`app.window.main_window` lays them
out) and words no status line itself (:mod:`app.window.status_text` does).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtWidgets

from app.panels.devices import FILE_PREFIX
from app.remembered import remembered
from app.window import status_text
from engine.constants import BYPASS
from engine.errors import SpandexError
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES
from engine.live import protocol
from engine.live.host import EngineHost
from engine.snn.model import sharpening_problem

if TYPE_CHECKING:
    from PySide6 import QtCore

    from app.window.main_window import MainWindow

RECORD_FOLDER = Path.home() / "spandex-recordings"
"""Where recordings go unless the user chose another folder (remembered as ``record_folder``)."""
RECORD_FINISH_S = 30.0
"""At shutdown, how long the engine may take to write a recording in progress."""
RECORD_MAX_S = 600.0
"""The longest recording the engine keeps (it stops by itself then)."""


def _same_file(path: str) -> Path:
    """A model's file in a form that compares equal however it was named."""
    return Path(path).expanduser().resolve()


OWN_SHARPENING = "own"
"""A remembered model's entry where its sharpening is its own."""


def _sharpening_entries(models: list[protocol.ModelInfo]) -> list[str]:
    """What the settings keep of the mask sharpenings, one entry per loaded model in slot order: ``"<strength> <model
    file>"`` where it was set by hand, ``"own <model file>"`` where it is its own (so that a file loaded twice, at two
    strengths, gets each back in its order)."""
    return [f"{m['sharpening']!r} {m['source']}" if m["sharpening"] != m["own_sharpening"]
            else f"{OWN_SHARPENING} {m['source']}" for m in models if m.get("source")]


def _remembered_sharpening(settings: QtCore.QSettings) -> dict[str, list[float | None]]:
    """The entries :func:`_sharpening_entries` saved: by model file, each loaded copy's strength in slot order (None:
    its own). Entries that are not one (a settings file edited by hand) are its own, as the other remembered
    settings' bad values are left out."""
    entries = remembered(settings, "sharpening", list, [])
    found: dict[str, list[float | None]] = {}
    for entry in entries:
        strength, _, source = str(entry).partition(" ")
        if not source:
            continue
        try:
            number: float | None = float(strength)
        except ValueError:
            number = None
        found.setdefault(source, []).append(number if sharpening_problem(number) is None else None)
    return found


DEVICES, SOURCE, RECORDING, ABX, ERROR = "devices", "source", "recording", "abx", "error"
NOTICE_TOPICS = (DEVICES, SOURCE, RECORDING, ABX, ERROR)
"""What the red notice's parts are about, in the order it shows them: a device missing or lost; the file playing as
the microphone (it does not play, or is silent); where a recording went; why an ABX test did not start; any other
error (a model that did not load, a command that failed, the engine stopped)."""


def _device_missing(event: protocol.StreamChanged) -> bool:
    """Whether the stream says a device is missing: the microphone (or both), or an output wanted (chosen, or the
    default one) while the microphone runs without it."""
    return event.state == "no-device" or (event.state == "running" and not event.output and bool(event.message))


def _source_spec(info: protocol.StreamChanged | None) -> str | None:
    """The device picker's entry for the stream's source: its file, else its input device."""
    if info is None:
        return None
    return FILE_PREFIX + info.file if info.file else info.input


class WindowController:
    """Turns the window's user actions into engine commands and the engine's events into view updates.

    What the engine last said is kept here for the window's timers (and tests) to read: :attr:`models`,
    :attr:`loading`, :attr:`stream_info`, :attr:`status_info`, :attr:`recorded`.
    """

    def __init__(self, window: MainWindow, host: EngineHost, settings: QtCore.QSettings,
                 backend: str | None = None) -> None:
        self._window = window
        self._host = host
        self._settings = settings
        self.backend = backend or host.config.backend  # for the models opened from now on
        self.models: list[protocol.ModelInfo] = []
        self.loading = len(host.config.models)
        self.stream_info: protocol.StreamChanged | None = None
        self.status_info: protocol.Status | None = None
        self.recorded: protocol.Recorded | None = None
        self.pending_ab: tuple[str, str] | None = None  # (parent, trained) files to make A and B once loaded
        self._last_model = 0
        self._demo_noise = ("", 5.0)  # the noise when demo mode began: what Reset brings back there
        self._load_error = ""  # why the last model did not load (shown while none is loaded)
        # the red notice, by what each part is about (NOTICE_TOPICS): each kept until what it says changes (a device
        # back, another source playing, a recording saved, an ABX test started), another of its kind comes, or the user
        # clicks the notice away (a model that failed to load was said for a twentieth of a second: the stream's next
        # "running" cleared everything)
        self._notices: dict[str, str] = {}
        self._starting = True  # until the engine's first event: the banner says it is starting
        # the sharpenings set by hand when the app was last closed: set again once the models have loaded
        self._sharpening_to_restore: dict[str, list[float | None]] | None = _remembered_sharpening(settings)
        window.show_banner(status_text.starting_text(self.loading))
        self._connect()

    def _connect(self) -> None:
        """Connect every control of the window to its command; show the starting choices."""
        w = self._window
        w.models_panel.select_requested.connect(self.select)
        w.notice.dismissed.connect(self.dismiss_notice)
        w.models_panel.open_requested.connect(self.open_model_dialog)
        w.models_panel.remove_requested.connect(lambda slot: self._host.remove_model(slot))
        w.models_panel.sharpening_requested.connect(lambda slot, strength: self._host.set_sharpening(slot, strength))
        w.abx_panel.start_button.toggled.connect(self._abx_toggled)
        w.abx_panel.play_requested.connect(lambda slot: self._host.select(slot))
        w.noise_panel.noise_changed.connect(lambda kind, snr: self._host.set_noise(kind or None, snr))
        w.noise_panel.demo_requested.connect(lambda: self.set_demo_mode(True))
        w.prune_panel.model_installed.connect(self.add_trained_model)
        w.devices.input_chosen.connect(self._input_chosen)
        w.devices.output_chosen.connect(lambda key: self._host.set_output(key))
        w.devices.refresh_requested.connect(lambda: self._host.list_devices(rescan=True))
        w.bypass_action.toggled.connect(self._bypass_toggled)
        w.reset_action.triggered.connect(self.reset)
        w.record_action.toggled.connect(self._record_toggled)
        w.record_folder_action.triggered.connect(self.choose_record_folder)
        self._show_record_folder()
        w.virtual_mic_action.toggled.connect(self._virtual_mic_toggled)
        w.virtual_mic_action.setChecked(bool(self._host.config.virtual_mic))  # as the engine starts
        w.backend_combo.setCurrentText(self.backend)
        w.backend_combo.currentTextChanged.connect(self._backend_chosen)
        w.demo_action.triggered.connect(lambda: self.set_demo_mode(True))

    # --- playing ---------------------------------------------------------------------------------

    def select(self, slot: int) -> None:
        """Hear model ``slot`` (or :data:`BYPASS`)."""
        if slot != BYPASS and not 0 <= slot < len(self.models):
            return
        if slot != BYPASS:
            self._last_model = slot
        bypass = self._window.bypass_action
        bypass.blockSignals(True)
        bypass.setChecked(slot == BYPASS)
        bypass.blockSignals(False)
        self._host.select(slot)

    def ab_key(self, which: str) -> None:
        """The A, B or X key: that sample in a blind test, else model A or B (X only counts in a test)."""
        abx, models = self._window.abx_panel, self._window.models_panel
        if abx.session is not None:
            abx.play(which)
        elif which in "ab":
            self.select(models.a if which == "a" else models.b)

    def digit_key(self, slot: int) -> None:
        """A digit key: hear that slot, except in a blind test (slots would give the answer away)."""
        if self._window.abx_panel.session is None:
            self.select(slot)

    def swap_ab(self) -> None:
        """Space: hear B if A plays, else A (not in a blind test)."""
        if self._window.abx_panel.session is not None:
            return
        a, b = self._window.models_panel.a, self._window.models_panel.b
        self.select(b if self._window.history.playing == a else a)

    def _bypass_toggled(self, on: bool) -> None:
        back = self._last_model if self._last_model < len(self.models) else 0  # (it may have been removed)
        self._host.select(BYPASS if on or not self.models else back)

    def reset(self) -> None:
        """One key: every network's state, the counters, model A playing, the demo's starting noise."""
        self._host.reset()
        self._window.callback_us.clear()
        if self.models and self._window.abx_panel.session is None:  # (in a blind test X plays on)
            self.select(self._window.models_panel.a)
        if self._window.in_demo_mode:
            noise = self._window.noise_panel
            kind, snr = self._demo_noise
            index = noise.kind.findData(kind)
            noise.kind.setCurrentIndex(max(index, 0))
            noise.snr.setValue(int(snr))

    # --- models ----------------------------------------------------------------------------------

    def open_model_dialog(self) -> None:
        """Ask for a model file and load it."""
        patterns = " ".join(f"*{s}" for s in NETX_SUFFIXES + TORCH_SUFFIXES)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self._window, "Open a model", "",
                                                        f"SDNN models ({patterns})")
        if path:
            self.load_model(path)

    def load_model(self, path: str) -> None:
        """Load the model at ``path`` on the chosen backend (it joins the others when loaded)."""
        self.loading += 1
        self._host.load_model(path, self.backend)

    def add_trained_model(self, path: str, parent: str) -> None:
        """Load a model a run has just made beside its parent (loaded too if it is not), then make them B and A."""
        loaded = {_same_file(m.get("source") or "") for m in self.models}
        if parent and _same_file(parent) not in loaded:
            self.load_model(parent)
        self.load_model(path)
        self.pending_ab = (parent, path)

    def _remember_models(self) -> None:
        """Save the models loaded, what the next start loads, and their sharpenings; the first time the models have all
        loaded, set again the sharpenings set by hand when the app was last closed (each a
        :class:`protocol.SetSharpening`, whose ModelsChanged saves). Not while a restarted engine's models are coming
        back and getting their settings back (the host sets them): they are not the user's yet."""
        if self._host.restore is not None:
            return
        self._settings.setValue("models", [m["source"] for m in self.models if m.get("source")])
        restore, self._sharpening_to_restore = self._sharpening_to_restore, None
        if restore is None:
            self._settings.setValue("sharpening", _sharpening_entries(self.models))
            return
        for model in self.models:
            remembered = restore.get(model.get("source") or "")
            strength = remembered.pop(0) if remembered else None  # the file's copies, in their order
            if strength is not None and model["sharpening"] == model["own_sharpening"] != strength:
                self._host.set_sharpening(model["slot"], strength)

    def _show_models(self, models: list[protocol.ModelInfo], playing: int) -> None:
        """The models loaded (or coming back after a restart), in their slots: the panels that list them."""
        w = self._window
        self.models = models
        w.models_panel.set_models(models)
        w.prune_panel.offer_models([m.get("source") or "" for m in models])
        w.loihi_panel.set_models(models, BYPASS if w.blind else playing)  # (its name would tell X)

    def _apply_pending_ab(self) -> None:
        if self.pending_ab is None:
            return
        slots = {_same_file(m.get("source") or ""): index for index, m in enumerate(self.models)}
        parent, trained = (_same_file(p) for p in self.pending_ab)
        if trained in slots:
            models = self._window.models_panel
            models.set_ab(slots.get(parent, models.a), slots[trained])
            self.pending_ab = None

    def _backend_chosen(self, name: str) -> None:
        self.backend = name
        self._settings.setValue("backend", name)

    # --- devices, recording, virtual microphone --------------------------------------------------

    def _input_chosen(self, spec: str) -> None:
        if spec.startswith(FILE_PREFIX):
            self._host.set_file(spec[len(FILE_PREFIX):])
        else:
            self._host.set_input(spec)

    @property
    def record_folder(self) -> Path:
        """Where recordings go: the folder the user chose, else :data:`RECORD_FOLDER`."""
        return Path(remembered(self._settings, "record_folder", str, None) or RECORD_FOLDER)

    def choose_record_folder(self) -> None:
        """Ask for the folder recordings go to, and remember it."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(self._window, "Record into", str(self.record_folder))
        if folder:
            self._settings.setValue("record_folder", folder)
            self._show_record_folder()

    def _show_record_folder(self) -> None:
        w, folder = self._window, self.record_folder
        w.record_folder_action.setText(status_text.folder_label(folder))
        w.record_folder_action.setToolTip(f"Recordings go to {folder} (click to choose a folder)")
        w.record_action.setToolTip(f"Record the input and the output as WAV files in {folder}")

    def _record_toggled(self, on: bool) -> None:
        if on:
            self._host.record_start(RECORD_MAX_S)
            return
        self._host.record_stop(str(self._record_prefix()))

    def _record_prefix(self) -> Path:
        """Where the recording's two files go (the engine makes the folder, or says why it cannot)."""
        return self.record_folder / time.strftime("%Y%m%d-%H%M%S")

    def finish_recording(self) -> None:
        """At shutdown: stop a recording in progress and wait (up to :data:`RECORD_FINISH_S`) for its files."""
        if self._window.record_action.isChecked() and self._host.alive:
            self._host.record_stop(str(self._record_prefix()))
            try:
                self.recorded = self._host.wait_event(protocol.Recorded, RECORD_FINISH_S,
                                                      failed=protocol.RECORD_FAILED)
            except (TimeoutError, SpandexError) as exc:
                print(f"spandex: the recording could not be finished: {exc}", file=sys.stderr)
                return
            if self.recorded.note:
                print(f"spandex: {self.recorded.note}", file=sys.stderr)

    def _virtual_mic_toggled(self, on: bool) -> None:
        self._settings.setValue("virtual_mic", on)
        self._host.set_virtual_mic(on)

    # --- ABX and demo mode -----------------------------------------------------------------------

    def _abx_toggled(self, on: bool) -> None:
        abx, models = self._window.abx_panel, self._window.models_panel
        if on and abx.session is None:
            problem = abx.start(models.a, models.b)
            self._say(ABX, status_text.abx_notice(problem) if problem else "")
        elif not on:
            abx.stop()
            self.select(self._last_model if self.models else BYPASS)

    def set_demo_mode(self, on: bool) -> None:
        """Enter (full screen, the noise of now kept for Reset) or leave the conference demo mode."""
        if on == self._window.in_demo_mode:
            return
        if on:
            self._demo_noise = self._window.noise_panel.current
        self._window.show_demo_page(on)

    # --- engine events ---------------------------------------------------------------------------

    def on_event(self, event: protocol.Event) -> None:
        """React to one event from the engine (see :mod:`engine.live.protocol`)."""
        w = self._window
        if self._starting:  # the engine runs: what the banner says from now on is about the models
            self._starting = False
            w.show_banner("")
        match event:
            case protocol.ModelsChanged():
                self._show_models(list(event.models), event.playing)
                self.loading = event.loading
                self._apply_pending_ab()
                if not event.loading:
                    self._remember_models()
                self._show_banner()
            case protocol.StreamChanged():
                if self.stream_info is not None and _source_spec(event) != _source_spec(self.stream_info):
                    self._say(SOURCE, "")  # another source: what was said of the file is not about what plays now
                    # (the first stream comes after what was said of a file asked for at the start: kept)
                self.stream_info = event
                w.state_label.setText(status_text.stream_line(event))
                w.devices.show_current(_source_spec(event), event.output, event.missing_output)
                self._say(DEVICES, event.message if _device_missing(event) else "")
            case protocol.Status():
                self.status_info = event
            case protocol.DevicesListed():
                info = self.stream_info
                w.devices.set_devices(list(event.devices), _source_spec(info), info.output if info else None,
                                      info.missing_output if info else None)
            case protocol.DeviceLost():
                self._say(DEVICES, status_text.device_lost_notice(event.devices))
            case protocol.EngineRestarted():
                w.state_label.setText(status_text.RESTARTING)
                self._show_models(list(event.models), event.playing)  # (what a row's slot means until they are back)
            case protocol.EngineError() if event.message.startswith(protocol.LOAD_FAILED):
                self.loading = max(0, self.loading - 1)
                self._load_error = event.message
                if not self._show_banner():  # with no model loaded the banner says why: said once
                    self._say(ERROR, event.message)
            case protocol.EngineError() if event.message.startswith((protocol.FILE_FAILED, protocol.FILE_SILENT)):
                self._say(SOURCE, event.message)
            case protocol.EngineError() | protocol.Fatal():
                self._say(ERROR, event.message)
            case protocol.RecordingStarted():
                w.state_label.setText(status_text.recording_line(event.max_seconds, self.record_folder))
            case protocol.Recorded():
                self.recorded = event
                w.state_label.setText(status_text.recorded_line(event.seconds, event.paths))
                self._say(RECORDING, event.note)  # (a note: not in the folder asked for)
            case protocol.VirtualMicChanged():
                w.virtual_mic_action.blockSignals(True)
                w.virtual_mic_action.setChecked(event.on)
                w.virtual_mic_action.blockSignals(False)
                if event.on:
                    w.state_label.setText(status_text.virtual_mic_line(event.name))
            case protocol.Stopped():
                pass

    def _say(self, topic: str, text: str) -> None:
        """What the red notice says about ``topic`` (one of :data:`NOTICE_TOPICS`; "": nothing now)."""
        self._notices[topic] = text
        self._window.show_notice("\n".join(self._notices[t] for t in NOTICE_TOPICS if self._notices.get(t)))

    def dismiss_notice(self) -> None:
        """The user clicked the notice: it goes (a device still missing is said again when the stream changes)."""
        self._notices.clear()
        self._window.show_notice("")

    def _show_banner(self) -> bool:
        """The no-model banner, with the reason the last model did not load (if one did not); whether it shows."""
        loaded_or_coming = bool(self.models or self.loading)
        self._window.show_banner("" if loaded_or_coming else status_text.no_model_text(self._load_error))
        return not loaded_or_coming
