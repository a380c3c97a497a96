"""Input and output level meters (peak, dBFS): a bar painted on Qt's next repaint, never synchronously."""

from __future__ import annotations

import math

from PySide6 import QtCore, QtGui, QtWidgets

FLOOR_DB = -60.0


class LevelMeter(QtWidgets.QWidget):
    """A horizontal peak meter from -60 to 0 dBFS; it falls back at 20 dB/s.

    Painted by :meth:`paintEvent` after :meth:`update` (QProgressBar.setValue repaints at once and cost
    ~6 ms a call offscreen: measured). It paints every pixel it covers, and says so to Qt
    (``WA_OpaquePaintEvent``): otherwise the five widgets behind it were painted too, 30 times a second.
    """

    def __init__(self, label: str, parent=None) -> None:
        super().__init__(parent)
        self.label = label
        self.db = FLOOR_DB
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumHeight(16)
        self.setMaximumHeight(18)

    def show_peak(self, peak: float, elapsed_s: float) -> None:
        db = 20.0 * math.log10(peak) if peak > 0 else FLOOR_DB
        new = max(db, self.db - 20.0 * elapsed_s, FLOOR_DB)
        if abs(new - self.db) > 0.05:
            self.db = new
            self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        painter = QtGui.QPainter(self)
        rect = self.rect()
        painter.fillRect(rect, QtGui.QColor(30, 30, 36))
        fraction = (self.db - FLOOR_DB) / -FLOOR_DB
        colour = QtGui.QColor(220, 70, 60) if self.db > -3 else QtGui.QColor(60, 170, 90)
        painter.fillRect(QtCore.QRect(rect.x(), rect.y(), int(rect.width() * fraction), rect.height()), colour)
        painter.setPen(QtGui.QColor(235, 235, 235))
        text = f"{self.label} {self.db:5.1f} dBFS" if self.db > FLOOR_DB else f"{self.label}  —"
        painter.drawText(rect, QtCore.Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
