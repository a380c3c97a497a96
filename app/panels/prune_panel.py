"""The *Prune & fine-tune* tab: start, watch, cancel and resume a GMP / fine-tuning run inside the app.

The run is an :class:`engine.training.job.TrainingJob` — a process of its own, niced, so audio and GUI stay
smooth; a QTimer on the GUI thread drains its events (never blocking) into the curves, the progress bar and
the status line. Cancel checkpoints first: Start on the same settings resumes. A finished run joins the
model library and :attr:`PrunePanel.model_installed` asks the window to load it beside its parent for A/B.

Laid out as three pages — the settings, the run's curves, the library's Pareto chart — above Start / Cancel,
the progress and the status, which stay in sight: on a laptop's screen the whole form and four readable
curves do not fit one above the other. Start shows the run's page.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.panels.prune_form import PruneForm
from app.plots.pareto import ParetoChart
from app.plots.training_curves import TrainingCurves
from engine.errors import SpandexError
from engine.library.catalog import check_name_free, install_model, list_models
from engine.snn.model import SDNNModel
from engine.training import events as ev
from engine.training.config import TrainConfig, differing_settings, load_config, teacher_phrase
from engine.training.job import TrainingJob
from engine.training.recipes import planned_schedule

POLL_MS = 100
TRAIN_NICE = 10
"""A run gives way to the audio engine and the GUI (it only takes longer)."""
CLOSE_WAIT_S = 20.0
"""At window close a run gets this long to checkpoint after its current step before it is killed."""


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {s:02d} s" if minutes else f"{s} s"


class PrunePanel(QtWidgets.QWidget):
    """Emits ``model_installed(model_path, parent_path)`` when a finished run has joined the library."""

    model_installed = QtCore.Signal(str, str)

    def __init__(self, runs_dir: Path, settings: QtCore.QSettings | None = None, parent=None) -> None:
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.job: TrainingJob | None = None
        self.parent_path = ""
        self.started_at = 0.0
        self.start_step = 0
        self.events: list[ev.Event] = []  # every event of the current job, in order
        self.form = PruneForm(self.name_problem, settings)
        self.form.changed.connect(self._preview)
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.status = QtWidgets.QLabel("Choose a model, a target sparsity and a dataset, then Start.")
        self.message = QtWidgets.QLabel()
        for label in (self.status, self.message):
            label.setWordWrap(True)
            label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet("background: #6b1d1d; color: white; padding: 4px;")
        self.message.hide()
        self.curves = TrainingCurves()
        self.pareto = ParetoChart()
        self._lay_out()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.refresh_library()

    def _lay_out(self) -> None:
        scroll = QtWidgets.QScrollArea()  # scrolls only on a screen too small for the form
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form)
        scroll.setMinimumWidth(self.form.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.pages = QtWidgets.QTabWidget()
        self.pages.addTab(scroll, "Settings")
        self.pages.addTab(self.curves, "Run")
        self.pages.addTab(self.pareto, "Pareto (library)")
        for index, tip in enumerate(("The model to start from, the pruning schedule, regularisation, the data",
                                     "The run: the planned and measured sparsity, validation SI-SNR and SynOps, "
                                     "the training loss",
                                     "The model library: SI-SNR against cost, from the model cards")):
            self.pages.setTabToolTip(index, tip)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.message)

    # --- library ---------------------------------------------------------------------------------

    def refresh_library(self) -> None:
        """Re-read the library: the model choices and the Pareto chart."""
        entries = list_models()
        self.form.set_library(entries)
        self.pareto.refresh(entries)

    def offer_models(self, sources: list[str]) -> None:
        """Offer the files of the models loaded in the A/B slots (those not in the library) as starting points."""
        in_library = {e.path.resolve() for e in list_models()}
        for source in sources:
            if source and Path(source).resolve() not in in_library:
                self.form.add_model_file(source)

    def name_problem(self, config: TrainConfig) -> str | None:
        """Why a run may not be named ``config.name``: a library model has the name, or its run folder holds a
        run with other settings. None if it may (a folder with the same settings is resumed)."""
        try:
            check_name_free(config.name, rename_advice="choose another name")
        except SpandexError as exc:
            return str(exc)
        saved = self.runs_dir / config.name / "config.yaml"
        try:
            changed = differing_settings(load_config(saved), config) if saved.is_file() else []
            if changed:  # (threads, device and notes may differ: that run goes on with these, as from the CLI)
                return (f"{saved.parent} holds a run named '{config.name}' with other settings (differing: "
                        f"{', '.join(changed)}): choose another name (or delete that folder)")
        except SpandexError as exc:
            return f"{saved.parent} holds an unreadable run ({exc}): choose another name"
        return None

    # --- run control -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._live_job() is not None

    def _live_job(self) -> TrainingJob | None:
        """The run's job while it runs (None: none started, or it finished)."""
        return self.job if self.job is not None and not self.job.finished else None

    def show_message(self, text: str | None, details: str = "") -> None:
        self.message.setText(text or "")
        self.message.setToolTip(details)
        self.message.setVisible(bool(text))

    def start(self) -> None:
        """Start (or resume, if its folder holds a checkpoint) the run the form describes."""
        if self.running:
            return
        try:
            config, model = self.form.build()
        except SpandexError as exc:
            self.show_message(str(exc))
            return
        self.show_message(None)
        run_dir = self.runs_dir / config.name
        self._show_run(config, model)
        self.parent_path = model.source or ""
        self.events = []
        self.job = TrainingJob(config, run_dir, nice=TRAIN_NICE)
        self.job.start()
        self.form.set_running(True)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the run says how far it is
        self.progress.setFormat("starting…")
        self.pages.setCurrentWidget(self.curves)
        self.status.setText(f"Starting <b>{html.escape(config.name)}</b> in {html.escape(str(run_dir))}…")
        self.timer.start()

    def cancel(self) -> None:
        """Ask the run to checkpoint and stop after its current step (nothing is lost; Start resumes)."""
        job = self._live_job()
        if job is not None:
            job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling: the run checkpoints after its current step…")

    def poll(self) -> None:
        """Drain the run's events (the timer calls this; it never blocks)."""
        if self.job is None:
            return
        for event in self.job.poll():
            self.events.append(event)
            self.curves.add(event)
            self._on_event(event)
        if self.job.finished:
            self.timer.stop()
            self.form.set_running(False)
            self.start_button.setEnabled(True)
            self.start_button.setText("Resume" if isinstance(self.job.result, ev.Cancelled) else "Start")
            self.cancel_button.setEnabled(False)

    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.Loading):
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.progress.setFormat(f"loading {event.split} {event.what}: %v / %m")
        elif isinstance(event, ev.Started):
            self.started_at, self.start_step = time.monotonic(), event.start_step
            self.progress.setRange(0, event.total_steps)
            self.progress.setValue(event.start_step)
            self.progress.setFormat("step %v / %m")
            where = f"resumed at step {event.start_step}" if event.start_step else "started"
            taught = f" Distilling from {teacher_phrase(event.teacher, event.teacher_weight, event.teacher_ensemble)}." if event.teacher else ""
            if event.slower_loops:  # e.g. no C compiler: the run is slower, not different
                taught += f" Its loops over frames run on torch's kernels (the compiled ones are {event.slower_loops})."
            self.status.setText(f"Run {where}: {event.data_phrase()}." + taught)
        elif isinstance(event, ev.StepReport):
            self.progress.setValue(event.step)
            done = event.step - self.start_step
            elapsed = time.monotonic() - self.started_at
            eta = (event.total_steps - event.step) * elapsed / done if done > 0 else 0.0
            self.progress.setFormat(f"step %v / %m · ETA {_duration(eta)}")
            self.status.setText(f"Step {event.step}: loss {event.loss:.3f}, batch SI-SNR {event.si_snr:.2f} dB, "
                                f"{event.weight_sparsity:.1%} of synapses pruned, {event.seconds_per_step:.2f} s/step.")
        elif isinstance(event, ev.Evaluated):
            self.status.setText(f"Validation at step {event.step}: SI-SNR {event.si_snr:.2f} dB (SI-SNRi "
                                f"{event.si_snri:.2f}), {event.synops_per_frame:,.0f} SynOps/frame, "
                                f"{event.power_proxy_mops:.2f} M-Ops/s, weights {event.weight_sparsity:.1%} zero "
                                f"({event.zeros_counted()}).")
        elif isinstance(event, ev.Finished):
            self._install(event)
        elif isinstance(event, ev.Cancelled):
            self.progress.setFormat("cancelled at step %v / %m")
            self.status.setText(f"Cancelled at step {event.step}; the checkpoint is kept in "
                                f"{html.escape(event.checkpoint)}. Start (same settings) resumes it.")
        elif isinstance(event, ev.Failed):
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("failed")
            self.status.setText("The run failed (why: below).")
            self.show_message(f"Training failed: {event.message}", event.traceback)

    def _install(self, finished: ev.Finished) -> None:
        self.progress.setValue(finished.step)
        self.progress.setFormat("finished: step %v / %m")
        try:
            path = install_model(Path(finished.model_path), Path(finished.card_path))
        except SpandexError as exc:
            self.show_message(f"The run finished but its model could not join the library: {exc}. It is kept in "
                              f"{finished.model_path}.")
            return
        metrics = finished.metrics
        start = metrics.get("start_si_snri")
        against = "" if start is None else (f"; SI-SNRi {metrics['si_snri']:.2f} dB against its parent's {start:.2f} "
                                            f"on the same clips")
        self.status.setText(f"Finished: <b>{html.escape(path.stem)}</b> joined the library "
                            f"(SI-SNR {metrics['si_snr']:.2f} dB, {metrics['power_proxy_mops']:.2f} M-Ops/s, "
                            f"{metrics['weight_sparsity']:.1%} zero weights{against}). It is loading beside its "
                            f"parent as B, the parent as A: press A / B to compare.")
        self.refresh_library()
        self.model_installed.emit(str(path), self.parent_path)

    def _show_run(self, config: TrainConfig, model: SDNNModel) -> list[ev.StepReport | ev.Evaluated]:
        """Draw the run's planned schedule and what its folder says it did so far (returned)."""
        self.curves.clear_run()
        self.curves.show_plan(planned_schedule(config, model), config.steps, model.weight_sparsity)
        if self.name_problem(config):  # its folder holds another run
            return []
        try:
            done = ev.read_history(self.runs_dir / config.name)
        except (OSError, ValueError, TypeError, KeyError):  # a damaged history costs the old curve, nothing else
            done = []
        for event in done:
            self.curves.add(event)
        return done

    def _preview(self) -> None:
        """Before Start: draw the run the settings describe, and say if Start resumes it."""
        if self.running:
            return
        draft = self.form.draft()
        if draft is None:
            self.curves.clear_run()
        done = self._show_run(*draft) if draft is not None else []
        self.start_button.setText("Resume" if done else "Start")
        if done and draft is not None:  # done: a run drawn from the draft
            self.status.setText(f"{html.escape(str(self.runs_dir / draft[0].name))} holds this run, stopped at "
                                f"step {done[-1].step}: Resume continues it.")

    # --- teardown --------------------------------------------------------------------------------

    def stop_run(self) -> None:
        """Stop polling; ask a run still going to checkpoint and stop (without waiting for it)."""
        self.timer.stop()
        job = self._live_job()
        if job is not None:
            job.cancel()

    def shutdown(self) -> None:
        """:meth:`stop_run`, then wait for the run (killed if it takes too long); close the pyqtgraph views (they
        crash at exit if left to the garbage collector)."""
        self.stop_run()
        job = self._live_job()
        if job is not None:
            for event in job.wait(timeout=CLOSE_WAIT_S):
                if isinstance(event, ev.Finished):  # it finished as the app closed: its model joins the library
                    self._install(event)
            job.kill()
        self.curves.close()
        self.pareto.shutdown()
