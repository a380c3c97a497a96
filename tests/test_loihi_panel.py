"""The Loihi 2 report panel on its own, offscreen: live and library models side by side, the hardware
status, the cited figures, the export and its refusals. (tests/test_gui.py shows it inside the window.)"""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from app.panels.loihi_panel import LoihiPanel  # noqa: E402
from engine.files.netx import load_model, save_netx  # noqa: E402
from engine.loihi.hardware import loihi2_hardware  # noqa: E402
from engine.snn.model import DenseLayer, SDNNModel  # noqa: E402
from tests.reference_models import reference_path  # noqa: E402

NETS = ("ndns_baseline", "spandex_prune50", "spandex_prune75")


def layerwise_pruned(model: SDNNModel, sparsity: float, name: str) -> SDNNModel:
    """Each layer's smallest-magnitude weights zeroed (all of them for ``sparsity`` 1: pruned away)."""
    layers = []
    for layer in model.layers:
        magnitude = np.abs(layer.weight_mant)
        keep = magnitude > np.quantile(magnitude, sparsity) if sparsity < 1 else np.zeros_like(magnitude, bool)
        layers.append(DenseLayer(np.where(keep, layer.weight_mant, 0), layer.threshold_mant, layer.delays,
                                 layer.sigma_output))
    return SDNNModel(model.encoder, tuple(layers), name=name)


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    """The panel with the three reference nets "loaded" and a user library holding a 90% net and a net
    whose layers were pruned away entirely."""
    library = tmp_path / "library"
    library.mkdir()
    baseline = load_model(reference_path("ndns_baseline.net"))
    save_netx(layerwise_pruned(baseline, 0.9, "baseline-90"), library / "baseline-90.net")
    save_netx(layerwise_pruned(baseline, 1.0, "pruned-away"), library / "pruned-away.net")
    monkeypatch.setenv("SPANDEX_MODELS_DIR", str(library))
    panel = LoihiPanel()
    qtbot.addWidget(panel)
    panel.resize(520, 900)
    panel.show()
    qtbot.waitExposed(panel)
    models = [{"name": name, "source": str(reference_path(f"{name}.net"))} for name in NETS]
    panel.set_models(models, playing=2)
    yield panel
    panel.shutdown()
    panel.close()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
    QtWidgets.QApplication.processEvents()
    gc.collect()


def cell(table: QtWidgets.QTableWidget, row: int, column: int | str) -> str:
    """The text in ``row`` under ``column`` (its index, or the start of its header's first line)."""
    if isinstance(column, str):
        headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
        column = next(c for c, header in enumerate(headers) if header.startswith(column))
    return table.item(row, column).text()


def test_models_side_by_side_show_what_pruning_saves(panel, artifacts_dir) -> None:
    table = panel.models_table
    names = [cell(table, r, 1) for r in range(table.rowCount())]
    assert names[:3] == list(NETS) and {"spandex-dense", "baseline-90", "pruned-away"} <= set(names)
    assert [cell(table, r, 2) for r in range(3)] == ["slot 1", "slot 2", "slot 3"]
    rows = {row.name: row for row in panel.rows}
    # the reference nets as `spandex loihi-report` gives them (README): dense storage does not shrink,
    # sparse storage and cores do
    sparse = [rows[n].report.sparse_bytes for n in (*NETS, "baseline-90")]
    assert sparse == sorted(sparse, reverse=True)
    assert len({rows[n].report.dense_bytes for n in NETS[1:]}) == 1
    assert [rows[n].report.cores_sparse for n in NETS] == [7, 7, 6]
    assert cell(table, 2, "weights") == "79.5%" and cell(table, 2, "cores").endswith("→ 6")
    heights = panel.bars.sparse.opts["height"]
    assert len(heights) == table.rowCount() and heights[0] > heights[2] > 0
    # the live model playing is selected: per layer, with the export's notes
    assert panel.selected.name == "spandex_prune75"
    assert panel.layers_table.rowCount() == 4
    assert cell(panel.layers_table, 2, 0).startswith("dense 2") and cell(panel.layers_table, 2, "max") == "62"
    assert "1,538 neurons" in panel.title.text() and "of 128" in panel.title.text()
    assert "delays above 62" in panel.notes_label.text()
    # honest about the hardware and about where the figures come from
    assert loihi2_hardware().reason in panel.hardware_label.text()
    figures = panel.figures_label.text()
    assert "8,192" in figures and "192 KB" in figures and "Taking Neuromorphic Computing" in figures
    assert "Orchard" in figures and "off by half" in figures
    # a model that cannot run on Loihi says why instead of showing numbers
    away = names.index("pruned-away")
    assert cell(table, away, "weights") == "refused" and "no nonzero weight" in table.item(away, 1).toolTip()
    table.selectRow(away)
    assert "no nonzero weight" in panel.notes_label.text() and panel.layers_table.rowCount() == 0
    (artifacts_dir / "gui").mkdir(exist_ok=True)
    table.selectRow(2)
    panel.grab().save(str(artifacts_dir / "gui" / "loihi_panel.png"))


def test_compare_a_file_adds_a_row(panel) -> None:
    before = panel.models_table.rowCount()
    panel.compare_file(reference_path("ndns_baseline_nodelay.net"))
    assert panel.models_table.rowCount() == before + 1
    assert panel.selected.origin == "file" and panel.selected.report.layers[2].max_delay == 0
    panel.compare_file(reference_path("ndns_baseline.net"))  # already there (slot 1): no second row
    assert panel.models_table.rowCount() == before + 1 and panel.selected.origin == "slot 1"


@pytest.mark.slow
def test_export_writes_a_checked_file_and_shows_refusals(panel, qtbot, tmp_path) -> None:
    rows = [row.name for row in panel.rows]
    target = tmp_path / "prune75-loihi.net"
    panel.export(panel.rows[rows.index("spandex_prune75")], target)
    assert not panel.export_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.exporting, timeout=120_000)
    text = panel.export_label.text()
    assert "Exported spandex_prune75" in text and "checked" in text and "delays above 62" in text
    assert "with prune75-loihi.json, LICENSE-spandex.md beside it" in text
    assert target.is_file() and target.with_suffix(".json").is_file() and (tmp_path / "LICENSE-spandex.md").is_file()
    panel.export(panel.rows[rows.index("pruned-away")], tmp_path / "away.net")
    qtbot.waitUntil(lambda: not panel.exporting, timeout=60_000)
    assert "Export refused" in panel.export_label.text() and "no nonzero weight" in panel.export_label.text()
    assert not (tmp_path / "away.net").exists()
    own = tmp_path / "own.net"
    own.write_bytes(reference_path("spandex_prune50.net").read_bytes())
    panel.compare_file(own)
    panel.export(panel.selected, own)  # over the model's own file
    qtbot.waitUntil(lambda: not panel.exporting, timeout=60_000)
    assert "Export refused" in panel.export_label.text() and "would replace own.net (or its card), which it is exported from" in panel.export_label.text()
    assert panel.export_button.isEnabled()


def test_a_pytorch_file_gets_a_reason_not_a_torch_import_on_the_gui_thread(tmp_path):
    import subprocess
    import sys

    (tmp_path / "trial.pt").write_bytes(b"not read")
    code = ("import sys\nfrom pathlib import Path\nfrom app.panels.loihi_panel import model_row\n"
            f"row = model_row('trial', 'file', Path({str(tmp_path / 'trial.pt')!r}))\n"
            "print(row.report is None, row.problem)\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).stdout.splitlines()
    assert out == ["True a PyTorch file: the estimate reads netx files; export it first (spandex export trial.pt "
                   "OUT.net)", "False"]
    from app.panels.loihi_panel import model_row

    row = model_row("trial", "slot 2", tmp_path / "trial.pt")
    assert LoihiPanel._cells(1, row)[:4] == ("2", "trial", "slot 2", "not read")  # (not "refused": Loihi did not)
