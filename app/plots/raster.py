"""Spike raster of the model on display: every encoding neuron (rows, grouped by layer) × the last hops."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from app.plots.frame_history import FrameHistory
from engine.constants import HOP, SAMPLE_RATE
from engine.live.protocol import ModelInfo

LAYER_NAMES = ("input", "hidden 1", "hidden 2", "hidden 3", "hidden 4", "hidden 5")
MAX_ROWS = 320
"""Neurons are drawn in groups so the image has at most this many rows (a screen shows no more);
a group's brightness is how many of its neurons spiked in that hop."""


class SpikeRaster(pg.PlotWidget):
    """One row per neuron (input encoder at the bottom), a dot where it spiked in that hop."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent=parent, title="Spikes (model on display)")
        self.image = pg.ImageItem(axisOrder="row-major")
        ramp = np.linspace(0.0, 1.0, 64)[:, None]
        self.image.setLookupTable((np.array([12, 12, 20]) * (1 - ramp) + np.array([120, 220, 255]) * ramp)
                                  .astype(np.uint8))
        self.addItem(self.image)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.getAxis("bottom").setStyle(showValues=False)
        self.setLabel("left", "neuron")
        self.separators: list[pg.InfiniteLine] = []
        self.layer_sizes: tuple[int, ...] = ()
        self.updates = 0
        self.spikes_drawn = 0

    def set_layers(self, sizes: list[int]) -> None:
        if tuple(sizes) == self.layer_sizes:
            return
        self.layer_sizes = tuple(sizes)
        for line in self.separators:
            self.removeItem(line)
        self.separators = []
        ticks, edge = [], 0
        for name, size in zip(LAYER_NAMES, sizes):
            ticks.append((edge + size / 2, name))
            edge += size
            line = pg.InfiniteLine(pos=edge, angle=0, pen=pg.mkPen((90, 90, 110), width=1))
            self.addItem(line)
            self.separators.append(line)
        self.getAxis("left").setTicks([ticks])

    def refresh(self, history: FrameHistory, models: list[ModelInfo]) -> None:
        shown = history.shown
        if shown < 0 or shown >= len(models):
            self.image.clear()
            return
        sizes = models[shown]["layer_sizes"]
        self.set_layers(sizes)
        neurons = min(sum(sizes), history.fired.shape[1])
        group = -(-neurons // MAX_ROWS)
        rows = -(-neurons // group)
        fired = history.fired[:, :neurons]
        if rows * group != neurons:
            fired = np.pad(fired, ((0, 0), (0, rows * group - neurons)))
        raster = fired.reshape(history.length, rows, group).sum(axis=2, dtype=np.uint8).T
        self.image.setImage(np.ascontiguousarray(raster), levels=(0, group), autoLevels=False)
        seconds = history.length * HOP / SAMPLE_RATE
        self.image.setRect(-seconds, 0.0, seconds, neurons)
        self.spikes_drawn = int(fired[-1].sum())
        self.updates += 1
