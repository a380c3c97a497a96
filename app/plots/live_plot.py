"""What every live plot shares: no mouse, no autorange, axes painted from a cache, and one repaint per frame
asked of the view directly.

Measured on the main window (three models, offscreen, 30 frames a second; bench/gui.py, and per view by
timing the views' paint events):

- An item's own ``update()`` goes through its scene, and Qt then synced the window once per scene that
  changed (4.3 backing-store syncs per frame, each with its flush, instead of one). :meth:`LivePlot.repaint_data`
  marks the data area of the view dirty directly, in the plot timer's tick, so every plot that changed is
  painted in one sync; the items that change every frame (:class:`app.plots.column_image.ScrollingImage`,
  :class:`app.plots.traces.TraceCurve`) do not call ``update()`` themselves.
- The data area borders the axes, so the axes were repainted with it on every frame (two ``QPicture``
  replays of their ticks and labels per view). They are drawn once into a pixmap
  (``DeviceCoordinateCache``) and blitted, until their range or ticks change.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtWidgets

AXES = ("left", "bottom")


class LivePlot(pg.PlotWidget):
    """A :class:`pyqtgraph.PlotWidget` for data that changes every frame; ranges are set by the subclass."""

    def __init__(self, title: str | None = None, parent=None) -> None:
        super().__init__(parent=parent, title=title)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.disableAutoRange()  # autorange re-measures every item and re-lays the axes each frame
        for name in AXES:
            self.getAxis(name).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def repaint_data(self) -> None:
        """Repaint the data area (the view box) at Qt's next paint, with every other plot that changed."""
        box = self.getViewBox().sceneBoundingRect()
        self.viewport().update(self.mapFromScene(box).boundingRect())
