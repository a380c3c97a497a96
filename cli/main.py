"""The ``spandex`` command: the app (no arguments) or one of its subcommands."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from cli import (data_command, denoise_command, eval_command, export_command, finetune_command,
                 loihi_report_command, models_command, prune_command, train_command)
from engine.errors import SpandexError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spandex", description="Spiking Audio Neural DEnoising eXperiment. Without a command: the app.")
    subparsers = parser.add_subparsers(metavar="COMMAND")
    for command in (denoise_command, eval_command, models_command, data_command, train_command, prune_command,
                    finetune_command, export_command, loihi_report_command):
        command.add_parser(subparsers)
    return parser


def start_app() -> int:
    print("spandex: the live window (microphone -> spiking denoiser -> speaker) is not built yet.\n"
          "Until it is, use the command line: spandex denoise IN OUT --model PATH, spandex eval, "
          "spandex models (see spandex --help).", file=sys.stderr)
    return 2


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with _sigterm_as_interrupt():
        return _run(args)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds like Ctrl-C, so that finally blocks stop Lava's processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        if not hasattr(args, "run"):
            return start_app()
        return args.run(args)
    except SpandexError as exc:
        print(f"spandex: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # unwritable output folder, full disk, ...
        print(f"spandex: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("spandex: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
