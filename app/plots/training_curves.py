"""A training run as it goes, over its steps: the weight sparsity — the planned cubic GMP schedule as a line
and the measured sparsity as dots, like SPANDEX's Figure 1 — validation SI-SNR and SynOps per evaluation,
and the training loss. Fed with :mod:`engine.training.events`; talks to nothing."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engine.training import events as ev
from engine.training.schedule import GMPSchedule

PLAN_COLOUR = (255, 160, 70)
MEASURED_COLOUR = (102, 194, 255)
SERIES = ("sparsity", "si_snr", "synops", "loss")


class TrainingCurves(pg.GraphicsLayoutWidget):
    """Four plots sharing the step axis. ``points[series]`` maps step → value for every series drawn."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent)
        titles = {"sparsity": "Weight sparsity",
                  "si_snr": "Validation SI-SNR (dB)", "synops": "Validation SynOps / frame", "loss": "Training loss"}
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for row, series in enumerate(SERIES):
            plot = self.addPlot(row=row, col=0)
            plot.setTitle(titles[series], size="9pt")
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            plot.showGrid(x=True, y=True, alpha=0.2)
            if row:
                plot.setXLink(self.plots["sparsity"])
            self.plots[series] = plot
            line = None if series == "sparsity" else pg.mkPen(MEASURED_COLOUR, width=1.5)
            symbol = None if series == "loss" else "o"
            self.curves[series] = plot.plot(pen=line, symbol=symbol, symbolSize=5, symbolPen=None,
                                            symbolBrush=MEASURED_COLOUR)
        self.plots["sparsity"].setYRange(0.0, 1.0)
        self.plots["loss"].setLabel("bottom", "step")
        self.planned = self.plots["sparsity"].plot(pen=pg.mkPen(PLAN_COLOUR, width=2))
        legend = self.plots["sparsity"].addLegend(offset=(-4, -4), labelTextSize="8pt", colCount=2)
        legend.addItem(self.planned, "schedule")
        legend.addItem(self.curves["sparsity"], "measured")
        self.curves["sparsity"].setZValue(1)  # the dots above the line
        self.points: dict[str, dict[int, float]] = {series: {} for series in SERIES}

    def clear_run(self) -> None:
        """Forget the plan and every point (a new run)."""
        self.planned.setData([], [])
        for series in SERIES:
            self.points[series].clear()
            self.curves[series].setData([], [])

    def show_plan(self, schedule: GMPSchedule | None, total_steps: int, start_sparsity: float) -> None:
        """Draw the sparsity the run will follow, step 0 to ``total_steps`` (flat when it does not prune)."""
        steps = np.arange(total_steps + 1)
        if schedule is None:
            sparsity = np.full(steps.size, start_sparsity)
        else:
            sparsity = np.array([schedule.sparsity_at(int(t)) for t in steps])
        self.planned.setData(steps, sparsity)
        self.plots["sparsity"].setXRange(0, max(total_steps, 1), padding=0.02)

    def add(self, event: ev.Event) -> None:
        """Take one event of the run; those without a curve are ignored."""
        if isinstance(event, ev.StepReport):
            self._put("sparsity", event.step, event.weight_sparsity)
            self._put("loss", event.step, event.loss)
        elif isinstance(event, ev.Pruned):
            self._put("sparsity", event.step, event.weight_sparsity)
        elif isinstance(event, ev.Evaluated):
            self._put("si_snr", event.step, event.si_snr)
            self._put("synops", event.step, event.synops_per_frame)

    def _put(self, series: str, step: int, value: float) -> None:
        points = self.points[series]
        points[step] = value
        steps = sorted(points)
        self.curves[series].setData(steps, [points[s] for s in steps])
