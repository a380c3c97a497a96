"""A scrolling image that colours only its new columns: the spectrograms' and the raster's drawing.

Friture's way: a time-scrolling image changes by a few columns per frame, so only those are coloured,
and nothing is copied to scroll. :class:`ScrollingImage` is a pyqtgraph item over a ring of 32-bit
pixels in Qt's native ``RGB32`` layout (rows × columns); :meth:`ScrollingImage.push` colours the new
columns (a 256-entry lookup) at the ring's head, and painting draws the ring in two pieces — from the
head to the end on the left, from the start to the head on the right. Qt draws ``RGB32`` without the
per-pixel format conversion pyqtgraph's ``ImageItem`` needs for indexed or float images (which cost a
third of the main view's GUI time, py-spy; bench/gui.py has the result).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui


def colour_indexes(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` scaled from [low, high] to colour indexes 0..255 (clipped)."""
    scaled = (np.asarray(values, dtype=np.float32) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0.0, 255.0, out=scaled).astype(np.uint8)


def rgb32_table(lut: np.ndarray) -> np.ndarray:
    """A (256, 3) uint8 colour table as Qt ``RGB32`` pixels (0xffRRGGBB)."""
    lut = np.asarray(lut, dtype=np.uint32)
    return (0xFF000000 | (lut[:, 0] << 16) | (lut[:, 1] << 8) | lut[:, 2]).astype(np.uint32)


class ScrollingImage(pg.GraphicsObject):
    """``rows`` × ``length`` pixels, newest column on the right; place it with :meth:`setRect`."""

    def __init__(self, rows: int, length: int, lut: np.ndarray) -> None:
        super().__init__()
        self.table = rgb32_table(lut)
        self.ring = np.full((rows, length), self.table[0], dtype=np.uint32)
        self.head = 0  # the ring's column written next
        self.image = QtGui.QImage(self.ring.data, length, rows, length * 4, QtGui.QImage.Format.Format_RGB32)

    @property
    def rows(self) -> int:
        return self.ring.shape[0]

    @property
    def length(self) -> int:
        return self.ring.shape[1]

    def setRect(self, x: float, y: float, width: float, height: float) -> None:
        """Show the image in the data rectangle (x, y, width, height)."""
        transform = QtGui.QTransform()
        transform.translate(x, y)
        transform.scale(width / self.length, height / self.rows)
        self.setTransform(transform)

    def clear(self) -> None:
        self.ring[:] = self.table[0]
        self.head = 0
        self.update()

    def push(self, indexes: np.ndarray) -> None:
        """Append columns of colour indexes (rows × n, oldest first). This does not repaint: the plot repaints
        its data area once per frame (:meth:`app.plots.live_plot.LivePlot.repaint_data`)."""
        indexes = indexes[:, -self.length:]
        n = indexes.shape[1]
        first = min(n, self.length - self.head)
        self.ring[:, self.head:self.head + first] = self.table[indexes[:, :first]]
        self.ring[:, :n - first] = self.table[indexes[:, first:]]
        self.head = (self.head + n) % self.length

    def boundingRect(self) -> QtCore.QRectF:
        return QtCore.QRectF(0.0, 0.0, float(self.length), float(self.rows))

    def paint(self, painter: QtGui.QPainter, *args) -> None:
        older = self.length - self.head  # columns from the head to the end: the oldest, drawn first
        rows = float(self.rows)
        if older:
            painter.drawImage(QtCore.QRectF(0.0, 0.0, older, rows), self.image,
                              QtCore.QRectF(self.head, 0.0, older, rows))
        if self.head:
            painter.drawImage(QtCore.QRectF(older, 0.0, self.head, rows), self.image,
                              QtCore.QRectF(0.0, 0.0, self.head, rows))
