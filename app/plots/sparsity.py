"""Per-layer sparsity of the model on display: activity (neurons silent per hop) beside weights (zeros)."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg

from app.plots.frame_history import FrameHistory
from app.plots.live_plot import LivePlot
from engine.live.protocol import ModelInfo

LAYER_LABELS = ("in", "h1", "h2", "h3", "h4", "h5", "out")
PERIOD_S = 0.5
"""The bars change slowly (one-second means): redrawn twice a second."""


class SparsityBars(LivePlot):
    """Bars per layer: activity sparsity of its neurons (last second) and weight sparsity of its synapses."""

    def __init__(self, parent=None) -> None:
        super().__init__(title="Sparsity per layer", parent=parent)  # short: whole on a 1024-px projector
        self.setToolTip("Of the model on display (the raster's), per layer: neurons, the share of its neurons "
                        "that stayed silent over the last second; weights, the share of its weights that are zero")
        self.setYRange(0.0, 1.75, padding=0)  # room above the bars (at most 1) for the legend (one row of it)
        self.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        self.addLegend(offset=(4, 1), labelTextSize="8pt", colCount=2)  # short names: whole at 1024 px
        self.activity = pg.BarGraphItem(x=[], height=[], width=0.38, brush=(102, 194, 255),
                                        name="neurons")
        self.weights = pg.BarGraphItem(x=[], height=[], width=0.38, brush=(255, 160, 70), name="weights")
        self.addItem(self.activity)
        self.addItem(self.weights)
        self.last_activity: list[float] = []
        self.drawn_at = -1.0       # monotonic time of the last redraw
        self.drawn_for = (-2, 0)   # (slot shown, number of layers) of the axis as laid out
        self.updates = 0

    def refresh(self, history: FrameHistory, models: list[ModelInfo]) -> None:
        """Redraw at most :data:`PERIOD_S` apart (the bars are one-second means), at once on a new model."""
        shown = history.shown
        if shown < 0 or shown >= len(models):
            return
        now = time.monotonic()
        if now - self.drawn_at < PERIOD_S and self.drawn_for[0] == shown:
            return
        self.drawn_at = now
        info = models[shown]
        activity = history.model_summary(shown, info["layer_sizes"])["activity_sparsity"]
        weights = info["layer_weight_sparsity"]  # synapse layer l feeds from encoding layer l
        layers = max(len(activity), len(weights))
        if self.drawn_for != (shown, layers):
            self.setXRange(-0.6, layers - 0.4, padding=0)
            self.getAxis("bottom").setTicks([[(i, LAYER_LABELS[i]) for i in range(layers)]])
            self.weights.setOpts(x=np.arange(len(weights)) + 0.2, height=weights)
            self.drawn_for = (shown, layers)
        self.activity.setOpts(x=np.arange(len(activity)) - 0.2, height=activity)
        self.last_activity = activity
        self.updates += 1
