"""Live traces, one curve per loaded model: SynOps per hop, power proxy (M-Ops/s), CPU µs per hop; and the
legend the three share.

A curve has its model's colour, as in the A/B table. The three trace plots share one legend, a line of text
above them (:class:`ModelLegend`): a legend inside each would take a third of a plot's height on a laptop."""

from __future__ import annotations

import html
import time

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6 import QtCore, QtGui, QtWidgets

from app.plots.frame_history import FrameHistory
from app.plots.live_plot import LivePlot
from engine.constants import HOP, SAMPLE_RATE
from engine.evaluation.metrics import power_proxy_ops_per_s
from engine.live.protocol import ModelInfo

MODEL_COLOURS = ((102, 194, 255), (255, 160, 70), (120, 230, 120), (240, 100, 160), (200, 200, 90),
                 (170, 130, 255), (90, 220, 210), (255, 110, 110), (200, 200, 200))
SMOOTH_HOPS = 8
STEP_HOPS = 4
"""A trace point is the mean of the 8 hops up to it (64 ms), one point every 4 hops: 94 points over the
3 s drawn (about 4 px apart at 1280×800). Points sit on hops whose number is a multiple of 4, so a point
keeps its value while it scrolls left instead of shimmering."""
PERIOD_S = 1 / 15
"""Redrawn at most 15 times a second (half the plot timer's rate): a trace is smoothed over 64 ms."""


class TraceCurve(pg.GraphicsObject):
    """One model's trace: a polyline with a one-pixel pen in its colour; the model heard is drawn twice, a
    pixel apart (a line two pixels thick).

    Qt draws one-pixel cosmetic lines directly but sends any wider pen through its path stroker, 10 to 40
    times slower (94-375 points, measured): at 1.5 and 3 px the traces cost more than the three images.
    :meth:`set_points` does not repaint: the plot repaints its data area once per frame
    (:meth:`app.plots.live_plot.LivePlot.repaint_data`)."""

    def __init__(self, colour: tuple[int, int, int]) -> None:
        super().__init__()
        self.pen = pg.mkPen(colour, width=1)
        self.thick = False
        self.x = np.empty(0)
        self.y = np.empty(0)
        self.polygon = QtGui.QPolygonF()
        self.bounds = QtCore.QRectF()

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        if x.size != self.x.size:
            self.polygon = fn.create_qpolygonf(x.size)
        points = fn.ndarray_from_qpolygonf(self.polygon)
        points[:, 0] = x
        points[:, 1] = y
        self.x, self.y = x, y

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x, self.y

    def set_bounds(self, bounds: QtCore.QRectF) -> None:
        """The data rectangle the curve stays in (the plot's range)."""
        self.prepareGeometryChange()
        self.bounds = bounds

    def boundingRect(self) -> QtCore.QRectF:
        return self.bounds

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        if self.polygon.isEmpty():
            return
        painter.setPen(self.pen)
        if not self.thick:
            painter.drawPolyline(self.polygon)
            return
        on_screen = painter.transform().map(self.polygon)
        painter.resetTransform()
        painter.drawPolyline(on_screen)
        on_screen.translate(0.0, -1.0)
        painter.drawPolyline(on_screen)


class ModelTraces(LivePlot):
    """``quantity``: "synops" (per hop), "mops" (power proxy, M-Ops/s) or "cpu" (µs per hop)."""

    UNITS = {"synops": "SynOps / hop", "mops": "M-Ops/s (power proxy)", "cpu": "µs / hop (CPU)"}

    def __init__(self, quantity: str, parent=None) -> None:
        super().__init__(title=self.UNITS[quantity], parent=parent)
        self.quantity = quantity
        self.curves: list[TraceCurve] = []
        self.setLabel("bottom", "s")
        self.y_top = 0.0         # the y range's top, changed only when the data outgrows it or shrinks a lot
        self.x_set = False
        self.drawn_at = -1.0
        self.updates = 0
        self.pens_for: int | None = None  # the slot playing when the curves were last drawn

    def _values(self, history: FrameHistory, slot: int) -> np.ndarray:
        if self.quantity == "synops":
            return history.synops[:, slot]
        if self.quantity == "mops":
            return power_proxy_ops_per_s(history.synops[:, slot], history.neuronops[:, slot]) / 1e6
        return history.cpu_us[:, slot]

    def _bounds(self, length: int) -> QtCore.QRectF:
        seconds = length * HOP / SAMPLE_RATE
        return QtCore.QRectF(-seconds, 0.0, seconds, self.y_top or 1.0)

    def refresh(self, history: FrameHistory, models: list[ModelInfo]) -> None:
        now = time.monotonic()
        if now - self.drawn_at < PERIOD_S and len(self.curves) == len(models) \
                and self.pens_for == history.playing:
            return
        self.drawn_at = now
        length = history.length
        while len(self.curves) < len(models):
            curve = TraceCurve(MODEL_COLOURS[len(self.curves) % len(MODEL_COLOURS)])
            curve.set_bounds(self._bounds(length))
            self.addItem(curve)
            self.curves.append(curve)
        while len(self.curves) > len(models):
            self.removeItem(self.curves.pop())
        if not self.x_set:
            self.setXRange(-length * HOP / SAMPLE_RATE, 0.0, padding=0)
            self.x_set = True
        # the hops drawn: multiples of STEP_HOPS in the engine's count, each with SMOOTH_HOPS before it
        first = -(history.frames_seen - length) % STEP_HOPS
        at = np.arange(first, length, STEP_HOPS)
        at = at[at >= SMOOTH_HOPS - 1]
        t = (at - length) * HOP / SAMPLE_RATE
        top = 0.0
        for slot, curve in enumerate(self.curves):
            sums = np.concatenate(([0.0], np.cumsum(self._values(history, slot))))
            means = (sums[at + 1] - sums[at + 1 - SMOOTH_HOPS]) / SMOOTH_HOPS
            curve.set_points(t, means)
            curve.thick = slot == history.playing
            top = max(top, float(means.max()) if means.size else 0.0)
        self.pens_for = history.playing
        if top > self.y_top or top < 0.4 * self.y_top:  # headroom: the axis is re-laid rarely
            self.y_top = 1.25 * top if top > 0 else 1.0
            self.setYRange(0.0, self.y_top, padding=0)
            for curve in self.curves:
                curve.set_bounds(self._bounds(length))
        self.repaint_data()
        self.updates += 1


class ModelLegend(QtWidgets.QLabel):
    """What the traces' colours mean: "━ 1 spandex-dense  ━ 2 spandex-prune75 …", the model heard in bold.
    ``charts``: the plots it is the legend of; ``entries``: the names it shows, by slot."""

    def __init__(self, charts: tuple[ModelTraces, ...], parent=None) -> None:
        super().__init__(parent)
        self.charts = charts
        self.entries: list[str] = []
        self.shown_for: tuple[tuple[str, ...], int] | None = None
        self.setWordWrap(True)
        self.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.setToolTip("The traces below: one line per loaded model, in its colour in the A/B table (the model "
                        "heard in bold, its line thicker)")

    def show_models(self, models: list[ModelInfo], playing: int) -> None:
        """Write the legend for ``models`` (only when they or the model heard changed: a timer may call this)."""
        names = tuple(info["name"] for info in models)
        if self.shown_for == (names, playing):
            return
        self.shown_for = (names, playing)
        self.entries = [f"{slot + 1} {name}" for slot, name in enumerate(names)]
        parts = []
        for slot, entry in enumerate(self.entries):
            colour = "#{:02x}{:02x}{:02x}".format(*MODEL_COLOURS[slot % len(MODEL_COLOURS)])
            text = html.escape(entry)
            parts.append(f"<span style='color:{colour}'>━━</span>&nbsp;" + (f"<b>{text}</b>" if slot == playing
                                                                            else text).replace(" ", "&nbsp;"))
        self.setText("Traces: " + " &nbsp; ".join(parts) if parts else "")
