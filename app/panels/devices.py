"""Source and output pickers: real devices as the engine lists them, the demo clip, any file; the last
choice is remembered (QSettings) and restored at the next start."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from engine.live.protocol import DeviceEntry

FILE_PREFIX = "file:"
MISSING_MARK = "⚠"  # an output device asked for and not found
MISSING_TIP = ("Not found: looked for every 3 s, then less often (up to every 30 s), while the microphone runs on; "
               "played on once it is plugged in. Choose another output to stop looking.")
NO_OUTPUT = "none"


class DevicePicker(QtWidgets.QWidget):
    """Emits ``input_chosen(spec)`` ("file:PATH" or a device key) and ``output_chosen(key or "none")``."""

    input_chosen = QtCore.Signal(str)
    output_chosen = QtCore.Signal(str)
    refresh_requested = QtCore.Signal()

    def __init__(self, demo_clip: Path, settings: QtCore.QSettings, parent=None) -> None:
        super().__init__(parent)
        self.demo_clip = demo_clip
        self.settings = settings
        self.shown_source: str | None = None  # the source the picker shows (what plays, or what was just chosen)
        # the output device shown as missing, if one is: its key, and how the list named it (None: not listed)
        self._missing: tuple[str, str | None] | None = None
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.source = QtWidgets.QComboBox()
        self.output = QtWidgets.QComboBox()
        self.source.setMinimumContentsLength(22)
        self.output.setMinimumContentsLength(22)
        refresh = self.refresh_button = QtWidgets.QToolButton()
        refresh.setText("⟳")
        refresh.setToolTip("Look for audio devices again (reopens the stream: a short gap in the sound)")
        refresh.clicked.connect(self.refresh_requested)
        layout.addWidget(QtWidgets.QLabel("Input"))
        layout.addWidget(self.source)
        layout.addWidget(QtWidgets.QLabel("Output"))
        layout.addWidget(self.output)
        layout.addWidget(refresh)
        self.set_devices([])
        self.source.activated.connect(self._source_activated)
        self.output.activated.connect(self._output_activated)

    def set_devices(self, devices: list[DeviceEntry], current_input: str | None = None,
                    current_output: str | None = None, missing_output: str | None = None) -> None:
        """Fill both lists; keep showing what the engine uses now (and the output it looks for)."""
        for combo in (self.source, self.output):
            combo.blockSignals(True)
            combo.clear()
        self._missing = None
        self.source.addItem(f"Demo clip ({self.demo_clip.name})", FILE_PREFIX + str(self.demo_clip))
        self.source.addItem("Open a file…", "open")
        for d in devices:
            if d["max_input_channels"] > 0:
                self.source.addItem(f"🎤 {d['key']}", d["key"])
            if d["max_output_channels"] > 0:
                self.output.addItem(f"🔊 {d['key']}", d["key"])
        self.output.addItem("None (silent)", NO_OUTPUT)
        if current_input or current_output or missing_output:
            self.show_current(current_input, current_output, missing_output)
        for combo in (self.source, self.output):
            combo.blockSignals(False)

    def show_current(self, input_spec: str | None, output: str | None, missing_output: str | None = None) -> None:
        """Show the source and the output the engine uses now (``output`` None: none, silent); an output asked for
        by name and not found (``missing_output``, which the engine looks for) is shown as such, not as
        "None (silent)", which the user did not choose."""
        self._show(self.source, input_spec)
        if self._missing is not None:  # the entry of a device missing before: found since, or another chosen
            key, listed_as = self._missing
            index = self.output.findData(key)
            if index >= 0:
                if listed_as is None:  # added for it: removed
                    self.output.removeItem(index)
                else:  # listed before it went missing: named as listed again
                    self.output.setItemText(index, listed_as)
                    self.output.setItemData(index, None, QtCore.Qt.ItemDataRole.ToolTipRole)
            self._missing = None
        if output is None and missing_output:
            text = f"{MISSING_MARK} {missing_output} (missing)"
            index = self.output.findData(missing_output)
            if index < 0:
                self.output.addItem(text, missing_output)
                index = self.output.count() - 1
                self._missing = (missing_output, None)
            else:  # listed (the list is from before it was unplugged): not shown as playing
                self._missing = (missing_output, self.output.itemText(index))
                self.output.setItemText(index, text)
            self.output.setItemData(index, MISSING_TIP, QtCore.Qt.ItemDataRole.ToolTipRole)
        if output is not None and self.output.findData(output) < 0:  # found since the list was made (plugged in)
            self.output.insertItem(self.output.findData(NO_OUTPUT), f"🔊 {output}", output)
        self._show(self.output, output or missing_output or NO_OUTPUT)

    def _show(self, combo: QtWidgets.QComboBox, value: str | None) -> None:
        if value is None:
            return
        index = combo.findData(value)
        if index < 0 and value.startswith(FILE_PREFIX):
            combo.insertItem(2, f"File: {Path(value[len(FILE_PREFIX):]).name}", value)
            index = 2
        elif index < 0 and combo is self.source:  # a microphone found since the list was made (plugged in)
            combo.addItem(f"🎤 {value}", value)
            index = combo.count() - 1
        if index >= 0:
            combo.blockSignals(True)
            combo.setCurrentIndex(index)
            combo.blockSignals(False)
        if combo is self.source:
            self.shown_source = value

    def _source_activated(self, index: int) -> None:
        spec = self.source.itemData(index)
        if spec == "open":
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Play a file as the microphone", "",
                                                            "Audio (*.wav *.flac *.ogg);;All files (*)")
            if not path:  # cancelled: the picker shows again what plays (the output is left as it is)
                self._show(self.source, self.shown_source)
                return
            spec = FILE_PREFIX + path
            self._show(self.source, spec)
        self.shown_source = spec
        self.settings.setValue("input", spec)
        self.input_chosen.emit(spec)

    def _output_activated(self, index: int) -> None:
        key = self.output.itemData(index)
        self.settings.setValue("output", key)
        self.output_chosen.emit(key)
