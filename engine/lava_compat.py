"""Importing lava-dl 0.6.0 and lava-nc 0.10.0 on Python 3.11: the one place that knows how.

Both packages declare ``Python < 3.11``; SPANDEX installs them with ``--no-deps
--ignore-requires-python`` beside torch 2.13 (see requirements/lava.txt and scripts/setup.sh). Two
things then stop them from importing, and this module works around exactly those two, and a third that
stops lava-nc importing in a process started by ``spawn``; nothing more:

1. ``lava.lib.dl.slayer`` imports its ``object_detection`` subpackage eagerly, which imports cv2 and
   torchvision. torchvision from PyPI does not import beside the CPU torch build we use, and the SDNN
   never touches object detection. Before slayer is imported, a placeholder module is registered
   under that name; touching any of its attributes raises :class:`LavaUnavailableError` saying why.
   *Delete this shim* when lava-dl stops importing ``object_detection`` from ``slayer/__init__.py``,
   or when the project moves to a torch whose torchvision imports (then cv2 is needed too).

2. ``lava/magma/compiler/var_model.py`` gives 8 dataclass fields (``CoreEncoder.x/y/p``,
   ``ChipEncoder.x/y/z``, ``AxonEncoder.hi/lo``) the default ``ByteEncoder()``, an unhashable
   instance. Python 3.11 rejects that ("mutable default ... use default_factory"); 3.10 accepted it.
   While that module is imported, and for classes defined in that module only, the dataclass
   machinery turns such a default into ``default_factory`` that returns a fresh copy of it, so every
   encoder gets its own ``ByteEncoder`` (3.10 shared one instance between all objects; nothing in
   lava-nc 0.10.0 outside that module uses these classes). The standard library is restored as soon
   as the import returns. *Delete this shim* when the project moves to a lava-nc whose
   ``var_model.py`` declares these fields with ``field(default_factory=...)``.

3. ``lava/magma/runtime/message_infrastructure/multiprocessing.py`` calls
   ``multiprocessing.set_start_method('fork')`` as it is imported, which raises "context has already
   been set" in any process whose start method is set — every process started by ``spawn``, such as
   SPANDEX's audio engine (engine/live/host.py). Lava forks its processes in any case, so the start method
   is unset before lava is imported, and that module is imported at once: lava sets ``fork``. (Not a
   Python 3.11 matter; lava-nc 0.10.0 does this on every Python.)

Public API: :func:`prepare_lava` (idempotent; afterwards every ``lava.*`` module imports normally),
:func:`import_lava`, :func:`import_slayer`, :func:`import_netx`, and :class:`LavaUnavailableError`.
Call one of them before importing anything from ``lava``. The first call takes a few seconds (torch
and lava load); later calls return at once. They are thread-safe, but the dataclass shim briefly
changes ``dataclasses`` for the whole interpreter: a dataclass defined in another thread during that
first import would see it too, though only classes of ``var_model`` are treated differently.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import importlib.metadata
import multiprocessing
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

from engine.errors import SpandexError

__all__ = ["LavaUnavailableError", "prepare_lava", "import_lava", "import_slayer", "import_netx"]

_DISTRIBUTIONS = ("lava-nc", "lava-dl")
_OBJECT_DETECTION = "lava.lib.dl.slayer.object_detection"
_VAR_MODEL = "lava.magma.compiler.var_model"
_MULTIPROCESSING = "lava.magma.runtime.message_infrastructure.multiprocessing"

_lock = threading.RLock()
_prepared = False


class LavaUnavailableError(SpandexError):
    """Lava (lava-nc / lava-dl) is not installed, or cannot be imported on this interpreter."""


def prepare_lava() -> None:
    """Make ``lava.*`` importable on this interpreter; do nothing if that was already done.

    Raises:
        LavaUnavailableError: lava-nc or lava-dl is not installed, or one of their imports fails.
    """
    global _prepared
    with _lock:
        if _prepared:
            return
        missing = [name for name in _DISTRIBUTIONS if not _is_installed(name)]
        if missing:
            raise LavaUnavailableError(
                f"{' and '.join(missing)} not installed in {sys.prefix}: the Loihi 2 (Lava) backend "
                "needs them. Run `make setup` (scripts/setup.sh installs requirements/lava.txt).")
        sys.modules.setdefault(_OBJECT_DETECTION, _object_detection_placeholder())
        multiprocessing.set_start_method(None, force=True)  # see 3. in the module docstring
        with _lenient_mutable_defaults(_VAR_MODEL):
            _import(_VAR_MODEL)
        _import(_MULTIPROCESSING)
        _prepared = True


def import_lava(module_name: str) -> types.ModuleType:
    """Import and return the module ``module_name`` (e.g. ``"lava.proc.io.source"``) of lava.

    Raises:
        ValueError: ``module_name`` is not a lava module.
        LavaUnavailableError: as :func:`prepare_lava`, or the module fails to import.
    """
    if module_name != "lava" and not module_name.startswith("lava."):
        raise ValueError(f"not a lava module: {module_name!r}")
    prepare_lava()
    return _import(module_name)


def import_slayer() -> types.ModuleType:
    """Return ``lava.lib.dl.slayer``, lava-dl's PyTorch training library (see :func:`import_lava`)."""
    return import_lava("lava.lib.dl.slayer")


def import_netx() -> types.ModuleType:
    """Return ``lava.lib.dl.netx``, which builds Lava processes from HDF5 networks (see :func:`import_lava`)."""
    return import_lava("lava.lib.dl.netx")


def _is_installed(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _import(module_name: str) -> types.ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise LavaUnavailableError(
            f"lava is installed but {module_name} cannot be imported ({exc}). The packages in "
            "requirements/base.txt may be missing or at other versions: run `make setup`.") from exc


class _DisabledModule(types.ModuleType):
    """A module whose every attribute access raises :class:`LavaUnavailableError`."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)  # let introspection (copy, pickle, help) behave normally
        raise LavaUnavailableError(
            f"{self.__name__}.{attribute}: slayer's object detection is disabled in SPANDEX "
            "(it needs torchvision and cv2, which do not run beside our CPU torch build).")


def _object_detection_placeholder() -> types.ModuleType:
    return _DisabledModule(_OBJECT_DETECTION, "Placeholder registered by engine.lava_compat.")


@contextlib.contextmanager
def _lenient_mutable_defaults(module_name: str) -> Iterator[None]:
    """Within the block, accept an unhashable default instance in dataclasses of ``module_name``.

    Such a default (not a list, dict or set, which Python 3.10 rejected too) becomes
    ``field(default_factory=...)`` returning a deep copy of it. ``dataclasses`` is restored on exit.
    """
    original = getattr(dataclasses, "_get_field", None)
    if original is None:  # the private hook moved: the shim needs rewriting for this Python
        raise LavaUnavailableError(
            f"engine.lava_compat does not support Python {sys.version.split()[0]} "
            "(dataclasses._get_field is gone); lava-nc 0.10.0 cannot be imported.")

    def get_field(cls: type, name: str, annotation: Any, *args: Any, **kwargs: Any) -> dataclasses.Field:
        default = cls.__dict__.get(name, dataclasses.MISSING)
        if (cls.__module__ == module_name
                and default is not dataclasses.MISSING
                and not isinstance(default, (dataclasses.Field, list, dict, set))
                and type(default).__hash__ is None):
            setattr(cls, name, dataclasses.field(default_factory=_copier(default)))
        return original(cls, name, annotation, *args, **kwargs)

    dataclasses._get_field = get_field
    try:
        yield
    finally:
        dataclasses._get_field = original


def _copier(prototype: Any) -> Any:
    def fresh_copy() -> Any:
        return copy.deepcopy(prototype)
    return fresh_copy
