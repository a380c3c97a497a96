"""A training run's settings: from scratch, fine-tuning, GMP pruning and activity regularisation in one record.

Written as YAML (``configs/*.yaml``; see :func:`load_config`) or built in code by the CLI and the GUI panel.
Unknown keys and out-of-range values are refused with a message naming them. Imports no torch (the GUI uses it).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from engine.errors import SpandexError
from engine.training.schedule import GMPSchedule, Scope

if TYPE_CHECKING:
    from engine.training.regularizers import ActivityRegularizer


@dataclass(frozen=True)
class PruningConfig:
    """GMP: reach ``final_sparsity`` after ``n_prunes`` prunes every ``frequency`` steps from ``start_step``.

    ``initial_sparsity`` None means: the starting model's own sparsity (its zero weights count as pruned).
    """

    final_sparsity: float
    frequency: int = 10
    n_prunes: int = 10
    start_step: int = 0
    initial_sparsity: float | None = None
    scope: Scope = "global"

    def schedule(self, current_sparsity: float) -> GMPSchedule:
        initial = current_sparsity if self.initial_sparsity is None else self.initial_sparsity
        return GMPSchedule(final_sparsity=self.final_sparsity, initial_sparsity=min(initial, self.final_sparsity),
                           start_step=self.start_step, frequency=self.frequency, n_prunes=self.n_prunes)


def check_regularizer(weight: float, kind: str, p: float) -> None:
    """Refuse activity-regularisation settings that make no sense, naming them."""
    if kind not in ("lp", "hoyer"):
        raise SpandexError(f"activity regulariser must be 'lp' or 'hoyer', got {kind!r}")
    if kind == "lp" and not 0.0 < p <= 1.0:
        raise SpandexError(f"L_p activity regularisation needs 0 < p <= 1, got p = {p}")
    if weight < 0:
        raise SpandexError(f"the regularisation weight λ must be >= 0, got {weight}")


@dataclass(frozen=True)
class RegularizerConfig:
    """Activity regularisation: ``weight`` λ, ψ ``kind`` "lp" (with ``p``) or "hoyer" (see
    :mod:`engine.training.regularizers`)."""

    weight: float
    kind: str = "lp"
    p: float = 1.0

    def __post_init__(self) -> None:
        check_regularizer(self.weight, self.kind, self.p)

    def build(self) -> ActivityRegularizer:
        from engine.training.regularizers import ActivityRegularizer  # torch: only where a run builds it

        return ActivityRegularizer(weight=self.weight, kind=self.kind, p=self.p)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs. Paths are as given (relative to the working directory)."""

    name: str
    dataset: str
    init: str = "scratch"
    """"scratch", or a model (library name or netx/.pt path) to fine-tune or prune."""
    steps: int = 1000
    batch_size: int = 16
    segment_seconds: float = 4.0
    learning_rate: float = 0.01
    final_learning_rate: float | None = None
    """Cosine decay to this value at the last step; None keeps the rate constant."""
    warmup_steps: int = 0
    optimizer: str = "radam"
    """"radam" (N-DNS's, for long runs) or "adam": RAdam's first steps barely move a weight, and an 8-bit
    weight only changes once its latent value has moved 1/64, so short fine-tunes use Adam."""
    weight_decay: float = 1e-5
    grad_clip: float = 10.0
    mse_weight: float = 0.001
    train_thresholds: bool = False
    hidden_sizes: tuple[int, ...] = (512, 512)
    threshold_mant: int = 6
    max_delay: int = 62
    keep_zeros: bool = True
    """When fine-tuning a model, its zero weights stay zero (a pruned model stays pruned)."""
    pruning: PruningConfig | None = None
    regularizer: RegularizerConfig | None = None
    eval_every: int = 200
    eval_clips: int | None = None
    eval_batch: int = 16
    log_every: int = 10
    checkpoint_seconds: float = 60.0
    threads: int = 2
    device: str = "cpu"
    """"cpu", "cuda" or "cuda:N" (with torchrun, each process takes the GPU of its local rank)."""
    backward_precision: str = "auto"
    """The backward pass's matrix products: "float32", "bfloat16", or "auto" (bfloat16 where the device
    multiplies it natively; see :func:`engine.training.device.backward_dtype`)."""
    mixing: dict | None = None
    """Fresh-mixture datasets only: changes to :class:`engine.training.fresh_mixtures.MixingRecipe`'s shares
    and ranges, e.g. ``{clean_share: 0.03, level_dbfs: [-38, -12]}``."""
    seed: int = 0
    notes: str = ""

    def __post_init__(self) -> None:
        problems = []
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            problems.append(f"name {self.name!r} must be a plain file name")
        for key in ("steps", "batch_size", "eval_every", "log_every", "threads", "eval_batch"):
            if getattr(self, key) < 1:
                problems.append(f"{key} must be at least 1")
        if self.segment_seconds < 0.1:
            problems.append("segment_seconds must be at least 0.1")
        if self.optimizer not in ("radam", "adam"):
            problems.append(f"optimizer must be 'radam' or 'adam', got {self.optimizer!r}")
        if self.learning_rate <= 0:
            problems.append("learning_rate must be positive")
        if self.threshold_mant < 1:
            problems.append("threshold_mant must be at least 1")
        if not 0 <= self.max_delay <= 62:
            problems.append("max_delay must be within 0..62 (netx/Loihi limit)")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            problems.append(f"device {self.device!r} must be cpu, cuda or cuda:N")
        if self.mixing is not None:
            from engine.training.fresh_mixtures import MixingRecipe  # numpy/scipy only

            unknown = sorted(set(self.mixing) - {f.name for f in dataclasses.fields(MixingRecipe)})
            if unknown:
                problems.append(f"mixing: unknown setting(s) {', '.join(unknown)}")
        if self.backward_precision not in ("auto", "float32", "bfloat16"):
            problems.append("backward_precision must be auto, float32 or bfloat16")
        if self.pruning is not None and self.pruning.final_sparsity >= 1:
            problems.append("pruning.final_sparsity must be below 1")
        if problems:
            raise SpandexError("invalid training configuration: " + "; ".join(problems))
        if self.pruning is not None:
            self.pruning.schedule(0.0)  # validates the schedule's numbers

    def to_dict(self) -> dict:
        data = asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict, where: str = "configuration") -> TrainConfig:
        if not isinstance(data, dict):
            raise SpandexError(f"{where}: expected a mapping of settings")
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpandexError(f"{where}: unknown setting(s) {', '.join(unknown)}")
        try:
            if data.get("pruning") is not None:
                data["pruning"] = _section(PruningConfig, data["pruning"], f"{where}: pruning")
            if data.get("regularizer") is not None:
                data["regularizer"] = _section(RegularizerConfig, data["regularizer"], f"{where}: regularizer")
            if "hidden_sizes" in data:
                data["hidden_sizes"] = tuple(int(n) for n in data["hidden_sizes"])
            return cls(**data)
        except TypeError as exc:
            raise SpandexError(f"{where}: {exc}") from None

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _section(kind, data, where: str):
    if isinstance(data, kind):
        return data
    if not isinstance(data, dict):
        raise SpandexError(f"{where}: expected a mapping")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpandexError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    return kind(**data)


def load_config(path: str | os.PathLike, **overrides) -> TrainConfig:
    """Read a YAML config; ``overrides`` (non-None values) replace its settings."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpandexError(f"configuration file not found: {path}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise SpandexError(f"{path}: not a readable YAML file: {exc}") from None
    data = dict(data or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(data, where=str(path))


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)

