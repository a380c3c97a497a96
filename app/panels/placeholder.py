"""A tab for a tool that is not built yet: says so, and does nothing else."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class NotBuiltPanel(QtWidgets.QWidget):
    def __init__(self, title: str, text: str, parent=None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        label = QtWidgets.QLabel(f"<h3>{title}</h3><p>Not built yet.</p><p>{text}</p>")
        label.setWordWrap(True)
        label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        layout.addWidget(label)
