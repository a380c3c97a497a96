"""The model library's trade-off: every model as validation SI-SNR against the N-DNS power proxy (M-Ops/s), as
its model card measured them, labelled, with the Pareto front. Cards measured on different datasets are not
comparable, so each dataset gets its own colour and front. Models whose card has no measured numbers are
listed beneath the chart, never placed on it."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtWidgets

from app.plots.traces import MODEL_COLOURS
from engine.library.catalog import ModelEntry, list_models


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (M-Ops/s, SI-SNR) points no other point beats on both (fewer M-Ops/s and more SI-SNR), by M-Ops/s."""
    front: list[tuple[float, float]] = []
    for mops, si_snr in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or si_snr > front[-1][1]:
            front.append((mops, si_snr))
    return front


class ParetoChart(QtWidgets.QWidget):
    """Call :meth:`refresh` after the library changes. ``plotted``: name → (M-Ops/s, SI-SNR) on the chart;
    ``unmeasured``: name → why it is not on it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setTitle("Model library: SI-SNR vs cost, from the model cards", size="9pt")
        self.plot.setLabel("bottom", "M-Ops/s (power proxy)")
        self.plot.setLabel("left", "SI-SNR (dB)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.note = QtWidgets.QLabel()
        self.note.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.note)
        self.plotted: dict[str, tuple[float, float]] = {}
        self.unmeasured: dict[str, str] = {}

    def refresh(self, entries: list[ModelEntry] | None = None) -> None:
        """Redraw from ``entries`` (default: the library as it is now on disk)."""
        entries = list_models() if entries is None else entries
        self.plot.clear()
        self.legend.clear()
        self.plotted.clear()
        self.unmeasured.clear()
        groups: dict[str, list[tuple[str, tuple[float, float]]]] = {}  # split → (name, (M-Ops/s, SI-SNR))
        shown: dict[str, str] = {}  # split → its legend text
        for entry in entries:
            if entry.measured is None:
                self.unmeasured[entry.name] = entry.card_problem or ("no model card" if not entry.card
                                                                     else "its card has no SI-SNR / M-Ops/s")
                continue
            point = (entry.measured[1], entry.measured[0])
            measured = entry.measured_split
            split = measured.key if measured else "?"
            groups.setdefault(split, []).append((entry.name, point))
            shown.setdefault(split, str(measured) if measured else "?")
        points_all = [point for members in groups.values() for _, point in members]
        if points_all:  # cost from 0; at least 2 dB tall, so one model does not blow up rounding noise
            mops_all, snr_all = zip(*points_all)
            middle = (max(snr_all) + min(snr_all)) / 2
            half = max(1.0, (max(snr_all) - min(snr_all)) / 2 * 1.2)
            x_top = max(mops_all) * 1.25
            self.plot.setXRange(0, x_top, padding=0)
            self.plot.setYRange(middle - half, middle + half, padding=0)
        for index, (split, members) in enumerate(sorted(groups.items())):
            colour = MODEL_COLOURS[index % len(MODEL_COLOURS)]
            points = [point for _, point in members]
            front = pareto_front(points)
            self.plot.plot([p[0] for p in front], [p[1] for p in front],
                           pen=pg.mkPen(colour, width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
            self.plot.plot([p[0] for p in points], [p[1] for p in points], pen=None, symbol="o", symbolSize=9,
                           symbolPen=None, symbolBrush=colour, name=f"measured on {shown[split]}")
            for name, (mops, si_snr) in members:
                # names on the right half run left of their point, those near the top below it: inside the plot
                anchor = (1 if mops > 0.5 * x_top else 0, 0 if si_snr > middle + 0.7 * half else 1)
                label = pg.TextItem(name, color=colour, anchor=anchor)
                label.setPos(mops, si_snr)
                self.plot.addItem(label)
                self.plotted[name] = (mops, si_snr)
        lines = [f"{len(self.plotted)} model(s) plotted."]
        if self.unmeasured:
            lines.append("Not plotted (no measured numbers): " + "; ".join(
                f"{name} ({why})" for name, why in sorted(self.unmeasured.items())))
        self.note.setText(" ".join(lines))

    def shutdown(self) -> None:
        """Close the pyqtgraph view (it can crash at exit if left to the garbage collector)."""
        self.plot.close()
