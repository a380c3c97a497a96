"""Noise injection controls: which noise is mixed into the microphone, and at what SNR."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from engine.live.noise import NOISE_KINDS

LABELS = {"white": "white", "pink": "pink", "fan": "fan", "babble": "babble", "cafe": "café",
          "keyboard": "keyboard"}
DEFAULT_SNR_DB = 5


class NoisePanel(QtWidgets.QWidget):
    """Emits ``noise_changed(kind or "", snr_db)``; "" means no noise."""

    noise_changed = QtCore.Signal(str, float)
    demo_requested = QtCore.Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QFormLayout(self)
        self.kind = QtWidgets.QComboBox()
        self.kind.addItem("off", "")
        for kind in NOISE_KINDS:
            self.kind.addItem(LABELS[kind], kind)
        self.snr = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.snr.setRange(-5, 20)
        self.snr.setValue(DEFAULT_SNR_DB)
        self.snr_label = QtWidgets.QLabel()
        layout.addRow("Inject noise", self.kind)
        layout.addRow("SNR", self.snr)
        layout.addRow("", self.snr_label)
        note = QtWidgets.QLabel("The noise is mixed into the input before the denoiser, at the chosen SNR "
                                "below the tracked speech level, so denoising is audible in a quiet room.")
        note.setWordWrap(True)
        layout.addRow(note)
        demo = QtWidgets.QPushButton("Conference demo mode (D)")
        demo.clicked.connect(self.demo_requested)
        layout.addRow(demo)
        self.kind.currentIndexChanged.connect(self._emit)
        self.snr.valueChanged.connect(self._emit)
        self._show_snr()

    @property
    def current(self) -> tuple[str, float]:
        return self.kind.currentData(), float(self.snr.value())

    def describe(self) -> str:
        kind, snr = self.current
        return "no noise added" if not kind else f"{LABELS[kind]} noise at {snr:.0f} dB SNR"

    def next_kind(self) -> None:
        self.kind.setCurrentIndex((self.kind.currentIndex() + 1) % self.kind.count())

    def step_snr(self, delta: int) -> None:
        self.snr.setValue(self.snr.value() + delta)

    def reset(self) -> None:
        self.kind.setCurrentIndex(0)
        self.snr.setValue(DEFAULT_SNR_DB)

    def _show_snr(self) -> None:
        self.snr_label.setText(f"{self.snr.value()} dB")

    def _emit(self) -> None:
        self._show_snr()
        self.noise_changed.emit(*self.current)
