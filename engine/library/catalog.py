"""The model library: models shipped in ``assets/models`` and the user's own, found by name or path.

Each model is a netx file ``NAME.net`` with an optional model card ``NAME.json`` beside it (data, recipe,
metrics). The shipped default is the card whose ``"default"`` is true. User models live in
``$SPANDEX_MODELS_DIR``, else ``$XDG_DATA_HOME/spandex/models``, else ``~/.local/share/spandex/models``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from assets import asset_path
from engine.errors import ModelFileError, SpandexError
from engine.files.netx import NETX_SUFFIXES, TORCH_SUFFIXES, load_model
from engine.files.output import OutputError, check_output
from engine.library.card import MeasuredSplit, finite_number, read_card
from engine.snn.model import SDNNModel

SHIPPED_DIR = asset_path("models")


def user_data_dir() -> Path:
    """SPANDEX's folder in the user's data home: ``$XDG_DATA_HOME/spandex``, else ``~/.local/share/spandex``."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "spandex"


def user_models_dir() -> Path:
    """Where the user's models (pruned, fine-tuned, imported) are kept."""
    if os.environ.get("SPANDEX_MODELS_DIR"):
        return Path(os.environ["SPANDEX_MODELS_DIR"])
    return user_data_dir() / "models"


def is_user_library(folder: Path) -> bool:
    """Whether ``folder`` is the user's model library (a model written there is in the library as it is)."""
    return folder.resolve() == user_models_dir().resolve()


def is_shipped_folder(folder: Path) -> bool:
    """Whether ``folder`` holds the shipped models (nothing the user makes is written there)."""
    return folder.resolve() == SHIPPED_DIR.resolve()


@dataclass(frozen=True)
class ModelEntry:
    """A model file in the library and what its card says about it."""

    name: str
    path: Path
    origin: str  # "shipped" or "user"
    card: dict = field(default_factory=dict)
    card_problem: str | None = None

    @property
    def is_default(self) -> bool:
        return self.origin == "shipped" and bool(self.card.get("default"))

    @property
    def measured_on(self) -> str | None:
        """The dataset folder its card's numbers were measured on: the metrics' own (a blend's), else the one it
        trained on, whose validation split a training run scores (None when the card does not say)."""
        metrics, data = self.card.get("metrics"), self.card.get("data")
        dataset = metrics.get("dataset") if isinstance(metrics, dict) else None
        if not dataset:
            dataset = data.get("dataset") if isinstance(data, dict) else None
        return str(dataset) if dataset else None

    @property
    def measured_split(self) -> MeasuredSplit | None:
        """The validation split its card's numbers were measured on, as exactly as the card says it (None when it
        says nothing): numbers compare only on one split (:class:`MeasuredSplit`)."""
        metrics = self.card.get("metrics")
        text = metrics.get("measured_on") if isinstance(metrics, dict) else None
        if isinstance(text, str) and text:
            return MeasuredSplit.from_text(text)
        return MeasuredSplit(Path(self.measured_on).name, "") if self.measured_on else None

    @property
    def measured(self) -> tuple[float, float] | None:
        """(SI-SNR dB, M-Ops/s) as its card's validation measured them; None when the card has no such numbers."""
        metrics = self.card.get("metrics")
        if not isinstance(metrics, dict):
            return None
        si_snr, mops = metrics.get("si_snr"), metrics.get("power_proxy_mops")
        if not (finite_number(si_snr) and finite_number(mops)):
            return None
        return float(si_snr), float(mops)


def list_models(shipped_dir: Path = SHIPPED_DIR, user_dir: Path | None = None) -> list[ModelEntry]:
    """Every model in the library, shipped first, each group sorted by name."""
    entries = []
    for origin, folder in (("shipped", shipped_dir), ("user", user_dir or user_models_dir())):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in NETX_SUFFIXES and path.is_file():
                card, problem = read_card(path)
                entries.append(ModelEntry(path.stem, path, origin, card, problem))
    return entries


def default_model(entries: list[ModelEntry] | None = None) -> ModelEntry | None:
    """The shipped model the app and CLI use when none is named, or None if none is shipped."""
    for entry in entries if entries is not None else list_models():
        if entry.is_default:
            return entry
    return None


def default_lineup(entries: list[ModelEntry] | None = None) -> list[ModelEntry]:
    """What the app loads when no model is named: the default model, then the shipped models its card
    lists under ``"ab_with"`` (cheaper ones to A/B it against), those that exist, in that order."""
    entries = entries if entries is not None else list_models()
    default = default_model(entries)
    if default is None:
        return []
    shipped = {e.name: e for e in entries if e.origin == "shipped"}
    return [default, *(shipped[name] for name in default.card.get("ab_with", []) if name in shipped)]


def required_default() -> ModelEntry:
    """The shipped default model's entry, or :class:`SpandexError` saying there is none and what to pass instead."""
    entry = default_model()
    if entry is None:
        raise SpandexError(
            "no default model is shipped yet (assets/models has none): pass --model with a netx "
            "file, e.g. --model ../shared/reference_models/ndns_baseline.net")
    return entry


def resolve_model(spec: str | os.PathLike | None) -> SDNNModel:
    """Load a model named by library name, by file path, or (``None``) the shipped default."""
    return load_model(required_default().path if spec is None else model_file(spec))


def model_file(spec: str | os.PathLike) -> Path:
    """The file a model spec names: a path as given (a model file name, or an existing file), else the library
    entry of that name (:class:`ModelFileError` naming the known ones if there is none)."""
    text = str(spec)
    if not text.strip():  # an unset variable in a script: say so, not "no model named ''"
        raise ModelFileError("a model is needed: a library name or a netx file (it was given empty)")
    path = Path(text).expanduser()
    if names_a_file(text) or path.is_file():
        return path
    try:
        return find_model(text, hint=" and no such file").path
    except ModelFileError:
        if path.is_dir():  # no model of that name (a run folder named as its model is one): load_model says so
            return path
        raise


def names_a_file(spec: str) -> bool:
    """Whether a model spec is written as a file path (a model file's suffix, or a folder in it) rather than a
    library name, whether or not the file exists."""
    return Path(spec).suffix.lower() in NETX_SUFFIXES + TORCH_SUFFIXES or os.sep in spec


def distinct_model_files(specs: list[str]) -> list[Path]:
    """The files ``specs`` name (:func:`model_file`), refused (:class:`SpandexError`) where two name one file — a
    library name and its file's path included."""
    files = [model_file(spec).resolve() for spec in specs]
    twice = sorted({spec for spec, path in zip(specs, files) if files.count(path) > 1})
    if twice:
        raise SpandexError(f"{', '.join(twice)}: given more than once (the same model file)")
    return files


def find_model(name: str, entries: list[ModelEntry] | None = None, hint: str = "") -> ModelEntry:
    """The library entry called ``name``; :class:`ModelFileError` naming the known ones if there is none."""
    entries = entries if entries is not None else list_models()
    for entry in entries:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in entries) or "none"
    raise ModelFileError(f"no model named '{name}' in the library (known: {known}){hint}")


def check_name_free(name: str, user_dir: Path | None = None, rename_advice: str = "choose another --name",
                    shipped_dir: Path = SHIPPED_DIR) -> None:
    """Refuse a model name the library already holds — a user model's, in any netx file, or a shipped model's
    (the name would reach the shipped one) — saying what to do instead."""
    if any(path.is_file() for path in (shipped_dir / (name + suffix) for suffix in NETX_SUFFIXES)):
        raise SpandexError(f"'{name}' is the name of a shipped model, which the library would go on finding under "
                           f"it; {rename_advice}")
    folder = user_dir or user_models_dir()
    held = sorted(p for p in folder.iterdir() if p.stem == name) if folder.is_dir() else []
    model = next((p for p in held if p.suffix.lower() in NETX_SUFFIXES), None)
    if model is not None:
        card = model.with_suffix(".json")
        raise SpandexError(f"the library already holds a model named '{name}' ({model}); {rename_advice} or "
                           f"remove it first" + (f" (and its card, {card})" if card.exists() else ""))
    orphan = next((p for p in held if p.suffix.lower() == ".json"), None)
    if orphan is not None:  # a model's card left behind: it would describe the new model
        raise SpandexError(f"the library holds a card named '{name}' with no model beside it ({orphan}); "
                           f"{rename_advice} or remove the card first")


def check_library_writable(name: str, advice: str, user_dir: Path | None = None) -> None:
    """Refuse now, not after a training run, a model library where the model ``name`` could not be written: a file in
    its place, or a folder that cannot be made or written there (:func:`engine.files.output.check_output`'s checks;
    nothing is left behind)."""
    folder = user_dir or user_models_dir()
    try:
        check_output(folder / f"{name}.net", "the model", follow_link_option=None)
    except OutputError as exc:
        source = " (SPANDEX_MODELS_DIR)" if os.environ.get("SPANDEX_MODELS_DIR") else ""
        raise SpandexError(f"cannot write to the model library {folder}{source}: {exc}; {advice}") from None


def install_model(model_path: Path, card_path: Path | None = None, user_dir: Path | None = None,
                  replace: bool = False, rename_advice: str = "choose another --name", name: str | None = None) -> Path:
    """Copy a model file (and its card) into the user's library, atomically; return the new path.

    ``name`` is the library name (default: the file's stem); a card's own ``name`` follows it. Refuses to replace
    a user model of the same name unless ``replace``, and says so when the library folder cannot be written.
    """
    from engine.files.atomic import atomic_output

    name = name or model_path.stem
    folder = user_dir or user_models_dir()
    target = folder / (name + ".net")
    if not replace:
        check_name_free(name, user_dir, rename_advice)
    load_model(model_path)  # refuse to install something that does not load
    card_target = folder / (name + ".json")
    try:
        model_bytes = model_path.read_bytes()
        card_bytes = card_path.read_bytes() if card_path is not None else None
    except OSError as exc:
        raise SpandexError(f"cannot read {exc.filename or model_path}: {exc.strerror or exc}") from None
    if card_bytes is not None:
        try:
            card = json.loads(card_bytes)
        except ValueError:
            card = None  # copied as it is: the card reader says what is wrong with it
        if isinstance(card, dict) and card.get("name", name) != name:  # the card names what the library lists
            card["name"] = name
            card_bytes = (json.dumps(card, indent=2) + "\n").encode()
    wrote_card = False
    try:
        if card_bytes is not None:  # first: a card alone is listed nowhere, a model without its card would be
            with atomic_output(card_target) as tmp:
                tmp.write_bytes(card_bytes)
            wrote_card = True
        with atomic_output(target) as tmp:
            tmp.write_bytes(model_bytes)
    except BaseException as exc:  # Ctrl-C too: no card is left without its model
        if wrote_card and not target.exists():
            card_target.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SpandexError(f"cannot write to the model library {folder}: {exc.strerror or exc}") from None
        raise
    return target
