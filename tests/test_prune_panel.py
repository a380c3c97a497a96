"""The *Prune & fine-tune* panel, offscreen, with real training processes on the tiny real dataset: the live
curves, Cancel and resume, the result joining the library, the Pareto chart and the A/B slots; bad input.

The user's library and run folders go to a temporary ``XDG_DATA_HOME``. Windows and panels are torn down the
way the app does it (pyqtgraph crashes at exit otherwise).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from app.panels.prune_panel import PrunePanel  # noqa: E402
from app.plots.pareto import ParetoChart, pareto_front  # noqa: E402
from engine.files.netx import load_model  # noqa: E402
from engine.library.card import card_lines  # noqa: E402
from engine.library.catalog import SHIPPED_DIR, list_models, user_models_dir  # noqa: E402
from engine.training import events as ev  # noqa: E402
from tests.reference_models import reference_path  # noqa: E402
from tests.test_gui import close_window, open_window  # noqa: E402

STEPS = 40


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    """A private user library and run folder: $XDG_DATA_HOME/spandex/{models,runs}."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SPANDEX_MODELS_DIR", raising=False)
    return tmp_path / "data" / "spandex"


def tear_down(widget: QtWidgets.QWidget) -> None:
    widget.shutdown()
    widget.close()
    widget.deleteLater()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
    QtWidgets.QApplication.processEvents()
    gc.collect()


def choose(panel: PrunePanel, spec: str) -> None:
    index = panel.form.model.findData(spec)
    assert index >= 0, [panel.form.model.itemData(i) for i in range(panel.form.model.count())]
    panel.form.model.setCurrentIndex(index)


def fill_tiny_run(panel: PrunePanel, dataset: Path) -> None:
    """One prune (60 % at step 2), one evaluation (the last step), tiny batches."""
    form = panel.form
    form.sparsity.setValue(60)
    form.prunes.setValue(1)
    form.frequency.setValue(2)
    form.steps.setValue(STEPS)
    form.eval_every.setValue(STEPS)
    form.batch.setValue(2)
    form.segment.setValue(0.5)
    form.dataset.setText(str(dataset))
    form.dataset.editingFinished.emit()


def result_of(panel: PrunePanel):
    return panel.job.result if panel.job is not None else None


@pytest.mark.slow
def test_prune_cancel_resume_install_and_ab(qtbot, tmp_path, tiny_dataset, data_home, artifacts_dir):
    parent = str(reference_path("ndns_baseline.net"))
    window, host = open_window(qtbot, tmp_path, [str(reference_path("spandex_prune75.net")), parent],
                               output="none")
    try:
        panel = window.prune_panel
        qtbot.waitUntil(lambda: panel.form.model.findData(parent) >= 0, timeout=60_000)  # loaded: offered
        choose(panel, parent)
        fill_tiny_run(panel, tiny_dataset)
        panel.form.teacher.setCurrentIndex(1)  # the run also learns the starting model's output
        assert panel.form.teacher.currentText().startswith("the starting model")
        assert "24 training pairs, 6 validation pairs" in panel.form.dataset_info.text()
        steps, planned = panel.curves.planned.getData()  # drawn before Start
        start_sparsity = load_model(parent).weight_sparsity
        assert list(steps) == list(range(STEPS + 1))
        assert planned[0] == pytest.approx(start_sparsity)
        assert planned[1] == pytest.approx(0.6 - (0.6 - start_sparsity) / 8)  # s_f + (s_i - s_f)(1 - 1/2)³
        assert np.allclose(planned[2:], 0.6)

        qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)
        assert panel.running and not panel.form.sparsity.isEnabled()
        qtbot.waitUntil(lambda: any(isinstance(e, ev.StepReport) for e in panel.events), timeout=180_000)
        assert "ETA" in panel.progress.format()
        assert os.getpriority(os.PRIO_PROCESS, panel.job.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        qtbot.mouseClick(panel.cancel_button, QtCore.Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: result_of(panel) is not None, timeout=120_000)
        cancelled = result_of(panel)
        assert isinstance(cancelled, ev.Cancelled) and 1 <= cancelled.step < STEPS, cancelled
        run_dir = data_home / "runs" / "ndns_baseline-gmp60"
        assert Path(cancelled.checkpoint) == run_dir / "checkpoint.pt" and Path(cancelled.checkpoint).is_file()
        assert "Cancelled at step" in panel.status.text() and panel.start_button.text() == "Resume"
        assert panel.form.sparsity.isEnabled() and not (user_models_dir() / "ndns_baseline-gmp60.net").exists()

        qtbot.mouseClick(panel.start_button, QtCore.Qt.MouseButton.LeftButton)  # resumes from the checkpoint
        qtbot.waitUntil(lambda: result_of(panel) is not None, timeout=300_000)
        assert isinstance(result_of(panel), ev.Finished), result_of(panel)
        started = next(e for e in panel.events if isinstance(e, ev.Started))
        assert started.start_step == cancelled.step
        assert panel.progress.value() == STEPS and panel.progress.format().startswith("finished")

        # the curves: every step's measured sparsity (the prune at step 2 reached the plan), the parent's evaluation
        # (step 0: what the run is measured against) and the last one
        points = panel.curves.points
        assert sorted(points["sparsity"]) == sorted(points["loss"]) == list(range(1, STEPS + 1))
        assert points["sparsity"][1] == pytest.approx(start_sparsity, abs=1e-9)
        assert all(0.6 <= points["sparsity"][t] < 0.6 + 1e-5 for t in range(2, STEPS + 1))
        assert sorted(points["si_snr"]) == sorted(points["synops"]) == [0, STEPS]
        finished = result_of(panel)
        assert "against its parent's" in panel.status.text()
        assert points["si_snr"][STEPS] == finished.metrics["si_snr"]
        assert points["synops"][STEPS] == finished.metrics["synops_per_frame"] > 0

        # the library and the Pareto chart
        installed = user_models_dir() / "ndns_baseline-gmp60.net"
        assert installed.is_file() and load_model(installed).weight_sparsity >= 0.6
        card = json.loads(installed.with_suffix(".json").read_text())
        assert card["recipe"]["teacher"] == parent and card["recipe"]["teacher_weight"] is None  # its default, 0.5
        assert "distilled from ndns_baseline (50% of the loss)" in " ".join(card_lines(card))
        assert panel.pareto.plotted["ndns_baseline-gmp60"] == (card["metrics"]["power_proxy_mops"],
                                                               card["metrics"]["si_snr"])
        assert panel.form.model.findData("ndns_baseline-gmp60") >= 0  # a starting point for the next run

        # loaded at once beside its parent: A = parent, B = the new model
        def ab_ready() -> bool:
            sources = [Path(m["source"]).resolve() for m in window.controller.models]
            return installed.resolve() in sources and window.controller.pending_ab is None

        qtbot.waitUntil(ab_ready, timeout=120_000)
        sources = [Path(m["source"]).resolve() for m in window.controller.models]
        assert len(sources) == 3
        assert window.models_panel.a == sources.index(Path(parent).resolve()) == 1
        assert window.models_panel.b == sources.index(installed.resolve()) == 2
        window.tabs.setCurrentWidget(panel)
        (artifacts_dir / "gui").mkdir(exist_ok=True)
        window.grab().save(str(artifacts_dir / "gui" / "prune_panel.png"))
    finally:
        close_window(window, host)


@pytest.fixture
def panel(qtbot, data_home):
    widget = PrunePanel(data_home / "runs")
    widget.show()
    yield widget
    tear_down(widget)


def test_bad_input_is_said_in_the_panel_and_starts_nothing(panel, tmp_path, tiny_dataset):
    panel.form.add_model_file(str(reference_path("spandex_prune50.net")), select=True)
    fill_tiny_run(panel, tmp_path / "no-such-folder")
    panel.start()
    assert panel.job is None and "dataset: dataset folder" in panel.message.text()
    assert "does not exist" in panel.message.text() and panel.message.isVisible()

    fill_tiny_run(panel, tiny_dataset)
    panel.form.sparsity.setValue(50)  # the model already has 59 % zeros
    panel.start()
    assert panel.job is None and "already has 59.0% zero weights" in panel.message.text()

    panel.form.sparsity.setValue(75)
    panel.form.prunes.setValue(30)  # 30 prunes × 2 steps > 40 steps
    panel.start()
    assert panel.job is None and "last prune comes at step 60, after the run's 40 steps" in panel.message.text()

    panel.form.prunes.setValue(1)
    panel.form.name.setText("spandex-dense")  # a shipped model's name
    panel.start()
    assert panel.job is None and "'spandex-dense' is the name of a shipped model" in panel.message.text()

    broken = tmp_path / "broken.net"
    broken.write_bytes(b"not an HDF5 file")
    panel.form.add_model_file(str(broken), select=True)
    assert "not a readable netx HDF5 file" in panel.form.model_info.text()
    panel.start()
    assert panel.job is None and "broken.net" in panel.message.text()
    assert panel.curves.planned.getData()[0] is None or len(panel.curves.planned.getData()[0]) == 0


@pytest.mark.slow
def test_a_failing_run_says_why_in_the_panel(panel, tmp_path, qtbot):
    """Clips too short to train on pass the folder check; the run itself fails, and the panel says why."""
    dataset = tmp_path / "short"
    for split in ("training_set", "validation_set"):
        for kind in ("noisy", "clean"):
            (dataset / split / kind).mkdir(parents=True)
            sf.write(dataset / split / kind / "a.wav", np.zeros(200, np.float32), 16000)
    panel.form.add_model_file(str(reference_path("spandex_prune50.net")), select=True)
    fill_tiny_run(panel, dataset)
    panel.start()
    assert panel.running
    qtbot.waitUntil(lambda: result_of(panel) is not None, timeout=120_000)
    assert isinstance(result_of(panel), ev.Failed)
    assert "Training failed" in panel.message.text() and "a.wav: too short" in panel.message.text()
    assert not list(panel.runs_dir.glob("*/config.yaml"))  # it failed before its first step: no folder to block
    assert panel.start_button.isEnabled() and panel.form.sparsity.isEnabled()


def write_card(folder: Path, name: str, card: dict | str | None) -> None:
    shutil.copyfile(SHIPPED_DIR / "spandex-dense.net", folder / f"{name}.net")
    if card is not None:
        (folder / f"{name}.json").write_text(card if isinstance(card, str) else json.dumps(card))


def test_pareto_chart_plots_exactly_the_models_with_measured_numbers(qtbot, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    data = {"dataset": "build/data/debian"}
    write_card(library, "measured-a", {"data": data, "metrics": {"si_snr": 11.0, "power_proxy_mops": 8.0}})
    write_card(library, "measured-b", {"data": data, "metrics": {"si_snr": 10.0, "power_proxy_mops": 5.0}})
    write_card(library, "dominated", {"data": data, "metrics": {"si_snr": 9.0, "power_proxy_mops": 9.0}})
    write_card(library, "other-data", {"data": {"dataset": "/tmp/tiny"},
                                       "metrics": {"si_snr": 3.0, "power_proxy_mops": 7.0}})
    write_card(library, "no-card", None)
    write_card(library, "no-metrics", {"data": data})
    write_card(library, "half-measured", {"metrics": {"si_snr": 10.0, "power_proxy_mops": None}})
    write_card(library, "broken-card", "{ not json")
    chart = ParetoChart()
    try:
        chart.refresh(list_models(shipped_dir=tmp_path / "none", user_dir=library))
        assert chart.plotted == {"measured-a": (8.0, 11.0), "measured-b": (5.0, 10.0), "dominated": (9.0, 9.0),
                                 "other-data": (7.0, 3.0)}
        assert set(chart.unmeasured) == {"no-card", "no-metrics", "half-measured", "broken-card"}
        assert "unreadable model card" in chart.unmeasured["broken-card"]
        assert "Not plotted (no measured numbers)" in chart.note.text() and "no-card" in chart.note.text()
        drawn = set()  # what is really on the chart: dots and labels
        labels = set()
        for item in chart.plot.getPlotItem().items:
            if isinstance(item, QtWidgets.QGraphicsItem) and hasattr(item, "textItem"):
                labels.add(item.textItem.toPlainText())
            elif hasattr(item, "opts") and item.opts.get("symbol"):
                x, y = item.getData()
                drawn.update(zip(x.tolist(), y.tolist()))
        assert drawn == set(chart.plotted.values()) and labels == set(chart.plotted)
    finally:
        tear_down(chart)


def test_pareto_chart_groups_models_by_the_split_their_numbers_come_from(qtbot, tmp_path):
    """One dataset folder built twice is two splits: their numbers do not compare, and the chart says so."""
    library = tmp_path / "library"
    library.mkdir()
    data = {"dataset": "build/data/debian"}
    for name, audio in (("old-a", None), ("old-b", None), ("new-a", "5cac179"), ("new-b", "5cac179")):
        text = "validation split of build/data/debian (192 clips, 19.2 min" + (f", audio {audio})" if audio else ")")
        write_card(library, name, {"data": data, "metrics": {"measured_on": text, "si_snr": 10.0 + len(name) / 10,
                                                             "power_proxy_mops": 5.0 + (name[-1] == "b")}})
    write_card(library, "no-text", {"data": data, "metrics": {"si_snr": 9.0, "power_proxy_mops": 4.0}})
    # the same split with its folder typed another way (the app's Prune tab gives it absolute): the same audio
    write_card(library, "new-typed", {"data": data, "metrics": {
        "measured_on": "validation split of /home/me/spandex/build/data/debian (192 clips, 19.2 min, audio 5cac179)",
        "si_snr": 11.5, "power_proxy_mops": 7.0}})
    chart = ParetoChart()
    try:
        chart.refresh(list_models(shipped_dir=tmp_path / "none", user_dir=library))
        names = sorted(label.text for _, label in chart.legend.items)
        assert names == ["measured on debian", "measured on debian validation (192 clips, 19.2 min)",
                         "measured on debian validation (192 clips, 19.2 min, audio 5cac179)"]
        assert len(chart.plotted) == 6
    finally:
        tear_down(chart)


def test_pareto_front_keeps_the_points_nothing_beats():
    points = [(8.0, 11.0), (5.0, 10.0), (9.0, 9.0), (5.0, 9.5), (12.0, 12.0)]
    assert pareto_front(points) == [(5.0, 10.0), (8.0, 11.0), (12.0, 12.0)]


def test_a_run_folder_of_the_same_run_with_other_threads_or_notes_is_not_taken_for_another_run(panel, tmp_path,
                                                                                               tiny_dataset):
    """A run resumed from the CLI with --threads 2 no longer equalled the panel's settings: an automatic name
    stepped aside to NAME-2 and started again from step 0; a typed one was refused as "other settings"."""
    from engine.training.config import dump_config

    panel.form.add_model_file(str(reference_path("spandex_prune50.net")), select=True)
    fill_tiny_run(panel, tiny_dataset)
    config = panel.form.draft()[0]
    folder = panel.runs_dir / config.name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(dump_config(config.replace(threads=config.threads + 1, notes="from the CLI")))
    assert panel.name_problem(config) is None and panel.form.draft()[0].name == config.name  # not NAME-2
    (folder / "config.yaml").write_text(dump_config(config.replace(steps=config.steps + 1)))
    assert panel.name_problem(config) == (f"{folder} holds a run named '{config.name}' with other settings "
                                          "(differing: steps): choose another name (or delete that folder)")


def test_a_run_that_finishes_as_the_app_closes_joins_the_library(qtbot, data_home, tmp_path):
    """The events the closing panel waited for were dropped: a model finished then never joined the library."""
    shutil.copy(reference_path("spandex_prune50.net"), tmp_path / "late.net")
    (tmp_path / "late.json").write_text(json.dumps({"name": "late"}))
    finished = ev.Finished(40, str(tmp_path / "late.net"), str(tmp_path / "late.json"),
                           {"si_snr": 10.0, "si_snri": 4.0, "power_proxy_mops": 6.0, "weight_sparsity": 0.5})

    class FinishingJob:
        finished = False

        def cancel(self) -> None:
            pass

        def wait(self, timeout=None):
            self.finished = True
            return [finished]

        def kill(self) -> None:
            pass

    panel = PrunePanel(data_home / "runs")
    panel.job = FinishingJob()  # type: ignore[assignment]
    tear_down(panel)  # (the panel's shutdown, as the app's close)
    assert (user_models_dir() / "late.net").read_bytes() == (tmp_path / "late.net").read_bytes()
