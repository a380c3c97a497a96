"""Loihi 2 report: what each model needs on Loihi 2 and how pruning changes it; the hardware; the export.

Rows: the loaded models (live slots), then the model library (engine/library/catalog.py), then files added with
*Compare a file…*. For each, :func:`engine.loihi.resources.loihi_resource_report` (an estimate from
published per-core limits, cited in the panel); a bar chart of synaptic memory per model, stored densely
and exploiting sparsity; per layer for the selected model. The tables are as wide as their columns (short
two-line headers, explained in their tooltips; what does not fit is in the rows' tooltips), and the panel is
never narrower than they are: it scrolls down, never sideways. *Export for Lava/netx…* runs
:func:`engine.library.exporting.export_model` on a worker thread (lava-dl loads there; the model's card and licence
notices go beside the file) and shows what it changed or why it refused.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from app.panels.cells import header_item
from engine.errors import SpandexError
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES, load_model
from engine.library.catalog import is_shipped_folder, is_user_library, list_models
from engine.library.exporting import export_model
from engine.live.protocol import ModelInfo
from engine.loihi.export import plan_export
from engine.loihi.hardware import loihi2_hardware
from engine.loihi.resources import LOIHI2, LoihiResourceReport, loihi_resource_report

MODEL_COLUMNS = ("#", "model", "from", "weights\n= 0", "dense\nKiB", "sparse\nKiB", "cores\nd → s")
LAYER_COLUMNS = ("layer", "neurons", "nonzero\nsynapses", "max\ndelay", "dense\nKiB", "sparse\nKiB", "state\nKiB",
                 "cores\nd → s")
TIPS = {
    "#": "The model's number on the bar chart",
    "from": "slot N: loaded in the A/B tab; shipped / user: the model library; file: added with Compare a file…",
    "weights\n= 0": "Share of the synapses whose weight is zero (pruned)",
    "dense\nKiB": "Synaptic memory with every synapse stored (plus neuron state, in the models' table), KiB",
    "sparse\nKiB": "Synaptic memory with only the nonzero synapses stored, each with its target index (plus "
                    "neuron state, in the models' table), KiB",
    "state\nKiB": "Neuron state, KiB",
    "cores\nd → s": "Neuro-cores needed with dense storage → with sparse storage",
    "nonzero\nsynapses": "Synapses with a nonzero weight (of all synapses: in the row's tooltip)",
    "max\ndelay": "The longest axonal delay in the layer, in time steps",
}
NAMES = ("model", "layer")
"""The column of a table that takes the room its other columns leave."""
DENSE_BRUSH, SPARSE_BRUSH = (255, 160, 70), (102, 194, 255)


@dataclass(frozen=True)
class ModelRow:
    """One model of the comparison: its estimate, or why there is none."""

    name: str
    origin: str   # "slot 2", "shipped", "user", "file"
    path: Path
    report: LoihiResourceReport | None
    notes: tuple[str, ...] = ()
    problem: str | None = None


def model_row(name: str, origin: str, path: Path) -> ModelRow:
    """Load ``path`` and estimate it; a model that cannot load or cannot fit Loihi gets its reason. A PyTorch file
    is not loaded here: reading one imports torch, seconds during which the window would not answer."""
    if path.suffix.lower() in TORCH_SUFFIXES:
        return ModelRow(name, origin, path, None, problem=f"a PyTorch file: the estimate reads netx files; export it "
                                                          f"first (spandex export {path.name} OUT.net)")
    try:
        model = load_model(path)
        return ModelRow(model.name, origin, path, loihi_resource_report(model), plan_export(model).notes)
    except SpandexError as exc:
        return ModelRow(name, origin, path, None, problem=str(exc))


def _kib(n_bytes: int) -> str:
    return f"{n_bytes / 1024:.1f}"


def _table(columns: tuple[str, ...]) -> QtWidgets.QTableWidget:
    table = QtWidgets.QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    for col, name in enumerate(columns):
        header_item(table, col).setToolTip(TIPS.get(name, ""))
    table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # as wide as its columns
    table.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
    return table


def _fill(table: QtWidgets.QTableWidget, rows: list[tuple[str, ...]], tips: list[str] | None = None,
          shown: int = 10) -> None:
    """Put ``rows`` in ``table`` (``tips``: each row's tooltip), make it as wide as its columns and tall
    enough for up to ``shown`` rows (the panel scrolls down)."""
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            item = QtWidgets.QTableWidgetItem(value)
            if c and value[:1].isdigit():
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            if tips:
                item.setToolTip(tips[r])
            table.setItem(r, c, item)
    table.resizeRowsToContents()
    header = table.horizontalHeader()
    widths = [max(header.sectionSizeHint(c), table.sizeHintForColumn(c)) for c in range(table.columnCount())]
    for column, width in enumerate(widths):
        if header_item(table, column).text() in NAMES:
            header.setSectionResizeMode(column, QtWidgets.QHeaderView.ResizeMode.Stretch)  # takes the room left
        else:
            header.resizeSection(column, width)
    more = len(rows) > shown
    table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAsNeeded if more
                                     else QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll_bar = table.verticalScrollBar().sizeHint().width() if more else 0
    table.setMinimumWidth(sum(widths) + 2 * table.frameWidth() + scroll_bar)
    visible = sum(table.rowHeight(r) for r in range(min(len(rows), shown)))
    table.setFixedHeight(visible + table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth())


def _label(text: str = "", small: bool = False) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(QtCore.Qt.TextFormat.RichText)
    label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    if small:
        label.setStyleSheet("font-size: small;")
    return label


class MemoryBars(pg.PlotWidget):
    """Synaptic memory plus neuron state per model (row number): stored densely, and exploiting sparsity."""

    def __init__(self) -> None:
        super().__init__(title="Memory per model (KiB), by # in the table")
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setFixedHeight(190)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.legend = self.addLegend(offset=(-4, 1), labelTextSize="8pt", colCount=2)
        self.dense = pg.BarGraphItem(x=[], height=[], width=0.38, brush=DENSE_BRUSH, name="dense storage")
        self.sparse = pg.BarGraphItem(x=[], height=[], width=0.38, brush=SPARSE_BRUSH, name="sparse storage")
        self.addItem(self.dense)
        self.addItem(self.sparse)

    def show_rows(self, rows: list[ModelRow]) -> None:
        x = np.arange(1, len(rows) + 1)
        dense = [r.report.dense_bytes / 1024 if r.report else 0.0 for r in rows]
        sparse = [r.report.sparse_bytes / 1024 if r.report else 0.0 for r in rows]
        self.dense.setOpts(x=x - 0.2, height=dense)
        self.sparse.setOpts(x=x + 0.2, height=sparse)
        self.setXRange(0.4, len(rows) + 0.6, padding=0)
        self.setYRange(0.0, 1.35 * max(dense + sparse + [1.0]), padding=0)  # the legend above the bars
        self.getAxis("bottom").setTicks([[(i, str(i)) for i in x]])


class LoihiPanel(QtWidgets.QWidget):
    """The *Loihi 2 report* tab (see the module docstring)."""

    export_done = QtCore.Signal(bool, str)  # (ok, message), emitted from the export thread

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.live: list[tuple[str, str, Path]] = []   # (name, origin, path) of the loaded models
        self.files: list[Path] = []                    # added with "Compare a file…"
        self.rows: list[ModelRow] = []
        self._cache: dict[tuple[str, int], ModelRow] = {}
        self.exporting = False
        self._exporter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spandex-export")
        self.export_done.connect(self._export_finished)

        hardware = loihi2_hardware()
        self.hardware_label = _label(f"<b>Loihi 2 hardware:</b> {hardware.reason}.")
        self.models_table = _table(MODEL_COLUMNS)
        self.models_table.itemSelectionChanged.connect(self._show_selected)
        self.bars = MemoryBars()
        self.title = _label()
        self.layers_table = _table(LAYER_COLUMNS)
        self.notes_label = _label(small=True)
        self.export_button = QtWidgets.QPushButton("Export for Lava/netx…")
        self.export_button.clicked.connect(lambda: self.export_dialog())
        compare = QtWidgets.QPushButton("Compare a file…")
        compare.clicked.connect(lambda: self._compare_dialog())
        refresh = QtWidgets.QPushButton("Refresh library")
        refresh.clicked.connect(lambda: self.refresh())
        self.export_label = _label()
        f = LOIHI2
        sources = "".join(f"<li>{source}</li>" for source in f.sources)
        self.figures_label = _label(
            f"<b>Estimate, not Intel's compiler</b> (lava-loihi is not available here): a layer takes "
            f"max(neurons / {f.neurons_per_core:,}, bytes / {f.memory_per_core_bytes // 1024} KB) neuro-cores, "
            f"layers do not share cores, {f.cores_per_chip} cores per chip; {f.weight_bits}-bit weights, "
            f"{f.delay_bits}-bit delays, sparse storage adds each synapse's target index. Core counts could "
            f"be off by half.<ul>{sources}</ul>", small=True)

        buttons = QtWidgets.QHBoxLayout()
        for button in (self.export_button, compare, refresh):
            buttons.addWidget(button)
        content = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(content)
        for widget in (self.hardware_label, self.models_table, self.bars, self.title, self.layers_table,
                       self.notes_label):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        layout.addWidget(self.export_label)
        layout.addWidget(self.figures_label)
        layout.addStretch(1)
        self.content = content
        self.scroll_area = QtWidgets.QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(content)
        self.scroll_area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOn)  # no reflow on scroll
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)
        self.refresh()

    # --- rows ------------------------------------------------------------------------------------

    def set_models(self, models: list[ModelInfo], playing: int = -1) -> None:
        """The engine's loaded models (its ``models`` event); selects the one playing."""
        self.live = [(m["name"], f"slot {i + 1}", Path(source)) for i, m in enumerate(models)
                     if (source := m.get("source"))]
        self.refresh()
        self._select(lambda row: row.origin == f"slot {playing + 1}")

    def refresh(self) -> None:
        """Rebuild the rows: loaded models, the library (read again), compared files."""
        selected = self.selected
        candidates = [*self.live, *((e.name, e.origin, e.path) for e in list_models()),
                      *((p.stem, "file", p) for p in self.files)]
        seen, self.rows = set(), []
        for name, origin, path in candidates:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                self.rows.append(self._row(name, origin, path))
        _fill(self.models_table, [self._cells(i, row) for i, row in enumerate(self.rows)],
              [self._tip(row) for row in self.rows])
        self.bars.show_rows(self.rows)
        self.models_table.selectRow(0)
        if selected is not None:
            self._select(lambda row: row.path == selected.path)
        self._show_selected()

    def _select(self, wanted) -> None:
        """Select the first row for which ``wanted(row)`` is true, if any."""
        for index, row in enumerate(self.rows):
            if wanted(row):
                self.models_table.selectRow(index)
                return

    def _row(self, name: str, origin: str, path: Path) -> ModelRow:
        try:
            key = (str(path.resolve()), path.stat().st_mtime_ns)
        except OSError as exc:
            return ModelRow(name, origin, path, None, problem=f"cannot read {path}: {exc.strerror}")
        if key not in self._cache:
            self._cache[key] = model_row(name, origin, path)
        return replace(self._cache[key], origin=origin)

    def _fit_width(self) -> None:
        """The panel is never narrower than its widest table (the side panel's splitter keeps to that)."""
        bar = self.scroll_area.verticalScrollBar().sizeHint().width()
        self.scroll_area.setMinimumWidth(self.content.minimumSizeHint().width() + bar + 2 * self.scroll_area.frameWidth())

    @staticmethod
    def _cells(index: int, row: ModelRow) -> tuple[str, ...]:
        r = row.report
        if r is None:
            unread = row.path.suffix.lower() in TORCH_SUFFIXES  # (not read in the window: see model_row)
            return (str(index + 1), row.name, row.origin, "not read" if unread else "refused", "", "", "")
        return (str(index + 1), row.name, row.origin, f"{1 - r.nonzero_synapses / r.synapses:.1%}",
                _kib(r.dense_bytes), _kib(r.sparse_bytes), f"{r.cores_dense} → {r.cores_sparse}")

    @staticmethod
    def _tip(row: ModelRow) -> str:
        r = row.report
        if r is None:
            return f"{row.path}: {row.problem}"
        return (f"{row.path}: {r.nonzero_synapses:,} of {r.synapses:,} synapses nonzero; {r.cores_dense} neuro-cores "
                f"dense, {r.cores_sparse} sparse")

    @property
    def selected(self) -> ModelRow | None:
        rows = self.models_table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def _show_selected(self) -> None:
        self._show_row()
        self._fit_width()

    def _show_row(self) -> None:
        row = self.selected
        self.export_button.setEnabled(row is not None and not self.exporting)
        if row is None:
            self.title.setText("")
            _fill(self.layers_table, [])
            self.notes_label.setText("")
            return
        r = row.report
        if r is None:
            self.title.setText(f"<b>{row.name}</b> ({row.origin})")
            _fill(self.layers_table, [])
            self.notes_label.setText(f"<span style='color:#c62828'>{row.problem}</span>")
            return
        self.title.setText(
            f"<b>{row.name}</b> ({row.origin}): {r.neurons:,} neurons, {r.synapses:,} synapses "
            f"({r.nonzero_synapses:,} nonzero); memory with neuron state {_kib(r.dense_bytes)} KiB dense, "
            f"{_kib(r.sparse_bytes)} KiB exploiting sparsity ({r.sparse_bytes / r.dense_bytes:.0%}); "
            f"{r.cores_dense} neuro-cores dense, {r.cores_sparse} sparse, of {r.figures.cores_per_chip} "
            f"on {r.chips} chip{'s' if r.chips > 1 else ''}.")
        _fill(self.layers_table, [
            (l.name.split(" (")[0], f"{l.neurons:,}", f"{l.nonzero_synapses:,}", str(l.max_delay),
             _kib(l.dense_synapse_bytes), _kib(l.sparse_synapse_bytes), _kib(l.neuron_bytes),
             f"{l.cores_dense} → {l.cores_sparse}") for l in r.layers],
            [f"{l.name}: {l.nonzero_synapses:,} of {l.synapses:,} synapses nonzero; {l.cores_dense} neuro-cores dense, "
             f"{l.cores_sparse} sparse" for l in r.layers])
        self.notes_label.setText("<br>".join(f"Export note: {note}" for note in row.notes))

    def _compare_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in NETX_SUFFIXES + TORCH_SUFFIXES)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Compare a model", "", f"SDNN models ({patterns})")
        if path:
            self.compare_file(Path(path))

    def compare_file(self, path: Path) -> None:
        """Add a model file to the comparison (without loading it into the audio path)."""
        if path not in self.files:
            self.files.append(path)
        self.refresh()
        self._select(lambda row: row.path.resolve() == path.resolve())

    # --- export ----------------------------------------------------------------------------------

    def export_dialog(self) -> None:
        row = self.selected
        if row is None:
            return
        suggested = row.path.with_name(f"{row.path.stem}-loihi.net")
        if is_user_library(suggested.parent) or is_shipped_folder(suggested.parent):
            suggested = Path.home() / suggested.name  # an export is a file for Lava: not into the model library
        target, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export for Lava/netx", str(suggested),
                                                          "netx HDF5 (*.net *.h5 *.hdf5)")
        if target:
            self.export(row, Path(target))

    def export(self, row: ModelRow, target: Path) -> None:
        """Export ``row``'s model to ``target`` on the export thread; the outcome appears in the panel."""
        self.exporting = True
        self.export_button.setEnabled(False)
        self.export_label.setText(f"Exporting {row.name} to {target.name}… (lava-dl loads the first time: "
                                  "a few seconds)")
        self._exporter.submit(self._export_job, row.path, target)

    def _export_job(self, source: Path, target: Path) -> None:
        try:
            outcome = export_model(source, target)
        except SpandexError as exc:
            self.export_done.emit(False, f"Export refused: {exc}")
        except Exception as exc:  # noqa: BLE001 — shown, not raised into Qt
            self.export_done.emit(False, f"Export failed: {type(exc).__name__}: {exc}")
        else:
            notes = "".join(f"<br>Changed to fit Loihi: {note}" for note in outcome.plan.notes) + "".join(
                f"<br>Note: {note}" for note in outcome.host_notes)
            beside = ", ".join([outcome.card_path.name, *(notice.name for notice in outcome.licences)])
            self.export_done.emit(True, f"Exported {outcome.plan.model.name} to {target} (netx HDF5, checked by "
                                        f"loading it back through lava-dl netx), with {beside} beside it.{notes}")

    def _export_finished(self, ok: bool, message: str) -> None:
        colour = "#2e7d32" if ok else "#c62828"
        self.export_label.setText(f"<span style='color:{colour}'>{message}</span>")
        self.exporting = False
        self._show_selected()

    def shutdown(self) -> None:
        """Close the plot (pyqtgraph crashes at exit otherwise); an export in flight finishes on its own."""
        self._exporter.shutdown(wait=False)
        self.bars.close()
