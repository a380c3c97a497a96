"""``--sharpening S`` of `spandex denoise` and `spandex eval`: a model's mask sharpened otherwise for one run
(engine/snn/mask.py), 0 for the network's own mask, without writing a model."""

from __future__ import annotations

import argparse
import dataclasses

from engine.errors import SpandexError
from engine.snn.model import MAX_SHARPENING, SDNNModel, sharpening_problem


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sharpening", type=float, metavar="S",
                        help=f"sharpen the model's mask by S for this run, from 0 (the network's own mask) to "
                             f"{MAX_SHARPENING:g}; default: the model's own (`spandex models NAME`, its 'mask:' line)")


def sharpened_as_asked(model: SDNNModel, sharpening: float | None) -> SDNNModel:
    """``model`` with the ``--sharpening`` given (None: as it is), refused in one line outside 0 … MAX_SHARPENING."""
    if sharpening is None:
        return model
    if sharpening_problem(sharpening):
        raise SpandexError(f"--sharpening {sharpening!r}: give a mask sharpening from 0 (the network's own mask) to "
                           f"{MAX_SHARPENING:g}")
    if float(sharpening) == model.decoder.sharpening:
        return model
    # named for what it is in every report (a board entry, a JSON, the table): not the model as its file has it
    return dataclasses.replace(model.sharpened_by(sharpening), name=f"{model.name} (sharpening {sharpening + 0.0:g})")
