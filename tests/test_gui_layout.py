"""The main window's layout, offscreen, on the real engine with the shipped line-up: at 1024×768 (a projector),
1366×768 and 1280×800 (laptops) and 1920×1080 every tab of the side panel, and every tab inside it, is shown in turn and checked for what a
person would see as clipped — a table or text that scrolls sideways, a label narrower than its text or cut
by its parent, a field of the Prune form outside the visible form, a run plot too small to read, a chart
title wider than its chart, a chart of several series without a legend entry per series. Then the settings a
user expects back after closing the window: geometry, splitter, backend, buffer, models, record folder,
virtual microphone.

Screenshots of every tab at every size go to test-artifacts/gui/layout_*.png.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from tests.reference_models import reference_path  # noqa: E402
from tests.test_gui import close_window, open_window  # noqa: E402

LINEUP = ("spandex-dense", "spandex-prune75", "spandex-frugal")  # the shipped models: their cards are real
SIZES = ((1280, 800), (1024, 768), (1366, 768), (1920, 1080))
MIN_RUN_PLOT_PX = 100
"""The least height (title, plot and axis) of each of the Prune tab's run plots."""


@pytest.fixture
def shots(artifacts_dir):
    folder = artifacts_dir / "gui"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def private_home(tmp_path, monkeypatch) -> Path:
    """The user's library, runs and settings in ``tmp_path`` (nothing of the real user's shows up)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SPANDEX_MODELS_DIR", raising=False)
    return tmp_path


# --- what counts as clipped --------------------------------------------------------------------------------

def describe(widget: QtWidgets.QWidget) -> str:
    """The widget's class (or object name) after the SPANDEX widgets it is in, with its text if it has one."""
    names = [widget.objectName() or type(widget).__name__]
    w = widget.parentWidget()
    while w is not None and w.parentWidget() is not None:
        if not type(w).__name__.startswith("Q"):  # ours: ModelsPanel, LoihiPanel, PruneForm…
            names.append(type(w).__name__)
        w = w.parentWidget()
    text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
    text = f" {text[:60]!r}" if isinstance(text, str) and text else ""
    return " › ".join(reversed(names)) + text


def shown(widget: QtWidgets.QWidget) -> bool:
    return widget.isVisible() and widget.width() > 0 and widget.height() > 0


def cut_sideways(widget: QtWidgets.QWidget) -> int:
    """How many pixels of ``widget``'s width its parents (or the window's edge) hide; 0 when it is scrolled
    out of sight altogether (vertical scrolling is judged on its own)."""
    visible = widget.visibleRegion().boundingRect()
    return 0 if visible.isEmpty() else widget.width() - visible.width()


def internal(widget: QtWidgets.QWidget) -> bool:
    """A part of another control (a spin box's or combo box's line edit, a tab bar's scroll arrow)."""
    parent = widget.parentWidget()
    return isinstance(parent, (QtWidgets.QAbstractSpinBox, QtWidgets.QComboBox, QtWidgets.QTabBar,
                               QtWidgets.QAbstractScrollArea)) or widget.objectName().startswith("qt_")


def hidden_width(area: QtWidgets.QAbstractScrollArea) -> int:
    if isinstance(area, QtWidgets.QTableView):
        return area.horizontalHeader().length() - area.viewport().width()
    if isinstance(area, QtWidgets.QScrollArea) and area.widget() is not None:
        return area.widget().width() - area.viewport().width()
    return area.horizontalScrollBar().maximum()


def scroll_problems(window, may_scroll_down: set) -> list[str]:
    problems = []
    for area in window.findChildren(QtWidgets.QAbstractScrollArea):
        if not shown(area) or isinstance(area, QtWidgets.QGraphicsView):  # pyqtgraph views never scroll
            continue
        # (item views scroll per item by default: their scroll bars count columns and rows, not pixels)
        sideways, down = area.horizontalScrollBar().maximum(), area.verticalScrollBar().maximum()
        if sideways > 0:
            problems.append(f"{describe(area)} scrolls sideways ({hidden_width(area)} px hidden)")
        if down > 0 and area not in may_scroll_down:
            problems.append(f"{describe(area)} scrolls down ({down} scroll steps)")
        if isinstance(area, QtWidgets.QTableView):
            header = area.horizontalHeader()
            for column in range(header.count()):
                name = area.model().headerData(column, QtCore.Qt.Orientation.Horizontal)
                if header.isSectionHidden(column):
                    problems.append(f"{describe(area)}: column {name!r} hidden")
                    continue
                need = max(header.sectionSizeHint(column), area.sizeHintForColumn(column))
                if header.sectionSize(column) < need:
                    problems.append(f"{describe(area)}: column {name!r} {header.sectionSize(column)} px wide, "
                                    f"its header or cells need {need}")
    return problems


def label_problems(window) -> list[str]:
    """Every label shows its whole text: wide enough (or word-wrapped within its height), not cut by a
    parent; a label that elides by design (``elided_text``) elides to its width and tells the rest in its
    tooltip."""
    problems = []
    for label in window.findChildren(QtWidgets.QLabel):
        if not shown(label) or not label.text():
            continue
        elided = getattr(label, "elided_text", None)
        if callable(elided):  # elides by design: text() is the whole text, elided_text() what is painted
            painted = elided()
            if label.fontMetrics().horizontalAdvance(painted) > label.contentsRect().width():
                problems.append(f"{describe(label)}: elided text wider than the label")
            if painted != label.text() and label.text() not in label.toolTip():
                problems.append(f"{describe(label)}: elided, but its tooltip does not tell the whole text")
        elif label.wordWrap():
            need = label.heightForWidth(label.width())
            if need > label.height():
                problems.append(f"{describe(label)}: {label.height()} px tall, its wrapped text needs {need}")
        else:
            problems.extend(width_problems(label, "its text needs"))
            continue
        problems.extend(width_problems(label, None))
    return problems


def width_problems(widget, need_words: str | None) -> list[str]:
    """Narrower than its minimum size hint (checked when ``need_words`` is given), or cut by a parent."""
    problems = []
    if need_words is not None and widget.width() < widget.minimumSizeHint().width():
        problems.append(f"{describe(widget)}: {widget.width()} px wide, {need_words} "
                        f"{widget.minimumSizeHint().width()}")
    cut = cut_sideways(widget)
    if cut > 0:
        problems.append(f"{describe(widget)}: {cut} px cut off at the side")
    return problems


def control_problems(window) -> list[str]:
    """Buttons, boxes and fields: as wide as they need, not cut by a parent; no toolbar overflow; every tab
    of every tab bar shown whole."""
    problems = []
    kinds = (QtWidgets.QAbstractButton, QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit,
             QtWidgets.QProgressBar)
    for control in window.findChildren(QtWidgets.QWidget):
        if not isinstance(control, kinds) or not shown(control) or internal(control):
            continue
        problems.extend(width_problems(control, "needs"))
    for bar in window.findChildren(QtWidgets.QToolBar):
        extension = bar.findChild(QtWidgets.QToolButton, "qt_toolbar_ext_button")
        if shown(bar) and extension is not None and extension.isVisible():
            problems.append(f"toolbar {bar.windowTitle()!r} overflows: some of its actions are hidden behind »")
    for bar in window.findChildren(QtWidgets.QTabBar):
        if not shown(bar):
            continue
        for index in range(bar.count()):
            rect, need = bar.tabRect(index), bar.tabSizeHint(index)
            if rect.right() >= bar.width() or rect.left() < 0 or rect.width() < need.width():
                problems.append(f"tab {bar.tabText(index)!r} of {describe(bar)} is cut (or behind arrows)")
    return problems


def plot_items(window):
    for view in window.findChildren(pg.GraphicsView):
        if shown(view):
            for item in view.scene().items():
                if isinstance(item, pg.PlotItem) and item.isVisible():
                    yield view, item


def chart_problems(window, legend_by_group: set) -> list[str]:
    """Titles fit their chart, texts in it its plot area; a chart of several series has a legend with an entry
    per series, inside the plot area, or shares one legend with charts of the same series (the traces, one
    line per model: ``window.model_legend``, shown, naming every model). ``legend_by_group``: charts whose
    legend names groups of series (the Pareto chart: a front and its points per dataset)."""
    problems = []
    shared = getattr(window, "model_legend", None)
    for view, item in plot_items(window):
        title = item.titleLabel
        name = title.text or describe(view)
        if title.isVisible() and title.text:
            text = view.mapFromScene(title.item.mapToScene(title.item.boundingRect())).boundingRect()
            inside = view.viewport().rect().intersected(text)
            if inside.width() < text.width():
                problems.append(f"chart title {title.text!r}: {text.width() - inside.width()} px of its "
                                f"{text.width()} cut")
        box = item.vb.mapRectToScene(item.vb.boundingRect())
        for text in (i for i in item.items if isinstance(i, pg.TextItem) and i.isVisible()):
            where = text.mapRectToScene(text.boundingRect())
            if not box.contains(where):
                problems.append(f"chart {name!r}: the text {text.textItem.toPlainText()!r} runs out of the plot")
        series = [i for i in item.items if isinstance(i, (pg.PlotDataItem, pg.BarGraphItem)) and i.isVisible()]
        if len(series) < 2 or item in legend_by_group:
            continue
        if shared is not None and view in shared.charts:
            names = [m["name"] for m in window.controller.models]
            if not shown(shared) or len(shared.entries) < len(series) \
                    or not all(name in entry for name, entry in zip(names, shared.entries)):
                problems.append(f"chart {name!r}: {len(series)} series, the shared legend shows {shared.entries}")
            continue
        legend = item.legend
        entries = len(legend.items) if legend is not None and legend.isVisible() else 0
        if entries < len(series):
            problems.append(f"chart {name!r}: {len(series)} series, {entries} legend entries")
        elif legend.boundingRect().width() > item.vb.width():
            problems.append(f"chart {name!r}: its legend ({legend.boundingRect().width():.0f} px) is wider than "
                            f"the plot ({item.vb.width():.0f} px)")
    return problems


def prune_problems(window, seen: set) -> list[str]:
    """The Prune form: every field wholly visible (no field behind a scroll or under the window's edge)
    when the form is shown; the run plots at least :data:`MIN_RUN_PLOT_PX` tall when they are shown."""
    problems = []
    panel = window.prune_panel
    if shown(panel.form):
        seen.add("form")
        kinds = (QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit, QtWidgets.QAbstractButton)
        for field in panel.form.findChildren(QtWidgets.QWidget):
            if not isinstance(field, kinds) or internal(field):
                continue
            visible = field.visibleRegion().boundingRect().size()
            if not field.isVisible() or visible != field.size():
                problems.append(f"Prune form: {describe(field)} shows {visible.width()}×{visible.height()} of "
                                f"{field.width()}×{field.height()} px")
    if shown(panel.curves):
        seen.add("run plots")
        for series, plot in panel.curves.plots.items():
            if plot.height() < MIN_RUN_PLOT_PX:
                problems.append(f"run plot {series!r} is {plot.height():.0f} px tall (at least {MIN_RUN_PLOT_PX})")
    return problems


def settle(qtbot, window) -> None:
    """Let layouts, the plot timer (30 fps) and the text timer (4 Hz) run over what is shown now."""
    QtWidgets.QApplication.processEvents()
    qtbot.wait(400)
    window.refresh_text()
    QtWidgets.QApplication.processEvents()


def inner_tab_states(page: QtWidgets.QWidget):
    """Every page of every tab widget inside ``page``, one at a time (yields a name for each state shown)."""
    inner = [t for t in page.findChildren(QtWidgets.QTabWidget)]
    yield ""
    for tabs in inner:
        first = tabs.currentIndex()
        for index in range(tabs.count()):
            tabs.setCurrentIndex(index)
            yield tabs.tabText(index)
        tabs.setCurrentIndex(first)


@pytest.mark.slow
def test_every_tab_fits_from_1024x768_to_1920x1080(qtbot, private_home, shots):
    window, host = open_window(qtbot, private_home, list(LINEUP), output="none")
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 3 and window.frames_received > 200
                        and window.controller.status_info is not None, timeout=120_000)
        may_scroll_down = set(window.loihi_panel.findChildren(QtWidgets.QScrollArea))  # a report, read down
        legend_by_group = {window.prune_panel.pareto.plot.getPlotItem()}
        problems: list[str] = []
        for width, height in SIZES:
            window.resize(width, height)
            seen: set[str] = set()
            for tab in range(window.tabs.count()):
                window.tabs.setCurrentIndex(tab)
                name = window.tabs.tabText(tab)
                for inner in inner_tab_states(window.tabs.widget(tab)):
                    settle(qtbot, window)
                    where = f"{width}×{height} {name}{' › ' + inner if inner else ''}: "
                    if (window.width(), window.height()) != (width, height):
                        problems.append(f"{where}the window is {window.width()}×{window.height()}")
                    found = (scroll_problems(window, may_scroll_down) + label_problems(window)
                             + control_problems(window) + chart_problems(window, legend_by_group)
                             + prune_problems(window, seen))
                    problems += [where + p for p in found if where + p not in problems]
                    slug = "_".join(filter(None, (name, inner))).replace(" ", "_").replace("/", "")
                    window.grab().save(str(shots / f"layout_{width}x{height}_{slug}.png"))
            assert seen == {"form", "run plots"}, f"never shown at {width}×{height}: {seen}"
        # each shipped model's card, selected in the A/B tab, fits the laptop window without scrolling
        window.resize(*SIZES[0])
        window.tabs.setCurrentWidget(window.models_panel)
        for row in range(window.models_panel.table.rowCount()):
            window.models_panel.table.selectRow(row)
            settle(qtbot, window)
            name = window.models_panel.table.item(row, 1).text()
            problems += [f"1280×800 A/B, {name}'s card: {p}" for p in scroll_problems(window, may_scroll_down)]
        assert not problems, "\n".join(problems)
    finally:
        close_window(window, host)


@pytest.mark.slow
def test_every_shipped_models_card_fits_with_all_five_loaded(qtbot, private_home):
    """All five shipped models in the A/B table (the table at its tallest for them): each one's card, selected,
    fits the laptop window and the 1024×768 projector without scrolling (the stages before the last in one brief
    paragraph; `spandex models` shows them all)."""
    shipped = ("spandex-dense", "spandex-prune50", "spandex-prune75", "spandex-prune90", "spandex-frugal")
    window, host = open_window(qtbot, private_home, list(shipped), output="none")
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 5 and window.frames_received > 100, timeout=120_000)
        window.tabs.setCurrentWidget(window.models_panel)
        # as on a presenter's laptop with no sound card: the engine's notice takes a row above the plots and panel
        window.show_notice("no microphone: playing noisy_speech.flac as the microphone; no output device: running "
                           "silently on the internal clock, retrying")
        problems = []
        for width, height in SIZES[:2]:
            window.resize(width, height)
            for row in range(window.models_panel.table.rowCount()):
                window.models_panel.table.selectRow(row)
                settle(qtbot, window)
                assert window.models_panel.card.toPlainText().startswith("model: "), row  # a real card is shown
                name = window.models_panel.table.item(row, 1).text()
                problems += [f"{width}×{height}, {name}'s card: {p}" for p in scroll_problems(window, set())]
        assert not problems, "\n".join(problems)
    finally:
        close_window(window, host)


@pytest.mark.slow
def test_a_side_panel_remembered_from_a_wide_screen_leaves_the_plots_readable(qtbot, private_home):
    """Widened on a 1920-px screen, the side panel came back as wide on a 1024×768 projector (and narrowed the plots
    by 100 px more at every restart): the plots' titles were cut to "Input (-", "Spikes (model"; the window kept
    a size larger than the screen."""
    from app.window.main_window import PLOTS_MIN_WIDTH

    settings = QtCore.QSettings(str(private_home / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    settings.setValue("side_width", 1400)
    settings.sync()
    window, host = open_window(qtbot, private_home, [LINEUP[0]], output="none")
    try:
        free = window.screen().availableGeometry()
        assert window.width() <= free.width() and window.height() <= free.height()
        projector = QtCore.QRect(0, 0, 1024, 768)  # the same window opened on a 1024×768 screen
        window.screen = lambda: type("Screen", (), {"availableGeometry": lambda self: projector})()
        window._fit_screen()
        assert (window.width(), window.height()) == (1024, 768) and window.pos() == projector.topLeft()
        del window.screen
        qtbot.waitUntil(lambda: window.frames_received > 50, timeout=120_000)
        for width, height in ((1920, 1080), (1024, 768), (1280, 800)):
            window.resize(width, height)
            settle(qtbot, window)
            plots, side = window.splitter.sizes()
            assert plots >= PLOTS_MIN_WIDTH, (width, plots, side)
            assert side >= window.tabs.minimumSizeHint().width(), (width, plots, side)
            assert not chart_problems(window, {window.prune_panel.pareto.plot.getPlotItem()}), (width, plots)
    finally:
        close_window(window, host)


def assert_shows_record_folder(window, folder: Path) -> None:
    """The toolbar says where recordings go (the end of a long path; the whole of it in the tooltip)."""
    text = window.record_folder_action.text()
    assert text.startswith("to ") and text.endswith(folder.name), text
    assert str(folder) in window.record_folder_action.toolTip() and str(folder) in window.record_action.toolTip()


@pytest.mark.slow
def test_settings_come_back_after_a_restart(qtbot, private_home, monkeypatch, virtual_audio):
    """Geometry, splitter, backend, buffer, loaded models, record folder and virtual microphone, chosen in one
    window, are where they were when the window opens again on the same settings (and nothing is asked on
    the command line the second time)."""
    from engine.live.virtual_mic import published_modules
    from tests.test_virtual_mic import pactl_env

    models = [str(reference_path("spandex_prune50.net")), str(reference_path("spandex_prune75.net"))]
    recordings = private_home / "my recordings"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *args, **kwargs: str(recordings))
    env = virtual_audio.jack_env()
    window, host = open_window(qtbot, private_home, models, env=env, output="none", backend="dense",
                               prefill_hops=5)
    try:
        qtbot.waitUntil(lambda: len(window.controller.models) == 2 and not window.controller.loading, timeout=60_000)
        window.resize(1500, 900)  # on the 1920×1080 offscreen screen (tests/conftest.py)
        window.move(11, 23)
        window.splitter.setSizes([0, 10_000])  # the side panel as wide as the plots' least width allows
        window.backend_combo.setCurrentText("sparse")  # the backend for the next models
        window.record_folder_action.trigger()
        assert_shows_record_folder(window, recordings)
        window.virtual_mic_action.setChecked(True)
        qtbot.waitUntil(lambda: bool(published_modules(pactl_env(virtual_audio))), timeout=30_000)
        QtWidgets.QApplication.processEvents()
        geometry, sizes = window.geometry(), window.splitter.sizes()
        assert sizes[1] > window.tabs.minimumSizeHint().width() + 50  # not what a first start would choose
    finally:
        close_window(window, host)
    assert not published_modules(pactl_env(virtual_audio))  # removed with the engine

    window, host = open_window(qtbot, private_home, [], env=env, output="none")
    try:
        assert host.config.models == models and host.config.backend == "sparse"
        assert host.config.prefill_hops == 5 and host.config.virtual_mic
        assert window.geometry() == geometry and window.splitter.sizes() == sizes
        assert window.backend_combo.currentText() == "sparse"
        assert window.controller.record_folder == recordings
        assert_shows_record_folder(window, recordings)
        assert window.virtual_mic_action.isChecked()
        qtbot.waitUntil(lambda: len(window.controller.models) == 2 and bool(published_modules(pactl_env(virtual_audio))),
                        timeout=60_000)
        # the window's own word that the microphone is on (it replaces the status line: before Record, or it
        # could replace the "recording" line this test waits for)
        qtbot.waitUntil(lambda: "virtual microphone on" in window.state_label.text(), timeout=10_000)
        assert [m["source"] for m in window.controller.models] == models
        assert all(m["backend"] == "sparse" for m in window.controller.models)
        window.record_action.setChecked(True)
        qtbot.waitUntil(lambda: "recording" in window.state_label.text(), timeout=10_000)
        assert str(recordings) in window.state_label.text()
        window.record_action.setChecked(False)
        qtbot.waitUntil(lambda: window.controller.recorded is not None, timeout=30_000)
        assert all(Path(p).parent == recordings for p in window.controller.recorded.paths)
    finally:
        close_window(window, host)
    assert not published_modules(pactl_env(virtual_audio))
