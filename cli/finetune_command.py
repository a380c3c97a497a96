"""``spandex finetune MODEL``: fine-tune a model (pruned weights stay pruned), optionally with activity
regularisation to cut SynOps."""

from __future__ import annotations

import argparse

from cli.prune_command import build_config
from cli.training_run import (
    add_training_options,
    check_run_inputs,
    fine_tune_help_defaults,
    run_dir_for,
    run_foreground,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune", help="fine-tune a model (optionally with activity regularisation)",
        description="Fine-tune MODEL on a dataset; its zero weights stay zero. With --reg-weight, activity "
                    "regularisation (L_p or Hoyer on every layer's spikes) trades SI-SNR for fewer SynOps. "
                    "The result joins the model library.")
    parser.add_argument("model", metavar="MODEL", help="library name or netx/.pt file to start from")
    parser.add_argument("--config", metavar="FILE", help="recipe with further settings (options override it)")
    parser.add_argument("--no-install", action="store_true", help="keep the model in the run folder only")
    add_training_options(parser, fine_tune_help_defaults())
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = build_config(args, None)
    check_run_inputs(config)
    return run_foreground(config, run_dir_for(args, config), install=not args.no_install)
