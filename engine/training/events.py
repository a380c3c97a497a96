"""What a training run reports, as small picklable records (they cross a process boundary in a queue).

A run emits, in order: :class:`Loading` while it reads its data (a few per cent at a time), one
:class:`Started`; then :class:`StepReport` every ``log_every`` steps,
:class:`Pruned` at each pruning step, :class:`Evaluated` every ``eval_every`` steps (and at the end),
:class:`Checkpointed` after each checkpoint; and exactly one of :class:`Finished`, :class:`Cancelled` or
:class:`Failed` last.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from engine.snn.model import layout_text


@dataclass(frozen=True)
class Loading:
    """Reading the dataset into memory: ``done`` of ``total`` ``what`` of ``split`` ("train", "validation").

    ``what`` is "clips" for mixtures made in advance, "source folders" for the speech and noise folders that
    fresh mixtures are mixed from (one folder holds many recordings)."""

    split: str
    done: int
    total: int
    what: str = "clips"


@dataclass(frozen=True)
class Started:
    run_dir: str
    total_steps: int
    start_step: int
    """0 for a new run, the checkpoint's step when resumed."""
    train_clips: int
    """Training clips made in advance; with ``fresh_mixtures``, the clean speech recordings mixed from."""
    train_seconds: float
    validation_clips: int
    teacher: str | None = None
    """The model the run distils from, if any, and its share of the loss."""
    teacher_weight: float = 0.0
    teacher_ensemble: tuple[str, ...] = ()
    """The models whose masks are averaged with the teacher's (``TrainConfig.teacher_ensemble``)."""
    slower_loops: str | None = None
    """Why a CPU run computes its loops over frames with torch's kernels instead of the compiled ones
    (:mod:`engine.training.fused`), e.g. no C compiler; None when they are compiled (or on a GPU)."""
    fresh_mixtures: bool = False
    """Each batch is mixed anew from speech and noise recordings (no fixed training clips)."""
    mixing_unused: bool = False
    """The recipe sets ``mixing``, which only fresh mixtures use, and the dataset has fixed training clips."""
    intelligibility_weight: float = 0.0
    """The weight of the loss's intelligibility term (``TrainConfig.intelligibility_weight``; 0: none)."""

    def data_phrase(self) -> str:
        """The run's data as the CLI and the Prune panel say it: "2400 training clips (2.67 h), 96 validation
        clips" or, for fresh mixtures, what they are mixed from."""
        hours = f"{self.train_seconds / 3600:.2f} h"
        train = (f"fresh mixtures from {self.train_clips} speech recordings ({hours} of speech)"
                 if self.fresh_mixtures else f"{self.train_clips} training clips ({hours})")
        return f"{train}, {self.validation_clips} validation clips"


@dataclass(frozen=True)
class StepReport:
    step: int
    total_steps: int
    loss: float
    si_snr: float
    """Mean SI-SNR of the last training batch (dB)."""
    regularization: float
    learning_rate: float
    weight_sparsity: float
    seconds_per_step: float
    elapsed_s: float


@dataclass(frozen=True)
class Pruned:
    step: int
    target_sparsity: float
    weight_sparsity: float
    layer_sparsity: tuple[float, ...]


@dataclass(frozen=True)
class Evaluated:
    """Validation on the held-out split, computed on the exported (8-bit) model's exact arithmetic."""

    step: int
    si_snr: float
    si_snri: float
    synops_per_frame: float
    power_proxy_mops: float
    weight_sparsity: float
    layer_sparsity: tuple[float, ...]
    activity_sparsity: tuple[float, ...]
    seconds: float
    neurons: tuple[int, ...] = ()
    """The exported model's layout, whose weights ``weight_sparsity`` counts (without idle neurons where the
    run drops them)."""
    dropped_idle: bool = False
    """Whether the run exports without its idle hidden neurons (``drop_idle_neurons``)."""
    last_step_si_snri: float | None = None
    """With ``weight_average``, the numbers above are the average's and this is the SI-SNRi of the last step's own
    weights, for comparison; None otherwise."""

    def zeros_counted(self) -> str:
        """What ``weight_sparsity`` counts, in words, beside a step's share (the pruning masks alone, of the
        network trained): weights 8-bit rounding made 0 too, of the network exported."""
        counted = "pruned or rounded to 0"
        if self.neurons:
            counted += f", of the {layout_text(self.neurons)} network" + (
                " without idle neurons" if self.dropped_idle else "")
        return counted


@dataclass(frozen=True)
class Checkpointed:
    step: int
    path: str


@dataclass(frozen=True)
class Finished:
    step: int
    model_path: str
    card_path: str
    metrics: dict
    licences: tuple[str, ...] = ()
    """The licence notices written beside the model (those of the model it started from and its lineage)."""
    pruned_to: float | None = None
    """The weight sparsity the run pruned to (GMP's final sparsity); None: it did not prune."""


@dataclass(frozen=True)
class Cancelled:
    step: int
    checkpoint: str
    """Resume from here: nothing after ``step`` was lost."""


@dataclass(frozen=True)
class Failed:
    message: str
    traceback: str = ""


Event = Loading | Started | StepReport | Pruned | Evaluated | Checkpointed | Finished | Cancelled | Failed
TERMINAL = (Finished, Cancelled, Failed)


def read_history(run_dir: str | os.PathLike) -> list[StepReport | Evaluated]:
    """The step reports and evaluations a run folder's ``history.json`` holds (up to its last checkpoint):
    what a resumed run reported before. Empty for a folder without one."""
    path = Path(run_dir) / "history.json"
    if not path.is_file():
        return []
    kinds = {"step": StepReport, "evaluated": Evaluated}
    out: list[StepReport | Evaluated] = []
    for record in json.loads(path.read_text(encoding="utf-8")):
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items() if k != "event"}
        out.append(kinds[record["event"]](**fields))
    return out
