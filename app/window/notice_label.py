"""The red notice above the plots: errors and missing devices, kept until they change or the user clicks them away."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

DISMISS_TIP = "Click to dismiss"


class NoticeLabel(QtWidgets.QLabel):
    """A word-wrapped red label, hidden while empty; a click on it emits :attr:`dismissed`."""

    dismissed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet("background: #6b1d1d; color: white; padding: 6px;")
        self.setToolTip(DISMISS_TIP)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.hide()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.dismissed.emit()
        super().mousePressEvent(event)
