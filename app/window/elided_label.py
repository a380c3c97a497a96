"""A one-line label that fits any width: too long a text is cut after a whole word with "…" and told whole in
the tooltip — the status bar's lines, which must not push each other off or overlap."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

ELLIPSIS = "…"


def elide_at_word(text: str, metrics: QtGui.QFontMetrics, width: int) -> str:
    """``text`` if it fits ``width`` pixels, else its longest start that ends at a word and fits with "…"
    (cut inside a word only when not even the first word fits)."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    cut = metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, width)  # Qt cuts anywhere, with "…"
    body = cut[:-1] if cut.endswith(ELLIPSIS) else cut
    if text[len(body):len(body) + 1] != " " and " " in body.strip():  # inside a word: back to the last whole one
        body = body.rstrip().rsplit(" ", 1)[0]
    body = body.rstrip(" ,.;:—·-")
    return body + ELLIPSIS if body else cut


class ElidedLabel(QtWidgets.QLabel):
    """Plain text on one line. :meth:`text` stays the whole text; :meth:`elided_text` is what is painted."""

    def __init__(self, text: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self._shown = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        if text != self.text():
            super().setText(text)
            self._elide()

    def elided_text(self) -> str:
        return self._shown

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        return QtCore.QSize(self.fontMetrics().horizontalAdvance(ELLIPSIS * 4), hint.height())

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self._shown = elide_at_word(self.text(), self.fontMetrics(), self.contentsRect().width())
        self.setToolTip(self.text() if self._shown != self.text() else "")
        self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802
        painter = QtGui.QPainter(self)
        self.style().drawItemText(painter, self.contentsRect(), int(self.alignment()), self.palette(),
                                  self.isEnabled(), self._shown, self.foregroundRole())
