"""Training checkpoints: the whole state of a run in one file, written atomically.

A checkpoint holds the graph's parameters and pruning masks, the optimizer's moments, the step, both random
generators and the history of reports, so a resumed run continues exactly where the checkpoint was taken.
It is written to a temporary file beside the target and renamed over it (:mod:`engine.files.atomic`): a run
killed while writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import torch

from engine.errors import SpandexError
from engine.files.atomic import atomic_output

FORMAT = "spandex-checkpoint-1"


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` (tensors and plain data; numpy scalars and arrays become Python numbers and lists, the
    only kinds :func:`load_checkpoint` accepts besides tensors)."""
    path = Path(path)
    with atomic_output(path) as tmp:
        torch.save({"format": FORMAT, **_plain(state)}, tmp)
    return path


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        items = [_plain(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        # tensors, numbers, strings and containers only: a pickle that names any other object (a function
        # to call, a class to build) is refused unread, so a run folder from elsewhere cannot run code here
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SpandexError(f"no checkpoint at {path}") from None
    except pickle.UnpicklingError as exc:  # weights_only refused something: name it, not torch's advice
        named = re.search(r"GLOBAL ([\w.]+)", str(exc))
        refused = named.group(1) if named else "objects other than tensors and plain data"
        raise SpandexError(f"{path}: refused: the checkpoint asks to load {refused}, which a SPANDEX checkpoint "
                           "never holds (nothing in it was run)") from None
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpandexError(f"{path}: not a readable SPANDEX checkpoint: {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SpandexError(f"{path}: not a SPANDEX training checkpoint")
    return state
