"""A training run's settings: from scratch, fine-tuning, GMP pruning and activity regularisation in one record.

One schema, checked at the boundary: YAML files (``configs/*.yaml``; see :func:`load_config`), the CLI's
options and the app's Prune panel all build a :class:`TrainConfig` through pydantic, which checks every field's
type and range (the panel's spin boxes take their ranges from here: :func:`field_range`). Bad input becomes a
:class:`ConfigError` naming the field and the value — ``weight_decay = 'abc': must be a number`` — never a
traceback. YAML numbers written ``1e-5`` are numbers (PyYAML alone reads them as strings).
Imports no torch (the GUI uses it).
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import annotated_types
import yaml
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails

from engine.constants import MIN_INTELLIGIBILITY_SECONDS
from engine.errors import SpandexError
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES
from engine.training.run_folder import CHECKPOINT_NAME
from engine.training.schedule import GMPSchedule, Scope

if TYPE_CHECKING:
    from engine.training.regularizers import ActivityRegularizer


class ConfigError(SpandexError):
    """A setting has the wrong type or is out of range; the message names it and its value."""


_SCHEMA = ConfigDict(extra="forbid", allow_inf_nan=False)

Sparsity = Annotated[float, Field(ge=0.0, lt=1.0)]
DEFAULT_TEACHER_WEIGHT = 0.5
"""A teacher's share of the loss when a run names a teacher but no weight."""


MODEL_FILE_SUFFIXES = (*NETX_SUFFIXES, *TORCH_SUFFIXES, ".json")
"""What a model's name must not end with: the library adds ``.net`` (and ``.json`` for its card) itself."""


def model_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a model's name (its file name in the library), or None."""
    if not name:
        return "the name is empty"
    control = any(unicodedata.category(c).startswith("C") for c in name)
    shown = repr(name) if control else f"'{name}'"
    if control or "/" in name or "\\" in name:
        return f"name {shown} must be a plain file name: no '/', '\\' or control characters"
    if name.startswith((".", "-")) or name != name.strip():
        return f"name {shown} must not start with '.' or '-', or start or end with a space"
    if name.lower().endswith(MODEL_FILE_SUFFIXES):
        return f"name {shown} must not end with a file suffix ({', '.join(MODEL_FILE_SUFFIXES)}): the library adds it"
    return None


def teacher_phrase(teacher: str, weight: float, ensemble: Sequence[str] = (), counted: bool = False) -> str:
    """How a run's teacher is named wherever it is shown (CLI, Prune panel, card): "spandex-dense (50% of the
    loss)", or with an ``ensemble`` "spandex-dense + spandex-prune50, masks averaged (100% of the loss)" (``counted``,
    where room is short: "an ensemble of 2 models, masks averaged ..."); a file by its stem, as cards name models."""
    names = " + ".join(Path(spec).stem for spec in (teacher, *ensemble))
    if counted and ensemble:
        names = f"an ensemble of {len(ensemble) + 1} models"
    return f"{names}{', masks averaged' if ensemble else ''} ({weight:.0%} of the loss)"


MACHINE_SETTINGS = ("device", "threads")
"""Where and how a run computes, not what: a run may resume with other values of these."""

EDITABLE_ON_RESUME = (*MACHINE_SETTINGS, "notes")
"""What a run folder's config.yaml may change between a checkpoint and its resume: where it computes, and the notes
its card will carry — nothing that changes what it trains."""
Steps = Annotated[int, Field(ge=1, le=10_000_000)]


def _numbers_are_not_booleans(cls, value: object, info: ValidationInfo) -> object:
    """YAML reads ``yes``, ``on`` and ``true`` as booleans, which pydantic would take as 1 for a number: refuse a
    boolean for any setting that is not one (``steps: yes`` is not one step)."""
    items = value if isinstance(value, (list, tuple)) else [value]  # a range or a layout: each of its numbers
    boolean = next((item for item in items if isinstance(item, bool)), None)
    if boolean is not None and info.field_name is not None:
        declared = str(cls.__dataclass_fields__[info.field_name].type)
        if "bool" not in declared and _NUMBER_TYPES.search(declared):
            example = _NUMBER_EXAMPLES.get(info.field_name)
            raise ValueError(f"{str(boolean).lower()} is not a number" + (f" (give {example})" if example else ""))
    return value


_NUMBER_TYPES = re.compile(r"\b(int|float|Steps|Share|Sparsity|Decibels)\b")
"""What the declared types of numeric settings (or tuples of them) say, aliases included — as whole words: a
choice such as ``Literal['float32', 'bfloat16']`` is not a number, and pydantic names its choices."""

_NUMBER_EXAMPLES = {"weight_average": "the average's decay, such as 0.999"}
"""What a setting that reads as on/off takes instead of yes or true."""


def _friendly(cls):
    """Make a pydantic dataclass raise :class:`ConfigError` (one line per problem) instead of ValidationError."""
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs) -> None:
        try:
            init(self, *args, **kwargs)
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from None

    cls.__init__ = __init__
    return cls


@_friendly
@dataclass(frozen=True, config=_SCHEMA)
class PruningConfig:
    """GMP: reach ``final_sparsity`` after ``n_prunes`` prunes every ``frequency`` steps from ``start_step``.

    ``initial_sparsity`` None means: the starting model's own sparsity (its zero weights count as pruned).
    """

    _no_booleans = field_validator("*", mode="before")(_numbers_are_not_booleans)

    final_sparsity: Sparsity
    frequency: Annotated[int, Field(ge=1, le=100_000)] = 10
    n_prunes: Annotated[int, Field(ge=1, le=10_000)] = 10
    start_step: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    initial_sparsity: Sparsity | None = None
    scope: Scope = "global"

    @model_validator(mode="after")
    def _ordered(self) -> PruningConfig:
        if self.initial_sparsity is not None and self.initial_sparsity > self.final_sparsity:
            raise ValueError(f"initial_sparsity ({self.initial_sparsity}) must not exceed final_sparsity "
                             f"({self.final_sparsity})")
        return self

    def schedule(self, current_sparsity: float) -> GMPSchedule:
        initial = current_sparsity if self.initial_sparsity is None else self.initial_sparsity
        return GMPSchedule(final_sparsity=self.final_sparsity, initial_sparsity=min(initial, self.final_sparsity),
                           start_step=self.start_step, frequency=self.frequency, n_prunes=self.n_prunes)


@_friendly
@dataclass(frozen=True, config=_SCHEMA)
class RegularizerConfig:
    """Activity regularisation: ``weight`` λ, ψ ``kind`` "lp" (with ``p``, 0 < p <= 1) or "hoyer" (see
    :mod:`engine.training.regularizers`)."""

    _no_booleans = field_validator("*", mode="before")(_numbers_are_not_booleans)

    weight: Annotated[float, Field(ge=0.0, le=1e6)]
    kind: Literal["lp", "hoyer"] = "lp"
    p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    def build(self) -> ActivityRegularizer:
        from engine.training.regularizers import ActivityRegularizer  # torch: only where a run builds it

        return ActivityRegularizer(weight=self.weight, kind=self.kind, p=self.p)


Share = Annotated[float, Field(ge=0.0, le=1.0)]
Decibels = Annotated[float, Field(ge=-120.0, le=120.0)]


@_friendly
@dataclass(frozen=True, config=_SCHEMA)
class MixingRecipe:
    """How fresh mixtures draw examples (:mod:`engine.training.fresh_mixtures`); recorded on every model card
    trained from them. A run changes it through :attr:`TrainConfig.mixing`."""

    _no_booleans = field_validator("*", mode="before")(_numbers_are_not_booleans)

    snr_db: tuple[Decibels, Decibels] = (-5.0, 20.0)
    high_snr_db: tuple[Decibels, Decibels] = (20.0, 40.0)
    high_snr_share: Share = 0.15
    clean_share: Share = 0.08
    level_dbfs: tuple[Decibels, Decibels] = (-45.0, -10.0)
    reverb_share: Share = 0.3
    equaliser_share: Share = 0.5
    band_limit_share: Share = 0.15
    second_noise_share: Share = 0.2
    generated_noise_share: Share = 0.12
    babble_share: Share = 0.08
    synthetic_share: Share = 0.12
    max_group_minutes: Annotated[float, Field(gt=0.0)] = 40.0
    speaker_weighting: Literal["uniform", "sqrt_minutes"] = "uniform"
    """How real speakers (groups) are drawn: each alike, or in proportion to the square root of the minutes
    held of each (many one-minute speakers then neither vanish nor crowd out the long recordings)."""
    speed_share: Share = 0.0
    """Share of examples whose speech is played faster or slower by a factor in :attr:`speed` (pitch and
    formants move with it, as in ASR's speed perturbation): voices between the speakers held. 0 draws nothing."""
    speed: tuple[Annotated[float, Field(ge=0.5, le=2.0)], Annotated[float, Field(ge=0.5, le=2.0)]] = (0.9, 1.1)
    noise_colour_share: Share = 0.0
    """Share of noisy examples whose noise alone goes through a random equaliser (on top of the channel both
    hear): noise spectra the recordings do not have. 0 draws nothing."""

    @model_validator(mode="after")
    def _ranges_in_order(self) -> MixingRecipe:
        for name in ("snr_db", "high_snr_db", "level_dbfs", "speed"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} [{low}, {high}]: the lower end comes first")
        if self.clean_share + self.high_snr_share > 1.0:
            raise ValueError("clean_share + high_snr_share must not exceed 1")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


@_friendly
@dataclass(frozen=True, config=_SCHEMA)
class TrainConfig:
    """Everything a run needs. Paths are as given (relative to the working directory)."""

    _no_booleans = field_validator("*", mode="before")(_numbers_are_not_booleans)

    name: Annotated[str, Field(min_length=1, max_length=100)]
    dataset: str
    init: Annotated[str, Field(min_length=1)] = "scratch"
    """"scratch", or a model (library name or netx/.pt path) to fine-tune or prune."""
    steps: Steps = 1000
    batch_size: Annotated[int, Field(ge=1, le=1024)] = 16
    segment_seconds: Annotated[float, Field(ge=0.1, le=60.0)] = 4.0
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = 0.01
    final_learning_rate: Annotated[float, Field(ge=0.0, le=10.0)] | None = None
    """Cosine decay to this value at the last step; None keeps the rate constant."""
    warmup_steps: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    optimizer: Literal["radam", "adam"] = "radam"
    """"radam" (N-DNS's, for long runs) or "adam": RAdam's first steps barely move a weight, and an 8-bit
    weight only changes once its latent value has moved 1/64, so short fine-tunes use Adam."""
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 1e-5
    grad_clip: Annotated[float, Field(gt=0.0)] = 10.0
    mse_weight: Annotated[float, Field(ge=0.0)] = 0.001
    intelligibility_weight: Annotated[float, Field(ge=0.0, le=1000.0)] = 0.0
    """Adds ``w · (1 − envelope correlation)`` to the loss, a differentiable stand-in for STOI
    (:mod:`engine.training.intelligibility`): at w = 50, 0.01 of it weighs as 0.5 dB of SI-SNR."""
    train_thresholds: bool = False
    level_input: bool | None = None
    """Level the network's input (:mod:`engine.dsp.level`): true adds the default levelling to the model,
    false removes it, None keeps what the starting model has (a model trained from scratch: none)."""
    hidden_sizes: Annotated[tuple[Annotated[int, Field(ge=1, le=8192)], ...], Field(min_length=1, max_length=8)] \
        = (512, 512)
    widen: tuple[Annotated[int, Field(ge=1, le=8192)], ...] | None = None
    """Give the starting model's hidden layers this many neurons each before training
    (:mod:`engine.training.widening`): the new ones start unheard, so the run starts from exactly the parent."""
    threshold_mant: Annotated[int, Field(ge=1, le=65_535)] = 6
    max_delay: Annotated[int, Field(ge=0, le=62)] = 62
    """Axonal delays up to this many frames (62: the netx/Loihi limit)."""
    keep_zeros: bool = True
    """When fine-tuning a model, its zero weights stay zero (a pruned model stays pruned)."""
    drop_idle_neurons: bool = False
    """Validate and export the model without its idle hidden neurons (:mod:`engine.snn.compaction`): the same
    outputs from a smaller network, fewer NeuronOps; its weight sparsity is then that of the smaller network."""
    teacher: Annotated[str, Field(min_length=1)] | None = None
    """A model (library name or netx/.pt path) to distil from: the run also learns to match the teacher's
    denoised output on every training batch (knowledge distillation; see ``teacher_weight``)."""
    teacher_ensemble: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    """More models to distil from with the ``teacher``: the run learns their output ensemble, the teacher's and
    their masks averaged, which can be better than any one of them (``--teacher`` given more than once)."""
    teacher_weight: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """With a ``teacher``, the loss is ``(1 − w) · loss(clean) + w · loss(teacher's output)``, both the N-DNS
    objective (:func:`engine.training.loss.ndns_loss`); 1 learns from the teacher alone. None: 0.5
    (:attr:`distillation_weight`)."""
    pruning: PruningConfig | None = None
    regularizer: RegularizerConfig | None = None
    weight_average: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """Validate and export a moving average of the weights over the steps (:mod:`engine.training.averaging`)
    with this decay instead of the last step's (0.999: about the last 1,000 steps once past step ~9,000, the last
    tenth of the steps before); None: the last step's."""
    eval_every: Steps = 200
    eval_clips: Annotated[int, Field(ge=1)] | None = None
    eval_batch: Annotated[int, Field(ge=1, le=1024)] = 16
    log_every: Steps = 10
    checkpoint_seconds: Annotated[float, Field(ge=0.0)] = 60.0
    """At most this much work is lost when the process is killed (0: a checkpoint after every step)."""
    threads: Annotated[int, Field(ge=1, le=256)] = 2
    device: Annotated[str, Field(pattern=r"^(cpu|cuda(:\d+)?)$")] = "cpu"
    """"cpu", "cuda" or "cuda:N" (with torchrun, each process takes the GPU of its local rank)."""
    backward_precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """The backward pass's matrix products: "float32", "bfloat16", or "auto" (bfloat16 where the device
    multiplies it natively; see :func:`engine.training.device.backward_dtype`)."""
    mixing: dict | None = None
    """Fresh-mixture datasets only: changes to :class:`MixingRecipe`'s shares
    and ranges, e.g. ``{clean_share: 0.03, level_dbfs: [-38, -12]}``."""
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    notes: str = ""

    @model_validator(mode="after")
    def _known_mixing(self) -> TrainConfig:
        if self.mixing is not None:
            unknown = sorted(set(self.mixing) - {f.name for f in fields(MixingRecipe)})
            if unknown:
                known = ", ".join(f.name for f in fields(MixingRecipe))
                raise ValueError(f"mixing: unknown setting(s) {', '.join(map(str, unknown))} (known: {known})")
            self.mixing_recipe()  # its own ranges, checked now
        return self

    def mixing_recipe(self) -> MixingRecipe:
        """The fresh-mixture recipe this run uses: the defaults changed by :attr:`mixing`."""
        try:
            return MixingRecipe(**(self.mixing or {}))
        except ConfigError as exc:
            raise ValueError(f"mixing: {exc}") from None

    @field_validator("teacher", mode="before")
    @classmethod
    def _one_teacher(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            raise ValueError(f"one model, not {list(value)}: give the others as teacher_ensemble: [MODEL, ...]")
        return value

    @field_validator("teacher_ensemble", mode="before")
    @classmethod
    def _no_ensemble(cls, value: object) -> object:
        return () if value is None else value  # null, as for the other settings: none

    @model_validator(mode="after")
    def _segments_the_intelligibility_term_can_score(self) -> TrainConfig:
        if self.intelligibility_weight and self.segment_seconds < MIN_INTELLIGIBILITY_SECONDS:
            raise ValueError(f"intelligibility_weight = {self.intelligibility_weight:g} needs segment_seconds of at "
                             f"least {MIN_INTELLIGIBILITY_SECONDS:g} (STOI's 384 ms segments); it is "
                             f"{self.segment_seconds:g}, where the term would score nothing")
        return self

    @model_validator(mode="after")
    def _teacher_that_teaches(self) -> TrainConfig:
        if self.teacher_weight is not None and self.teacher is None:
            raise ValueError(f"teacher_weight = {self.teacher_weight} needs a teacher (--teacher MODEL)")
        if self.teacher_ensemble and self.teacher is None:
            raise ValueError(f"teacher_ensemble = {list(self.teacher_ensemble)} is averaged with a teacher: name one "
                             f"(teacher: MODEL)")
        for index, spec in enumerate(self.teachers):
            twin = next((other for other in self.teachers[:index] if _same_model(spec, other)), None)
            if twin is not None:
                also = "" if twin == spec else f" (also as {twin!r})"
                raise ValueError(f"teacher {spec!r} is given twice{also}: an ensemble averages different models; "
                                 f"give each once")
        changes_model = (self.pruning is not None or self.regularizer is not None or self.train_thresholds
                         or self.widen is not None)
        if self.teacher is not None and not self.teacher_ensemble and not changes_model and \
                self.distillation_weight == 1.0 and _same_model(self.teacher, self.init):  # under 1 it anchors a fine-tune to where it started
            raise ValueError(f"teacher {self.teacher!r} is the starting model, at teacher weight 1 (all of the loss), "
                             f"and nothing prunes or regularises it: it would learn nothing from itself (a weight "
                             f"under 1 keeps a fine-tune near where it started; or choose another teacher, or prune or "
                             f"regularise)")
        return self

    @model_validator(mode="after")
    def _widen_a_model(self) -> TrainConfig:
        if self.widen is not None and self.init == "scratch":
            raise ValueError("widen grows a trained model: give it one (init: MODEL); from scratch, set hidden_sizes")
        return self

    @property
    def teachers(self) -> tuple[str, ...]:
        """Every model the run distils from: the teacher, then its ensemble; () without a teacher."""
        return () if self.teacher is None else (self.teacher, *self.teacher_ensemble)

    @property
    def distillation_weight(self) -> float:
        """The teacher's share of the loss: 0 without a teacher, else ``teacher_weight`` (default 0.5)."""
        if self.teacher is None:
            return 0.0
        return DEFAULT_TEACHER_WEIGHT if self.teacher_weight is None else self.teacher_weight

    @model_validator(mode="after")
    def _plain_name(self) -> TrainConfig:
        problem = model_name_problem(self.name)
        if problem:
            raise ValueError(problem)
        return self

    def to_dict(self) -> dict:
        data = asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        if self.widen is not None:
            data["widen"] = list(self.widen)
        data["teacher_ensemble"] = list(self.teacher_ensemble)
        return data

    @classmethod
    def from_dict(cls, data: object, where: str = "configuration") -> TrainConfig:
        """Settings from a mapping (YAML, the CLI's options); :class:`ConfigError` names what is wrong."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping of settings (name: ..., dataset: ...), "
                              f"got {_kind(data)}")
        try:
            return cls(**{str(k): v for k, v in data.items()})
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def replace(self, **changes) -> TrainConfig:
        return replace(self, **changes)


def _same_model(first: str, second: str) -> bool:
    """Whether two model specs name one file (a library name and its file's path alike); as text where either names
    nothing (a missing model is refused later, saying so)."""
    if first == second:
        return True
    from engine.library.catalog import model_file

    try:
        return model_file(first).resolve() == model_file(second).resolve()
    except (SpandexError, OSError):
        return False


def describe_errors(error: ValidationError) -> str:
    """pydantic's errors as one line: ``field = value: what it must be``, separated by ``;``."""
    return "; ".join(_describe(e) for e in error.errors(include_url=False))


_MUST = {
    "float_parsing": "must be a number", "float_type": "must be a number", "finite_number": "must be a finite number",
    "int_parsing": "must be a whole number", "int_type": "must be a whole number",
    "int_from_float": "must be a whole number", "bool_parsing": "must be true or false",
    "bool_type": "must be true or false", "string_type": "must be text", "tuple_type": "must be a list",
    "dataclass_type": "must be a mapping of settings", "dataclass_args_type": "must be a mapping of settings",
    "dict_type": "must be a mapping of settings",
}


def _describe(error: ErrorDetails) -> str:
    # a nested model or a union puts its class or type names in the location: keep the settings' names only
    loc = [str(p) for p in error["loc"] if not (isinstance(p, str) and (p[:1].isupper() or p in _TYPE_TAGS))]
    field = ".".join(loc)
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"unknown setting {field!r}"
    if kind in ("missing", "missing_argument"):
        return f"{field} is required"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        return f"{field}: {message}" if field else message
    if kind == "greater_than_equal":
        must = f"must be at least {ctx['ge']}"
    elif kind == "greater_than":
        must = f"must be above {ctx['gt']}"
    elif kind == "less_than_equal":
        must = f"must be at most {ctx['le']}"
    elif kind == "less_than":
        must = f"must be below {ctx['lt']}"
    elif kind == "literal_error":
        must = f"must be one of {ctx['expected']}"
    elif kind in ("too_short", "string_too_short"):
        must = "must not be empty"
    elif kind == "string_pattern_mismatch":
        must = "must be cpu, cuda or cuda:N" if field == "device" else f"must match {ctx.get('pattern')}"
    elif kind in ("too_long", "string_too_long"):
        must = f"is too long (at most {ctx.get('max_length')})"
    else:
        must = _MUST.get(kind, error["msg"])
    return f"{field} = {_shown(error.get('input'))}: {must}"


_TYPE_TAGS = {"int", "float", "str", "bool", "none", "tuple", "list", "dict", "function-after", "function-plain"}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: object) -> str:
    return "an empty file" if value is None else f"a {type(value).__name__} ({_shown(value)})"


def field_range(cls, name: str) -> tuple[float | None, float | None]:
    """The (lowest, highest) value the schema allows for a numeric field of ``cls`` (None: unbounded)."""
    low: float | None = None
    high: float | None = None
    for item in cls.__pydantic_fields__[name].metadata:
        if isinstance(item, annotated_types.Ge):
            low = _number(item.ge)
        elif isinstance(item, annotated_types.Gt):
            low = _number(item.gt)
        elif isinstance(item, annotated_types.Le):
            high = _number(item.le)
        elif isinstance(item, annotated_types.Lt):
            high = _number(item.lt)
    return low, high


def _number(bound: object) -> float:
    """A bound of a numeric field, as it is (an int field's stays an int)."""
    if not isinstance(bound, int | float):
        raise TypeError(f"not a numeric bound: {bound!r}")
    return bound


class _NumberLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but ``1e-5`` and ``3E4`` are numbers (YAML 1.2), not strings."""


_NumberLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def parse_yaml(text: str) -> object:
    """YAML as :func:`load_config` reads it (safe; exponents without a dot are numbers)."""
    return yaml.load(text, Loader=_NumberLoader)  # noqa: S506 — a SafeLoader subclass


def load_config(path: str | os.PathLike, defaults: dict | None = None, **overrides) -> TrainConfig:
    """Read a YAML config; ``overrides`` (non-None values) replace its settings, and ``defaults`` stand in for
    the settings it leaves out (else :class:`TrainConfig`'s own)."""
    path = Path(path)
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a configuration file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not a readable YAML file: {first}") from None
    if data is None:
        raise ConfigError(f"{path}: the file holds no settings (expected name:, dataset:, ...)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings (name: ..., dataset: ...), got {_kind(data)}")
    data = {**(defaults or {}), **data, **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig.from_dict(data, where=str(path))


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def differing_settings(previous: TrainConfig, config: TrainConfig) -> list[str]:
    """The settings in which ``config`` is another run than ``previous`` (a run may resume on another machine, with
    other notes: :data:`EDITABLE_ON_RESUME` do not count)."""
    if previous.replace(**{k: getattr(config, k) for k in EDITABLE_ON_RESUME}) == config:
        return []
    before = previous.to_dict()
    return sorted(k for k, v in config.to_dict().items() if before.get(k) != v and k not in EDITABLE_ON_RESUME)


def _check_not_over_its_inputs(config: TrainConfig, run_dir: Path) -> None:
    """Refuse a run whose model or card would be written over the model it starts from or a teacher."""
    from engine.library.catalog import model_file  # (the library imports the training settings' module)

    written = {(run_dir / f"{config.name}{suffix}").resolve() for suffix in (".net", ".json")}
    inputs = [("the model it starts from", config.init), *(("its teacher", spec) for spec in config.teachers)]
    for role, spec in inputs:
        if spec == "scratch":
            continue
        try:
            path = model_file(spec).resolve()
        except SpandexError:
            continue  # (a model that is not there is said where it is loaded)
        if path in written or path.with_suffix(".json") in written:
            raise SpandexError(f"the run would write its model {run_dir / config.name}.net over {role}, {spec}: give "
                               f"another --name or --out")


def check_same_run(config: TrainConfig, run_dir: str | os.PathLike, finished: bool = False) -> TrainConfig | None:
    """The settings of the run in ``run_dir`` (None: it holds none), refused, naming the settings that differ, if
    that is another run than ``config``'s; ``finished``: that run has finished (nothing of it to resume)."""
    saved = Path(run_dir) / "config.yaml"
    _check_not_over_its_inputs(config, Path(run_dir))
    if not saved.is_file():
        written = (CHECKPOINT_NAME, "history.json", f"{config.name}.net", f"{config.name}.json")
        others = sorted(name for name in written if (Path(run_dir) / name).exists())
        if others:  # files a run writes, not a run's (no config.yaml): a user's, which the run would replace
            raise SpandexError(f"{run_dir} holds files of no training run ({', '.join(others)}; no config.yaml): the "
                               f"run would write its model, card and history over them; give another folder (--out)")
        return None
    before = load_config(saved)
    changed = differing_settings(before, config)
    if changed and finished:
        raise SpandexError(f"{run_dir} holds a finished run with other settings (differing: {', '.join(changed)}): "
                           f"for a new run, give another --name or --out")
    if changed:
        raise SpandexError(f"{run_dir} holds a run with other settings (differing: {', '.join(changed)}); resume it "
                           f"with `spandex train --resume {run_dir}` or choose another run folder")
    return before
