"""Live traces, one curve per loaded model: SynOps per hop, power proxy (M-Ops/s), CPU µs per hop; and the
legend the three share.

A curve has its model's colour, as in the A/B table. The three trace plots share one legend, a line of text
above them (:class:`ModelLegend`): a legend inside each would take a third of a plot's height on a laptop."""

from __future__ import annotations

import html
import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from app.plots.frame_history import FrameHistory
from engine.constants import HOP, SAMPLE_RATE
from engine.evaluation.metrics import power_proxy_ops_per_s
from engine.live.protocol import ModelInfo

MODEL_COLOURS = ((102, 194, 255), (255, 160, 70), (120, 230, 120), (240, 100, 160), (200, 200, 90),
                 (170, 130, 255), (90, 220, 210), (255, 110, 110), (200, 200, 200))
SMOOTH_HOPS = 8
PERIOD_S = 1 / 15
"""The traces are smoothed over 8 hops (64 ms): redrawn at most 15 times a second (half the plot timer's
rate; a redraw of the three trace plots cost about as much as the three images, py-spy)."""


def model_pen(slot: int, playing: bool = False) -> pg.QtGui.QPen:
    return pg.mkPen(MODEL_COLOURS[slot % len(MODEL_COLOURS)], width=3 if playing else 1.5)


class ModelTraces(pg.PlotWidget):
    """``quantity``: "synops" (per hop), "mops" (power proxy, M-Ops/s) or "cpu" (µs per hop)."""

    UNITS = {"synops": "SynOps / hop", "mops": "M-Ops/s (power proxy)", "cpu": "µs / hop (CPU)"}

    def __init__(self, quantity: str, parent=None) -> None:
        super().__init__(parent=parent, title=self.UNITS[quantity])
        self.quantity = quantity
        self.curves: list[pg.PlotDataItem] = []
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.disableAutoRange()  # pyqtgraph's autorange re-measures every curve and re-lays the axis each frame
        self.setLabel("bottom", "s")
        self.y_top = 0.0         # the y range's top, changed only when the data outgrows it or shrinks a lot
        self.x_set = False
        self.drawn_at = -1.0
        self.updates = 0
        self.pens_for: int | None = None  # the slot playing when the pens were last set

    def _values(self, history: FrameHistory, slot: int) -> np.ndarray:
        if self.quantity == "synops":
            return history.synops[:, slot]
        if self.quantity == "mops":
            return power_proxy_ops_per_s(history.synops[:, slot], history.neuronops[:, slot]) / 1e6
        return history.cpu_us[:, slot]

    def refresh(self, history: FrameHistory, models: list[ModelInfo]) -> None:
        now = time.monotonic()
        if now - self.drawn_at < PERIOD_S and len(self.curves) == len(models) \
                and self.pens_for == history.playing:
            return
        self.drawn_at = now
        while len(self.curves) < len(models):
            self.curves.append(self.plot(pen=model_pen(len(self.curves))))
            self.pens_for = None
        while len(self.curves) > len(models):
            self.removeItem(self.curves.pop())
        t = (np.arange(history.length) - history.length) * HOP / SAMPLE_RATE
        if not self.x_set:
            self.setXRange(float(t[0]), 0.0, padding=0)
            self.x_set = True
        kernel = np.ones(SMOOTH_HOPS) / SMOOTH_HOPS
        top = 0.0
        for slot, curve in enumerate(self.curves):
            values = np.convolve(self._values(history, slot), kernel, mode="same")
            curve.setData(t, values, skipFiniteCheck=True)
            top = max(top, float(values.max()))
            if self.pens_for != history.playing:
                curve.setPen(model_pen(slot, slot == history.playing))
        self.pens_for = history.playing
        if top > self.y_top or top < 0.4 * self.y_top:  # headroom: the axis is re-laid rarely
            self.y_top = 1.25 * top if top > 0 else 1.0
            self.setYRange(0.0, self.y_top, padding=0)
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
