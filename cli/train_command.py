"""``spandex train CONFIG``: train a model from a recipe file (from scratch, or any run a config describes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.training_run import add_training_options, check_run_inputs, option_name, overrides, run_dir_for, run_foreground
from engine.errors import SpandexError
from engine.library.catalog import names_a_file
from engine.training.config import MACHINE_SETTINGS, load_config


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model from a recipe (YAML config)",
        description="Train from a recipe such as configs/ndns-scratch.yaml. The run folder keeps a checkpoint "
                    "(atomic, every minute and at each validation): run the same command again, or "
                    "`spandex train --resume RUN_DIR`, to continue after a crash, a kill or Ctrl-C.")
    parser.add_argument("config", nargs="?", metavar="CONFIG", help="recipe file (YAML)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR with its own settings")
    parser.add_argument("--install", action="store_true", help="add the finished model to the user library")
    parser.add_argument("--init", metavar="MODEL", help="start from this model (library name or netx file) instead "
                                                        "of the recipe's init")
    add_training_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.init is not None and not args.init.strip():
        raise SpandexError("--init needs a model: a library name or a netx file (it was given empty)")
    if args.resume:
        if args.config:
            raise SpandexError("give either CONFIG or --resume RUN_DIR, not both")
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise SpandexError(f"{run_dir} holds no training run (no config.yaml)")
        given = overrides(args)
        ignored = list(dict.fromkeys(option_name(k) for k in given if k not in MACHINE_SETTINGS)) + \
            (["--out"] if args.out else [])
        if ignored:
            raise SpandexError(f"--resume continues {run_dir} with its own settings; {', '.join(ignored)} would be "
                               f"ignored: leave {'it' if len(ignored) == 1 else 'them'} out, or start a new run")
        config = load_config(run_dir / "config.yaml")
        config = config.replace(**{k: v for k, v in given.items() if k in MACHINE_SETTINGS})  # a CPU run -> GPU
    elif args.config:
        config = load_config(args.config, **overrides(args))
        run_dir = run_dir_for(args, config)
    else:
        raise SpandexError("give a recipe file (e.g. configs/ndns-scratch.yaml) or --resume RUN_DIR")
    try:
        check_run_inputs(config)
    except SpandexError as exc:
        relative = [f"{key} {value}" for key, value in (("dataset", config.dataset), ("init", config.init),
                                                          *(("teacher", t) for t in config.teachers))
                    if args.resume and value and _relative_path(value, model=key != "dataset")
                    and not Path(value).exists()]  # (one found from here is not what failed)
        if not relative:
            raise
        raise SpandexError(f"{exc} ({run_dir / 'config.yaml'} names {', '.join(relative)} relative to the folder "
                           f"the run was started in: resume it from there)") from None
    return run_foreground(config, run_dir, install=args.install, resuming=bool(args.resume))


def _relative_path(value: str, model: bool) -> bool:
    """Whether a dataset, or a ``model`` (init, teacher) setting, is a relative path: not absolute, and for a model
    not a library name either."""
    if Path(value).is_absolute() or value == "scratch":
        return False
    return not model or names_a_file(value)
