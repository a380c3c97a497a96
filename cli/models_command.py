"""``spandex models``: the shipped and user models, with sparsity and size."""

from __future__ import annotations

import argparse

from engine.errors import ModelFileError
from engine.library import list_models, user_models_dir
from engine.netx_io import load_model
from engine.report import model_report


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("models", help="list the model library")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    entries = list_models()
    print(f"{'name':<24} {'origin':<8} {'sparsity':>8} {'size KB':>8} {'SI-SNR':>7} {'M-Ops/s':>8}  file")
    for entry in entries:
        name = entry.name + (" *" if entry.is_default else "")
        try:
            facts = model_report(load_model(entry.path))
        except ModelFileError as exc:
            print(f"{name:<24} {entry.origin:<8} unusable: {exc}")
            continue
        card_metrics = entry.card.get("metrics", {})
        si_snr, mops = card_metrics.get("si_snr"), card_metrics.get("power_proxy_mops")
        print(f"{name:<24} {entry.origin:<8} {facts['weight_sparsity']:8.1%} {facts['size_kb']:8.1f} "
              f"{'' if si_snr is None else f'{si_snr:.2f}':>7} {'' if mops is None else f'{mops:.2f}':>8}  "
              f"{entry.path}")
        if entry.card_problem:
            print(f"    warning: {entry.card_problem}")
    if not entries:
        print("(no models yet)")
    print(f"\n* default model. User models live in {user_models_dir()}.")
    return 0
