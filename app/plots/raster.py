"""Spike raster of the model on display: every encoding neuron (rows, grouped by layer) × the last hops."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from app.plots.column_image import ScrollingImage
from app.plots.frame_history import HISTORY_HOPS, FrameHistory
from app.plots.live_plot import LivePlot
from engine.constants import HOP, SAMPLE_RATE
from engine.live.protocol import ModelInfo

LAYER_NAMES = ("input", "hidden 1", "hidden 2", "hidden 3", "hidden 4", "hidden 5")
MAX_ROWS = 320
"""Neurons are drawn in groups so the image has at most this many rows (a screen shows no more);
a group's brightness is how many of its neurons spiked in that hop."""


def _ramp() -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, 256)[:, None]
    return (np.array([12, 12, 20]) * (1 - ramp) + np.array([120, 220, 255]) * ramp).astype(np.uint8)


class SpikeRaster(LivePlot):
    """One row per neuron group (input encoder at the bottom), brighter where more of it spiked in that
    hop. Each refresh draws only the hops that arrived since the last one."""

    def __init__(self, parent=None, length: int = HISTORY_HOPS) -> None:
        super().__init__(title="Spikes (model on display)", parent=parent)
        self.image: ScrollingImage | None = None
        self.getAxis("bottom").setStyle(showValues=False)
        self.setLabel("left", "neuron")
        self.length = length
        self.separators: list[pg.InfiniteLine] = []
        self.layer_sizes: tuple[int, ...] = ()
        self.shown = -2       # the slot drawn (a switch starts the picture over)
        self.group = 1
        self.seen = 0
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
        neurons = edge
        self.group = -(-neurons // MAX_ROWS)
        if self.image is not None:
            self.removeItem(self.image)
        self.image = ScrollingImage(-(-neurons // self.group), self.length, _ramp())
        self.addItem(self.image)
        seconds = self.length * HOP / SAMPLE_RATE
        self.image.setRect(-seconds, 0.0, seconds, neurons)
        self.setRange(xRange=(-seconds, 0.0), yRange=(0.0, neurons), padding=0)

    def refresh(self, history: FrameHistory, models: list[ModelInfo]) -> None:
        shown = history.shown
        if shown < 0 or shown >= len(models):
            if self.shown != shown and self.image is not None:
                self.image.clear()
            self.shown = shown
            return
        self.set_layers(models[shown]["layer_sizes"])
        image = self.image
        if image is None:  # a model without layers: nothing to draw
            return
        if shown != self.shown:
            image.clear()
            self.seen = history.frames_seen - history.length
        self.shown = shown
        new = min(history.frames_seen - self.seen, history.length)
        self.seen = history.frames_seen
        if new <= 0:
            return
        neurons = min(sum(self.layer_sizes), history.fired_packed.shape[1] * 8)
        fired = history.fired_hops(new, neurons)
        rows = image.rows
        if rows * self.group != neurons:
            fired = np.pad(fired, ((0, 0), (0, rows * self.group - neurons)))
        counts = fired.reshape(new, rows, self.group).sum(axis=2, dtype=np.uint16)
        image.push((counts.T * 255 // self.group).astype(np.uint8))
        self.repaint_data()
        self.spikes_drawn = int(fired[-1].sum())
        self.updates += 1
