"""The settings of a prune / fine-tune run as a form: the model to start from, the GMP schedule, activity
regularisation, the data. It builds the run's :class:`TrainConfig` through :mod:`engine.training.recipes`
(the same recipe as ``spandex prune`` / ``finetune``) and says clearly what is wrong with bad input."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6 import QtCore, QtWidgets

from app.remembered import remembered
from engine.errors import SpandexError
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES
from engine.library.catalog import ModelEntry, resolve_model
from engine.snn.model import SDNNModel
from engine.training.config import PruningConfig, RegularizerConfig, TrainConfig, field_range
from engine.training.dataset_layout import dataset_summary
from engine.training.recipes import check_plan, fine_tune_config, fine_tune_defaults

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "build" / "data" / "debian"
DATASET_KEY = "prune/dataset"
TRAIN_THREADS = max(1, (os.cpu_count() or 2) - 1)
"""Torch threads of a run started in the app: one core stays with the audio engine and the GUI."""
STARTING_MODEL = "<the starting model>"
"""The teacher choice that means: whatever model the run starts from."""


def _int_spin(low: float, high: float, value: int, suffix: str = "", special: str = "") -> QtWidgets.QSpinBox:
    """A whole-number box (an int field's schema bounds are ints)."""
    box = QtWidgets.QSpinBox()
    box.setRange(int(low), int(high))
    box.setValue(value)
    return _set_up(box, suffix, special)


def _float_spin(low: float, high: float, value: float, decimals: int, suffix: str = "",
                special: str = "") -> QtWidgets.QDoubleSpinBox:
    box = QtWidgets.QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setValue(value)
    return _set_up(box, suffix, special)


_Box = TypeVar("_Box", QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)


def _set_up(box: _Box, suffix: str, special: str) -> _Box:
    box.setSuffix(suffix)
    box.setSpecialValueText(special)  # shown at the minimum
    box.setKeyboardTracking(False)
    return box


def _bounds(cls, name: str) -> tuple[float, float]:
    """The schema's range of a numeric field of ``cls`` (config.py); a spin box needs both ends."""
    low, high = field_range(cls, name)
    if low is None or high is None:
        raise ValueError(f"{cls.__name__}.{name} has no bounded range for a spin box")
    return low, high


class PruneForm(QtWidgets.QWidget):
    """Emits ``changed()`` when a setting changes; :meth:`build` turns the settings into a run.

    ``name_problem(config)`` says why a run may not take ``config.name`` (None: it may).
    """

    changed = QtCore.Signal()

    def __init__(self, name_problem: Callable[[TrainConfig], str | None], settings: QtCore.QSettings | None = None,
                 parent=None) -> None:
        super().__init__(parent)
        self.name_problem = name_problem
        self.settings = settings
        self.models: dict[str, SDNNModel] = {}  # spec → the model it loaded
        self.files: list[str] = []  # model files offered besides the library
        self.dataset_problem: str | None = None
        recipe = fine_tune_defaults("", None)
        self.model = QtWidgets.QComboBox()
        self.model.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.open_button = QtWidgets.QPushButton("Open…")
        self.open_button.clicked.connect(self.open_model_dialog)
        self.model_info = QtWidgets.QLabel()
        self.sparsity = _float_spin(0, 99, 75, 1, " %", "off (fine-tune only)")
        self.prunes = _int_spin(*_bounds(PruningConfig, "n_prunes"), 10)  # ranges: the schema's (config.py)
        self.frequency = _int_spin(*_bounds(PruningConfig, "frequency"), 10)
        self.steps = _int_spin(*_bounds(TrainConfig, "steps"), recipe["steps"])
        self.eval_every = _int_spin(*_bounds(TrainConfig, "eval_every"), recipe["eval_every"])
        self.batch = _int_spin(*_bounds(TrainConfig, "batch_size"), recipe["batch_size"])
        self.segment = _float_spin(*_bounds(TrainConfig, "segment_seconds"), recipe["segment_seconds"], 1, " s")
        self.reg_weight = _float_spin(*_bounds(RegularizerConfig, "weight"), 0.0, 3, "", "off")
        self.reg_kind = QtWidgets.QComboBox()
        self.reg_kind.addItem("L_p: mean |x|^p", "lp")
        self.reg_kind.addItem("Hoyer-square", "hoyer")
        self.p = _float_spin(0.01, 1.0, 1.0, 2)
        self.thresholds = QtWidgets.QCheckBox("learn the delta thresholds too")
        self.teacher = QtWidgets.QComboBox()
        self.teacher.setToolTip("Distillation: each batch also goes through the teacher, left as it is, and the run "
                                "learns to match its denoised output as well as the clean speech (half each). A "
                                "pruned model keeps more of its dense parent's behaviour on unseen audio; steps take "
                                "about a third longer.")
        self._fill_teachers()
        self.dataset = QtWidgets.QLineEdit(self._remembered_dataset())
        self.browse_button = QtWidgets.QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse_dataset)
        self.dataset_info = QtWidgets.QLabel()
        self.name = QtWidgets.QLineEdit()
        self.name.setPlaceholderText("automatic")
        for label in (self.model_info, self.dataset_info):
            label.setWordWrap(True)
        self._lay_out()
        for box in (self.sparsity, self.prunes, self.frequency, self.steps, self.eval_every, self.batch,
                    self.segment, self.reg_weight, self.p):
            box.valueChanged.connect(self._changed)
        self.reg_kind.currentIndexChanged.connect(self._changed)
        self.thresholds.toggled.connect(self._changed)
        self.teacher.currentIndexChanged.connect(self._changed)
        self.model.currentIndexChanged.connect(self._changed)
        self.dataset.editingFinished.connect(self.check_dataset)
        self.dataset.editingFinished.connect(self._changed)
        self.name.editingFinished.connect(self._changed)
        self._changed()
        self.check_dataset()

    def _lay_out(self) -> None:
        def row(*widgets: QtWidgets.QWidget) -> QtWidgets.QWidget:
            box = QtWidgets.QWidget()
            layout = QtWidgets.QHBoxLayout(box)
            layout.setContentsMargins(0, 0, 0, 0)
            for widget in widgets:
                layout.addWidget(widget, 1 if isinstance(widget, (QtWidgets.QComboBox, QtWidgets.QLineEdit)) else 0)
            return box

        form = QtWidgets.QFormLayout(self)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", row(self.model, self.open_button))
        form.addRow("", self.model_info)
        form.addRow("Target sparsity s_f", self.sparsity)
        form.addRow("Prunes n, every Δt steps", row(self.prunes, self.frequency))
        form.addRow("Total steps", self.steps)
        form.addRow("Validate every", self.eval_every)
        form.addRow("Batch × segment", row(self.batch, self.segment))
        form.addRow("Activity reg. λ", self.reg_weight)
        form.addRow("ψ, p", row(self.reg_kind, self.p))
        form.addRow("Thresholds", self.thresholds)
        form.addRow("Teacher (distillation)", self.teacher)
        form.addRow("Dataset", row(self.dataset, self.browse_button))
        form.addRow("", self.dataset_info)
        form.addRow("Result name", self.name)

    # --- models ----------------------------------------------------------------------------------

    def set_library(self, entries: list[ModelEntry]) -> None:
        """Offer the library's models (by name) and the files opened, keeping the current choice."""
        current = self.model.currentData()
        self.model.blockSignals(True)
        self.model.clear()
        for entry in entries:
            self.model.addItem(f"{entry.name} ({entry.origin})", entry.name)
        for path in self.files:
            self.model.addItem(Path(path).name, path)
            self.model.setItemData(self.model.count() - 1, path, QtCore.Qt.ItemDataRole.ToolTipRole)
        index = self.model.findData(current)
        self.model.setCurrentIndex(index if index >= 0 else 0)
        self.model.blockSignals(False)
        self._fill_teachers()
        if self.model.currentData() != current:
            self._changed()

    def add_model_file(self, path: str, select: bool = False) -> None:
        """Offer a model file (one opened from disk, or loaded in the A/B slots)."""
        index = self.model.findData(path)
        if index < 0:
            self.files.append(path)
            self.model.addItem(Path(path).name, path)
            index = self.model.count() - 1
            self.model.setItemData(index, path, QtCore.Qt.ItemDataRole.ToolTipRole)
            self._fill_teachers()
        if select:
            self.model.setCurrentIndex(index)

    def _fill_teachers(self) -> None:
        """Offer as teacher: none, the starting model, and every model offered as a start; keep the choice."""
        current = self.teacher.currentData()
        self.teacher.blockSignals(True)
        self.teacher.clear()
        self.teacher.addItem("none: the clean speech only", "")
        self.teacher.addItem("the starting model, as it was", STARTING_MODEL)
        for index in range(self.model.count()):
            self.teacher.addItem(self.model.itemText(index), self.model.itemData(index))
        found = self.teacher.findData(current) if current is not None else -1
        self.teacher.setCurrentIndex(max(found, 0))
        self.teacher.blockSignals(False)

    def open_model_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in NETX_SUFFIXES + TORCH_SUFFIXES)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Model to prune or fine-tune", "",
                                                        f"SDNN models ({patterns})")
        if path:
            self.add_model_file(path, select=True)

    def current_model(self) -> SDNNModel:
        """The chosen model, loaded (once); raises :class:`SpandexError` saying why it cannot be used."""
        spec = self.model.currentData()
        if not spec:
            raise SpandexError("choose a model to start from (or open a netx/.pt file)")
        if spec not in self.models:
            try:
                self.models[spec] = resolve_model(spec)
            except SpandexError:
                raise
            except Exception as exc:  # noqa: BLE001 — a broken file is bad input, not a crash
                raise SpandexError(f"{spec} could not be read: {type(exc).__name__}: {exc}") from None
        return self.models[spec]

    # --- the dataset -----------------------------------------------------------------------------

    def _remembered_dataset(self) -> str:
        dataset = remembered(self.settings, DATASET_KEY, str, "")
        return dataset or (str(DEFAULT_DATASET) if DEFAULT_DATASET.is_dir() else "")

    def browse_dataset(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Dataset folder (training_set/, validation_set/)",
                                                            self.dataset.text())
        if folder:
            self.dataset.setText(folder)
            self.check_dataset()

    def check_dataset(self) -> str | None:
        """Look at the dataset folder (no audio read) and show what it holds; return what is wrong, if anything."""
        folder = self.dataset.text().strip()
        try:
            if not folder:
                raise SpandexError("choose a dataset folder (build one with `spandex data build`)")
            summary = dataset_summary(folder)
        except SpandexError as exc:
            self.dataset_problem = str(exc)
            self.dataset_info.setText(f"<span style='color:#e06060'>{exc}</span>")
            return self.dataset_problem
        self.dataset_problem = None
        train = ("training mixed afresh at every step" if summary["train_pairs"] is None
                 else f"{summary['train_pairs']} training pairs")
        self.dataset_info.setText(f"{train}, {summary['validation_pairs']} validation pairs")
        return None

    # --- the run ---------------------------------------------------------------------------------

    def _config(self, model: SDNNModel) -> TrainConfig:
        sparsity = self.sparsity.value() / 100
        pruning = None if sparsity == 0 else PruningConfig(final_sparsity=sparsity, frequency=self.frequency.value(),
                                                           n_prunes=self.prunes.value())
        settings: dict[str, Any] = {"dataset": self.dataset.text().strip(), "steps": self.steps.value(),
                    "eval_every": self.eval_every.value(), "batch_size": self.batch.value(),
                    "segment_seconds": self.segment.value(), "train_thresholds": self.thresholds.isChecked(),
                    "log_every": 1, "threads": TRAIN_THREADS}
        teacher = self.teacher.currentData()
        if teacher == STARTING_MODEL:
            teacher = self.model.currentData()
        if teacher:
            settings["teacher"] = teacher
        if self.reg_weight.value() > 0:
            settings["regularizer"] = RegularizerConfig(self.reg_weight.value(), self.reg_kind.currentData(),
                                                        self.p.value())
        typed = self.name.text().strip()
        if typed:
            settings["name"] = typed
        config = fine_tune_config(self.model.currentData(), model.name, pruning, **settings)
        if not typed:  # an automatic name steps aside: name-2, name-3, ...
            stem, number = config.name, 2
            while self.name_problem(config):
                config = config.replace(name=f"{stem}-{number}")
                number += 1
        return config

    def draft(self) -> tuple[TrainConfig, SDNNModel] | None:
        """The run the settings describe, unchecked against the dataset; None if the model or a setting is bad
        (the form shows a bad model)."""
        try:
            model = self.current_model()
            return self._config(model), model
        except SpandexError:
            return None

    def build(self) -> tuple[TrainConfig, SDNNModel]:
        """The run these settings ask for and its starting model; raises :class:`SpandexError` saying what is
        wrong (model, dataset, name, schedule)."""
        model = self.current_model()
        problem = self.check_dataset()
        if problem:
            raise SpandexError(f"dataset: {problem}")
        config = self._config(model)
        problem = self.name_problem(config)
        if problem:
            raise SpandexError(problem)
        check_plan(config, model)
        if self.settings is not None:
            self.settings.setValue(DATASET_KEY, config.dataset)
        return config, model

    def _changed(self) -> None:
        try:
            model = self.current_model()
            self.model_info.setText(f"{model.name}: {model.weight_sparsity:.1%} of {model.n_synapses:,} weights "
                                    f"are zero")
        except SpandexError as exc:
            self.model_info.setText(f"<span style='color:#e06060'>{exc}</span>")
        self.p.setEnabled(self.reg_kind.currentData() == "lp")
        self.changed.emit()

    def set_running(self, running: bool) -> None:
        """Lock the settings while a run uses them."""
        for child in self.findChildren(QtWidgets.QWidget):
            if not isinstance(child, QtWidgets.QLabel):
                child.setEnabled(not running)
        if not running:
            self.p.setEnabled(self.reg_kind.currentData() == "lp")
