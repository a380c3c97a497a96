"""``spandex prune MODEL --sparsity S``: Gradual Magnitude Pruning with a cubic schedule, then fine-tuning."""

from __future__ import annotations

import argparse

from cli.training_run import (
    add_training_options,
    check_run_inputs,
    fine_tune_help_defaults,
    overrides,
    run_dir_for,
    run_foreground,
)
from engine.library.catalog import resolve_model
from engine.training.config import ConfigError, PruningConfig, TrainConfig
from engine.training.recipes import check_plan, fine_tune_config


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "prune", help="prune a model to a target sparsity (GMP) and fine-tune it",
        description="Gradual Magnitude Pruning: every FREQUENCY steps, N times, mask the smallest weights "
                    "(over all layers, or per layer) following s_t = s_f + (s_i - s_f)(1 - (t - t0)/(nΔt))^3; "
                    "masked weights never regrow; the remaining steps fine-tune. The result joins the model "
                    "library.")
    parser.add_argument("model", metavar="MODEL", help="library name or netx/.pt file to start from")
    parser.add_argument("--sparsity", type=float, required=True, help="target weight sparsity s_f, e.g. 0.75")
    parser.add_argument("--frequency", type=int, default=10, help="steps between prunes Δt (default 10)")
    parser.add_argument("--prunes", type=int, default=10, help="number of prunes n (default 10)")
    parser.add_argument("--start-step", type=int, default=0, help="t0 (default 0)")
    parser.add_argument("--initial-sparsity", type=float,
                        help="s_i (default: the model's own share of zero weights)")
    parser.add_argument("--scope", choices=("global", "layer"), default="global",
                        help="one threshold over all layers (SPANDEX; the default) or one per layer (each layer "
                             "to the target; a layer already sparser keeps its zeros, so the model may end above it)")
    parser.add_argument("--config", metavar="FILE", help="recipe with further settings (options override it)")
    parser.add_argument("--no-install", action="store_true", help="keep the model in the run folder only")
    add_training_options(parser, fine_tune_help_defaults())
    parser.set_defaults(run=run)


def build_config(args: argparse.Namespace, pruning: PruningConfig | None) -> TrainConfig:
    """The run's settings, checked as the app's Prune panel checks them (:func:`check_plan`) before anything
    starts."""
    model = resolve_model(args.model)  # fail early, with the library's message, on a bad MODEL
    config = fine_tune_config(args.model, model.name, pruning, recipe=args.config, **overrides(args))
    check_plan(config, model)
    return config


def check_fractions(args: argparse.Namespace) -> None:
    """A sparsity given as a percentage (``--sparsity 90``) is named by its flag, with the fraction meant."""
    for flag, value in (("--sparsity", args.sparsity), ("--initial-sparsity", args.initial_sparsity)):
        if value is not None and 1.0 <= value <= 100.0:
            raise ConfigError(f"{flag} {value:g}: sparsity is a fraction below 1 (e.g. {value / 100:g} for "
                              f"{value:g} %)")


def run(args: argparse.Namespace) -> int:
    check_fractions(args)
    pruning = PruningConfig(final_sparsity=args.sparsity, frequency=args.frequency, n_prunes=args.prunes,
                            start_step=args.start_step, initial_sparsity=args.initial_sparsity, scope=args.scope)
    config = build_config(args, pruning)
    check_run_inputs(config)
    return run_foreground(config, run_dir_for(args, config), install=not args.no_install)
