"""Per-layer sparsity of the model on display: activity (neurons silent per hop) beside weights (zeros)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from app.plots.frame_history import FrameHistory
from engine.live.protocol import ModelInfo

LAYER_LABELS = ("in", "h1", "h2", "h3", "h4", "h5", "out")


class SparsityBars(pg.PlotWidget):
    """Bars per layer: activity sparsity of its neurons (last second) and weight sparsity of its synapses."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, title="Sparsity: silent neurons · zero weights (out of layer)")
        self.setYRange(0.0, 1.0)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.activity = pg.BarGraphItem(x=[], height=[], width=0.38, brush=(102, 194, 255))
        self.weights = pg.BarGraphItem(x=[], height=[], width=0.38, brush=(255, 160, 70))
        self.addItem(self.activity)
        self.addItem(self.weights)
        self.last_activity: list[float] = []
        self.updates = 0

    def refresh(self, history: FrameHistory, models: list[ModelInfo]) -> None:
        shown = history.shown
        if shown < 0 or shown >= len(models):
            return
        info = models[shown]
        activity = history.model_summary(shown, info["layer_sizes"])["activity_sparsity"]
        weights = info["layer_weight_sparsity"]  # synapse layer l feeds from encoding layer l
        x = np.arange(len(activity))
        self.setXRange(-0.6, max(len(activity), len(weights)) - 0.4, padding=0)
        self.activity.setOpts(x=x - 0.2, height=activity)
        self.weights.setOpts(x=np.arange(len(weights)) + 0.2, height=weights)
        self.getAxis("bottom").setTicks([[(i, LAYER_LABELS[i]) for i in range(max(len(weights), len(activity)))]])
        self.last_activity = activity
        self.updates += 1
