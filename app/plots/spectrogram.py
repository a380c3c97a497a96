"""A scrolling spectrogram (time →, frequency ↑) of the input or the output, in dB."""

from __future__ import annotations

import pyqtgraph as pg

from app.plots.column_image import ScrollingImage, colour_indexes
from app.plots.frame_history import HISTORY_HOPS, FrameHistory
from app.plots.live_plot import LivePlot
from engine.constants import HOP, N_BINS, SAMPLE_RATE

LEVELS_DB = (-30.0, 40.0)
"""Colour range: |rfft| of a 512-sample frame; speech at -25 dBFS peaks around +30 dB."""


class SpectrogramView(LivePlot):
    """``which`` is "in_db" or "out_db" of :class:`FrameHistory`. Each refresh colours only the hops that
    arrived since the last one (all of them after a pause, e.g. while the view was hidden)."""

    def __init__(self, which: str, title: str, parent=None, length: int = HISTORY_HOPS) -> None:
        super().__init__(title=title, parent=parent)
        self.which = which
        self.image = ScrollingImage(N_BINS, length,
                                    pg.colormap.get("inferno").getLookupTable(nPts=256, alpha=False))
        self.addItem(self.image)
        self.setLabel("left", "kHz")
        self.getAxis("bottom").setStyle(showValues=False)
        seconds = length * HOP / SAMPLE_RATE
        self.image.setRect(-seconds, 0.0, seconds, SAMPLE_RATE / 2000)
        self.setRange(xRange=(-seconds, 0.0), yRange=(0.0, SAMPLE_RATE / 2000), padding=0)
        self.seen = 0  # history.frames_seen at the last refresh
        self.updates = 0

    def refresh(self, history: FrameHistory, models=None) -> None:
        new = min(history.frames_seen - self.seen, history.length)
        self.seen = history.frames_seen
        if new <= 0:
            return
        spectra = getattr(history, self.which)[-new:]  # (hops, bins), oldest first
        self.image.push(colour_indexes(spectra.T, *LEVELS_DB))  # frequency up the screen
        self.repaint_data()
        self.updates += 1
