"""Training checkpoints: the whole state of a run in one file, written atomically.

A checkpoint holds the graph's parameters and pruning masks, the optimizer's moments, the step, both random
generators and the history of reports, so a resumed run continues exactly where the checkpoint was taken.
It is written to a temporary file beside the target and renamed over it (:mod:`engine.files.atomic`): a run
killed while writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from engine.errors import SpandexError
from engine.files.atomic import atomic_output

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "spandex-checkpoint-1"


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    path = Path(path)
    with atomic_output(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        # our own files, but they hold numpy RNG state (plain dicts of ints): no arbitrary objects needed
        state = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise SpandexError(f"no checkpoint at {path}") from None
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        raise SpandexError(f"{path}: not a readable SPANDEX checkpoint: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SpandexError(f"{path}: not a SPANDEX training checkpoint")
    return state
