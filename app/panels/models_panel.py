"""A/B panel: the loaded models side by side (live SynOps, M-Ops/s, sparsity, CPU), which one plays,
and which two are A and B; the selected model's card below.

The table is as wide as its columns, never scrolled sideways: short headers (explained in their tooltips),
number columns as wide as the widest number they show (set once, not re-measured four times a second), the
weights' sparsity in the model's tooltip (it does not change while the model runs)."""

from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from app.panels.cells import cell_item, header_item
from app.plots.frame_history import FrameHistory
from app.plots.traces import MODEL_COLOURS
from engine.live.protocol import ModelInfo
from engine.snn.model import MAX_SHARPENING

COLUMNS = ("#", "model", "SynOps", "M-Ops/s", "vs A", "silent", "µs/hop")
HEADER_TIPS = (
    "The model's key: press it to hear the model (▶: the model heard)",
    "The model's name (its file, backend and zero weights in its tooltip); double-click to hear it",
    "Synaptic operations per hop (8 ms), mean of the last second",
    "N-DNS power proxy: synaptic and neuron operations per second, in millions",
    "SynOps against model A's",
    "Hidden neurons silent per hop, mean of the last second",
    "CPU time of the model's step per hop, in µs (dense and sparse give the same sound; this tells them apart)")
WIDEST = ("▶ 9", "", "8,888,888", "888.88", "+888%", "100%", "88888")
"""The widest text each column shows as a rule (the model column: the names loaded); a wider one widens it."""
SHOWN_ROWS = 9
"""The table grows to this many rows (the 1-9 keys); the card below takes the rest of the height."""


class ModelsPanel(QtWidgets.QWidget):
    """Emits ``select_requested(slot)``, ``open_requested()``, ``remove_requested(slot)``,
    ``sharpening_requested(slot, strength)``."""

    NUMBERS_PERIOD_S = 0.25  # live numbers are rewritten 4 times a second (and when the model heard changes)

    select_requested = QtCore.Signal(int)
    open_requested = QtCore.Signal()
    remove_requested = QtCore.Signal(int)
    sharpening_requested = QtCore.Signal(int, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.models: list[ModelInfo] = []
        layout = QtWidgets.QVBoxLayout(self)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        row_header = self.table.verticalHeader()
        row_header.setVisible(False)
        # rows one line of text tall (Qt's default is roomier): five models and a card fit a 1024×768 projector
        row_header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
        row_header.setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # as tall as its rows
        self.table.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
        header.setHighlightSections(False)
        for col, tip in enumerate(HEADER_TIPS):
            header_item(self.table, col).setToolTip(tip)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.select_requested.emit(row))
        layout.addWidget(self.table)
        self.sharpening_row = QtWidgets.QWidget()
        sharpening = QtWidgets.QHBoxLayout(self.sharpening_row)
        sharpening.setContentsMargins(0, 0, 0, 0)
        self.sharpening_label = QtWidgets.QLabel("Mask sharpening:")
        self.sharpening_spin = QtWidgets.QDoubleSpinBox()
        self.sharpening_spin.setRange(0.0, MAX_SHARPENING)
        self.sharpening_spin.setSingleStep(0.25)
        self.sharpening_spin.setDecimals(2)
        self.sharpening_spin.setKeyboardTracking(False)  # typed "1.5" is one change, not "1" then "1.5"
        self.sharpening_own = QtWidgets.QPushButton("Its own")
        tip = ("The selected model's mask, each frame raised to 1 + S·(1 − its mean): frames the network finds mostly "
               "noise are suppressed harder, clean speech is changed a little more. 0: the network's own mask. Each "
               "model loads with its own S (kept in its file; its card's 'mask:' line says which); `spandex sharpen MODEL "
               "--sweep` measures the trade.")
        for widget in (self.sharpening_label, self.sharpening_spin, self.sharpening_own):
            widget.setToolTip(tip)
        self.sharpening_spin.valueChanged.connect(self._sharpening_changed)
        self.sharpening_own.clicked.connect(self._own_sharpening)
        sharpening.addWidget(self.sharpening_label)
        sharpening.addWidget(self.sharpening_spin)
        sharpening.addWidget(self.sharpening_own)
        sharpening.addStretch(1)
        self.sharpening_row.setEnabled(False)
        layout.addWidget(self.sharpening_row)
        self.card = QtWidgets.QTextEdit()  # not QPlainTextEdit, whose layout ignores a block's indents
        self.card.setReadOnly(True)
        self.card.setMinimumHeight(90)
        self.card.setPlaceholderText("Select a model to see its card: data, recipe, measured metrics.")
        self.table.itemSelectionChanged.connect(self._show_card)
        layout.addWidget(self.card, 1)
        ab = QtWidgets.QHBoxLayout()
        self.a_combo = QtWidgets.QComboBox()
        self.b_combo = QtWidgets.QComboBox()
        ab.addWidget(QtWidgets.QLabel("A:"))
        ab.addWidget(self.a_combo, 1)
        ab.addWidget(QtWidgets.QLabel("B:"))
        ab.addWidget(self.b_combo, 1)
        layout.addLayout(ab)
        buttons = QtWidgets.QHBoxLayout()
        self.open_button = QtWidgets.QPushButton("Open model…")
        self.open_button.clicked.connect(self.open_requested)
        self.remove_button = QtWidgets.QPushButton("Remove selected")
        self.remove_button.clicked.connect(self._remove_selected)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.remove_button)
        layout.addLayout(buttons)
        hint = QtWidgets.QLabel("Keys: A / B play A / B, Space swaps, 1–9 a slot, 0 bypass")  # (one line: room is short)
        hint.setToolTip("A / B play model A / B, Space swaps A↔B, 1–9 play a slot, 0 bypass; double-click a row to "
                        "play it. All models run on every hop, so a switch is instant (20 ms crossfade).")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addStretch(0)  # the room the card leaves in a blind test (ABX hides it) goes below, not between
        self.hidden = False
        self.shown_at = 0.0       # when the live numbers were last written
        self.shown_playing = -2   # the slot playing then
        self.summaries: list[dict] = []
        bold = QtGui.QFont(self.table.font())
        bold.setBold(True)
        self.bold_metrics = QtGui.QFontMetrics(bold)  # the row heard is bold: the widest a text gets
        margin = self.table.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_FocusFrameHMargin, None, self.table)
        self.cell_padding = 2 * (margin + 1) + 1 + 4  # the item's margins, the grid line, a little air
        self._fit()

    @property
    def a(self) -> int:
        return self.a_combo.currentIndex()

    @property
    def b(self) -> int:
        return self.b_combo.currentIndex()

    def set_ab(self, a: int, b: int) -> None:
        """Make slots ``a`` and ``b`` the models A and B."""
        self.a_combo.setCurrentIndex(a)
        self.b_combo.setCurrentIndex(b)

    def set_models(self, models: list[ModelInfo]) -> None:
        old = [m["source"] for m in self.models]
        self.models = models
        self.shown_at = 0.0  # new rows: write their numbers at the next refresh
        self.table.setRowCount(len(models))
        names = [f"{i + 1}: {m['name']}" for i, m in enumerate(models)]
        for combo, default in ((self.a_combo, 0), (self.b_combo, len(models) - 1)):
            previous = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            index = names.index(previous) if previous in names else default
            combo.setCurrentIndex(max(index, 0) if models else -1)
            combo.blockSignals(False)
        for row, info in enumerate(models):
            colour = QtGui.QColor(*MODEL_COLOURS[row % len(MODEL_COLOURS)])
            for col in range(len(COLUMNS)):
                item = QtWidgets.QTableWidgetItem("")
                if col in (0, 1):
                    item.setForeground(colour)
                else:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
            cell_item(self.table, row, 0).setText(str(row + 1))
            backend = info.get("backend", "dense")
            # dense and sparse give the same bits (only the CPU column tells them apart); Lava is heard later
            cell_item(self.table, row, 1).setText(f"{info['name']} [lava]" if backend == "lava" else info["name"])
            cell_item(self.table, row, 1).setToolTip(
                f"{info.get('source') or info['name']} ({backend} backend): {info['weight_sparsity']:.0%} of its "
                "weights are zero")
        if old != [m["source"] for m in models]:
            self.table.clearSelection()
        self._fit()
        self._show_card()

    def _cell_width(self, text: str) -> int:
        return self.bold_metrics.horizontalAdvance(text) + self.cell_padding

    def _fit(self) -> None:
        """Size every column for its widest text and the table for its columns and rows (no scroll bars);
        the model column takes what room is left."""
        header = self.table.horizontalHeader()
        names = [cell_item(self.table, row, 1).text() for row in range(self.table.rowCount())]
        self.widths = []
        for col, widest in enumerate(WIDEST):
            texts = names if col == 1 else [widest]
            self.widths.append(max([header.sectionSizeHint(col)] + [self._cell_width(t) for t in texts]))
            if col != 1:
                header.resizeSection(col, self.widths[col])
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self._fit_width()
        rows = min(max(self.table.rowCount(), 1), SHOWN_ROWS)
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff if self.table.rowCount()
                                              <= SHOWN_ROWS else QtCore.Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.table.setFixedHeight(header.sizeHint().height() + rows * self.table.verticalHeader().defaultSectionSize()
                                  + 2 * self.table.frameWidth())

    def _fit_width(self) -> None:
        scroll_bar = self.table.verticalScrollBar().sizeHint().width() if self.table.rowCount() > SHOWN_ROWS else 0
        self.table.setMinimumWidth(sum(self.widths) + 2 * self.table.frameWidth() + scroll_bar)

    def set_hidden(self, hidden: bool) -> None:
        """ABX: hide everything that tells the models apart."""
        self.hidden = hidden
        self.table.setVisible(not hidden)
        self.sharpening_row.setVisible(not hidden)
        self.card.setVisible(not hidden)
        for button in (self.open_button, self.remove_button):  # a removal would move the test's models to other slots
            button.setEnabled(not hidden)

    def refresh(self, history: FrameHistory) -> list[dict]:
        """Update the live columns (at most every NUMBERS_PERIOD_S, and when the model heard changes);
        returns the per-model summaries shown (one-second means, as fresh as the numbers)."""
        now = time.monotonic()
        if now - self.shown_at < self.NUMBERS_PERIOD_S and history.playing == self.shown_playing \
                and len(self.summaries) == len(self.models):
            return self.summaries  # numbers that change 30 times a second cannot be read; computing them costs CPU
        self.shown_at, self.shown_playing = now, history.playing
        summaries = [history.model_summary(row, info["layer_sizes"]) for row, info in enumerate(self.models)]
        reference = summaries[self.a] if 0 <= self.a < len(summaries) else None
        self.summaries = summaries
        for row, s in enumerate(summaries):
            hidden_layers = s["activity_sparsity"][1:] or s["activity_sparsity"]
            vs_a = "" if reference is None or reference["synops"] == 0 or row == self.a else \
                f"{s['synops'] / reference['synops'] - 1:+.0%}"
            values = (f"{s['synops']:,.0f}", f"{s['mops']:.2f}", vs_a,
                      f"{sum(hidden_layers) / len(hidden_layers):.0%}", f"{s['cpu_us']:.0f}")
            for col, text in enumerate(values, start=2):
                cell_item(self.table, row, col).setText(text)
                if self._cell_width(text) > self.widths[col]:  # wider than WIDEST
                    self.widths[col] = self._cell_width(text)
                    self.table.horizontalHeader().resizeSection(col, self.widths[col])
                    self._fit_width()
            playing = row == history.playing
            font = cell_item(self.table, row, 1).font()
            if font.bold() != playing:
                font.setBold(playing)
                for col in range(len(COLUMNS)):
                    cell_item(self.table, row, col).setFont(font)
            cell_item(self.table, row, 0).setText(f"▶ {row + 1}" if playing else str(row + 1))
        return summaries

    def _shown_row(self) -> int:
        """The row the card and the sharpening show: the selected one, else the first."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else 0

    def _show_card(self) -> None:
        """The selected model's card and sharpening (the first model's when none is selected)."""
        row = self._shown_row()
        self._show_sharpening(row)
        if row >= len(self.models):
            self.card.clear()
            return
        info = self.models[row]
        lines = info.get("card") or [f"{info['name']}: no model card (a file opened from disk?)"]
        show_card_lines(self.card, lines)

    def _show_sharpening(self, row: int) -> None:
        info = self.models[row] if row < len(self.models) else None
        self.sharpening_row.setEnabled(info is not None)
        self.sharpening_spin.blockSignals(True)  # shown, not asked for
        self.sharpening_spin.setValue(info.get("sharpening", 0.0) if info else 0.0)
        self.sharpening_spin.blockSignals(False)
        own = info.get("own_sharpening", 0.0) if info else 0.0
        self.sharpening_label.setText(f"Slot {row + 1} mask sharpening:" if info else "Mask sharpening:")
        self.sharpening_own.setText(f"Its own ({own:g})")
        self.sharpening_own.setEnabled(info is not None and info.get("sharpening", 0.0) != own)

    def _sharpening_changed(self, value: float) -> None:
        row = self._shown_row()
        if row < len(self.models) and value != self.models[row].get("sharpening"):
            self.sharpening_requested.emit(row, float(value))

    def _own_sharpening(self) -> None:
        row = self._shown_row()
        if row < len(self.models):
            self.sharpening_requested.emit(row, float(self.models[row].get("own_sharpening", 0.0)))

    def _remove_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.remove_requested.emit(rows[0].row())


def show_card_lines(view: QtWidgets.QTextEdit, lines: list[str]) -> None:
    """Card lines, each a paragraph whose wrapped lines hang under its first: a line the card indents ("  SI-SNR
    dB: …") keeps its indent when it wraps, and a long "label: value" line wraps clear of the next label."""
    view.clear()
    cursor = QtGui.QTextCursor(view.document())
    step = view.fontMetrics().horizontalAdvance("  ")
    for number, line in enumerate(lines):
        text = line.lstrip(" ")
        indent = step * (len(line) - len(text)) // 2  # the card indents by two spaces
        paragraph = QtGui.QTextBlockFormat()
        paragraph.setLeftMargin(indent + 2 * step)
        paragraph.setTextIndent(-2 * step)
        if number:
            cursor.insertBlock(paragraph)
        else:
            cursor.setBlockFormat(paragraph)
        cursor.insertText(text)
    view.moveCursor(QtGui.QTextCursor.MoveOperation.Start)
