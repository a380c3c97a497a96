"""Conference demo mode: full screen, big numbers, big before/after spectrograms, one-key controls."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.plots.frame_history import FrameHistory
from app.plots.spectrogram import SpectrogramView
from engine.live.protocol import ModelInfo

KEYS = "A / B / Space: switch model   0: bypass   N: next noise   ↑ ↓: SNR   R: reset   Esc: leave demo"


def big_label(scale: float) -> QtWidgets.QLabel:
    """A bold centred label whose font grows with the window (``scale`` × width / 1000 px)."""
    label = QtWidgets.QLabel("—")
    label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setProperty("scale", scale)
    return label


class DemoView(QtWidgets.QWidget):
    """What the audience sees. :meth:`refresh` takes the same history and summaries as the normal view."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        self.playing = big_label(30)
        layout.addWidget(self.playing)
        numbers = QtWidgets.QHBoxLayout()
        self.synops = big_label(22)
        self.mops = big_label(22)
        self.noise = big_label(18)
        for label in (self.synops, self.mops, self.noise):
            numbers.addWidget(label, 1)
        layout.addLayout(numbers)
        plots = QtWidgets.QHBoxLayout()
        self.input_view = SpectrogramView("in_db", "What the microphone hears")
        self.output_view = SpectrogramView("out_db", "What the spiking network lets through")
        plots.addWidget(self.input_view)
        plots.addWidget(self.output_view)
        layout.addLayout(plots, 1)
        keys = QtWidgets.QLabel(KEYS)
        keys.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        keys.setWordWrap(True)
        keys.setStyleSheet("font-size: 18px; color: gray;")
        layout.addWidget(keys)

    def resizeEvent(self, event) -> None:
        for label in (self.playing, self.synops, self.mops, self.noise):
            size = max(12, int(label.property("scale") * self.width() / 1000))
            label.setStyleSheet(f"font-size: {size}px; font-weight: 600;")
            label.setMinimumHeight(int(size * (1.6 if label is self.playing else 3.8)))
        super().resizeEvent(event)

    def refresh(self, history: FrameHistory, models: list[ModelInfo], summaries: list[dict], a: int,
                noise_text: str, blind: bool) -> None:
        self.input_view.refresh(history)
        self.output_view.refresh(history)
        playing = history.playing
        self.noise.setText(noise_text)
        if blind:
            self.playing.setText("▶ blind ABX test running")
            self.synops.setText("")
            self.mops.setText("")
            return
        if playing < 0 or playing >= len(models):
            self.playing.setText("▶ bypass: the raw microphone")
            self.synops.setText("")
            self.mops.setText("")
            return
        info, s = models[playing], summaries[playing]
        self.playing.setText(f"▶ {info['name']}  ·  {info['weight_sparsity']:.0%} of weights are zero")
        saving = ""
        if 0 <= a < len(summaries) and a != playing and summaries[a]["synops"] > 0:
            saving = f"\n{1 - s['synops'] / summaries[a]['synops']:.0%} fewer than {models[a]['name']}"
        self.synops.setText(f"{s['synops'] * 125 / 1e6:.2f} M SynOps/s{saving}")
        self.mops.setText(f"{s['mops']:.2f} M-Ops/s\npower proxy")
