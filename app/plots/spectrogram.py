"""A scrolling spectrogram (time →, frequency ↑) of the input or the output, in dB."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from app.plots.frame_history import FrameHistory
from engine.constants import HOP, SAMPLE_RATE

LEVELS_DB = (-30.0, 40.0)
"""Colour range: |rfft| of a 512-sample frame; speech at -25 dBFS peaks around +30 dB."""


class SpectrogramView(pg.PlotWidget):
    """``which`` is "in_db" or "out_db" of :class:`FrameHistory`."""

    def __init__(self, which: str, title: str, parent=None) -> None:
        super().__init__(parent=parent, title=title)
        self.which = which
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.addItem(self.image)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setLabel("left", "kHz")
        self.getAxis("bottom").setStyle(showValues=False)
        self.updates = 0

    def refresh(self, history: FrameHistory, models=None) -> None:
        data = getattr(history, self.which).T  # (bins, time): frequency up the screen
        self.image.setImage(np.ascontiguousarray(data), levels=LEVELS_DB, autoLevels=False)
        seconds = history.length * HOP / SAMPLE_RATE
        self.image.setRect(-seconds, 0.0, seconds, SAMPLE_RATE / 2000)
        self.updates += 1
