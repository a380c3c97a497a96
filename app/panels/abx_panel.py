"""The blind ABX panel: play A, B or X, say whether X is A or B; the score and its chance level."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.panels.abx_session import AbxSession


class AbxPanel(QtWidgets.QWidget):
    """Emits ``play_requested(slot)`` and ``blind_changed(bool)`` (the window hides model-revealing views)."""

    play_requested = QtCore.Signal(int)
    blind_changed = QtCore.Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.session: AbxSession | None = None
        layout = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel("Blind ABX between models A and B (chosen in the A/B tab). While a test "
                                 "runs, everything that tells the models apart is hidden.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.start_button = QtWidgets.QPushButton("Start ABX test")
        self.start_button.setCheckable(True)
        layout.addWidget(self.start_button)
        play = QtWidgets.QHBoxLayout()
        self.play_a = QtWidgets.QPushButton("Play A")
        self.play_b = QtWidgets.QPushButton("Play B")
        self.play_x = QtWidgets.QPushButton("Play X")
        for button in (self.play_a, self.play_b, self.play_x):
            play.addWidget(button)
        layout.addLayout(play)
        guess = QtWidgets.QHBoxLayout()
        self.guess_a = QtWidgets.QPushButton("X is A")
        self.guess_b = QtWidgets.QPushButton("X is B")
        guess.addWidget(self.guess_a)
        guess.addWidget(self.guess_b)
        layout.addLayout(guess)
        self.score = QtWidgets.QLabel("No test running.")
        self.score.setWordWrap(True)
        layout.addWidget(self.score)
        layout.addStretch(1)
        self.play_a.clicked.connect(lambda: self.play("a"))
        self.play_b.clicked.connect(lambda: self.play("b"))
        self.play_x.clicked.connect(lambda: self.play("x"))
        self.guess_a.clicked.connect(lambda: self.guess(True))
        self.guess_b.clicked.connect(lambda: self.guess(False))
        self._enable(False)
        self.ab_source = lambda: (0, 1)

    def _enable(self, on: bool) -> None:
        for button in (self.play_a, self.play_b, self.play_x, self.guess_a, self.guess_b):
            button.setEnabled(on)

    def start(self, a: int, b: int) -> str | None:
        """Start a test between slots ``a`` and ``b``; returns an error message instead if it cannot."""
        try:
            self.session = AbxSession(a, b)
        except ValueError as exc:
            self.start_button.setChecked(False)
            return str(exc)
        self.start_button.setChecked(True)
        self.start_button.setText("Stop ABX test")
        self._enable(True)
        self.blind_changed.emit(True)
        self.play("x")
        self._show_score("Trial 1: listen to A, B and X, then say what X is.")
        return None

    def stop(self) -> None:
        if self.session is None:
            return
        self.start_button.setChecked(False)
        self.start_button.setText("Start ABX test")
        self._enable(False)
        self.blind_changed.emit(False)
        self._show_score("Test over.")
        self.session = None

    def play(self, which: str) -> None:
        if self.session is not None:
            self.play_requested.emit({"a": self.session.a, "b": self.session.b, "x": self.session.x}[which])

    def guess(self, x_is_a: bool) -> bool | None:
        if self.session is None:
            return None
        correct = self.session.guess(x_is_a)
        self._show_score(("Right." if correct else "Wrong.") + f" Trial {self.session.trials + 1}: a new X is drawn.")
        self.play("x")
        return correct

    def _show_score(self, line: str) -> None:
        s = self.session
        if s is None:
            self.score.setText(line)
            return
        self.score.setText(f"{line}<br><b>{s.correct} / {s.trials} correct</b>"
                           + (f" — p = {s.p_value:.3f} that guessing scores this well" if s.trials else ""))
