"""The ``spandex`` command: the app (no arguments) or one of its subcommands."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn

from cli import (
    blend_command,
    data_command,
    denoise_command,
    devices_command,
    eval_command,
    export_command,
    finetune_command,
    loihi_report_command,
    models_command,
    narrow_command,
    prune_command,
    sharpen_command,
    train_command,
)
from engine import __version__
from engine.backends import BACKEND_NAMES
from engine.errors import SpandexError
from engine.live.protocol import BUFFER_HOPS
from engine.stop_signals import Terminated, silence_closed_output, stop_signals_as_interrupts, terminal_hung_up


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but an unknown option is named before missing required arguments: ``spandex eval --bogus``
    said that --noisy and --clean were required, not that eval has no --bogus. Each command's parser is one too
    (argparse makes a command's parser of its parent's class)."""

    _given: list[str] | None = None

    def parse_known_args(self, args=None, namespace=None):
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if message.startswith("the following arguments are required") and self._given is not None:
            unknown = self._unknown_options(self._given)
            if unknown:
                message = f"unrecognized arguments: {' '.join(unknown)}"
        super().error(message)

    def _unknown_options(self, given: list[str]) -> list[str]:
        """What parsing ``given`` leaves unrecognised, the required arguments set aside."""
        required = [action for action in self._actions if action.required]
        for action in required:
            action.required = False
        try:
            return super().parse_known_args(given, argparse.Namespace())[1]
        except SystemExit:  # (a bad value: not this parser's first complaint, so not said here)
            return []
        finally:
            for action in required:
                action.required = True


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="spandex", description="Spiking Audio Neural DEnoising eXperiment. Without a command: the app "
        "(microphone -> spiking denoiser -> speaker, with live plots; no microphone: the demo clip).")
    parser.add_argument("--version", action="version", version=f"spandex {__version__}")
    app = parser.add_argument_group("the app (no COMMAND)")
    app.add_argument("--model", action="append", default=[], metavar="NAME|PATH", dest="app_models",
                     help="model to load (repeat for A/B: --model a.net --model b.net); default: the models "
                          "loaded when the app was last closed, else the shipped lineup")
    app.add_argument("--backend", choices=BACKEND_NAMES, default=None, dest="app_backend",
                     help="how the models run: sparse (event-driven CPU, the default: same bits as dense at a "
                          "fraction of the CPU), dense (the reference), lava (Loihi 2's simulation, in a "
                          "process of its own); default: as last time")
    source = app.add_mutually_exclusive_group()  # (both given: the file played, the device was dropped without a word)
    source.add_argument("--input", metavar="DEVICE", help="input device (name as `spandex devices` lists it)")
    app.add_argument("--output", metavar="DEVICE", help="output device (name as `spandex devices` lists it), or 'none' for no sound")
    source.add_argument("--file", metavar="AUDIO", help="play this file as the microphone, looping (not with --input)")
    app.add_argument("--demo", action="store_true", help="start in the full-screen conference demo mode")
    app.add_argument("--jack", action="store_true",
                     help="open devices through PipeWire's JACK server (lowest latency on PipeWire desktops)")
    app.add_argument("--buffer", type=_buffer_hops, default=None, metavar="HOPS",
                     help=f"output jitter buffer in 8 ms hops, {BUFFER_HOPS[0]} to {BUFFER_HOPS[-1]} (default: as "
                          f"last time, else 2): more survives a busier machine, and adds latency")
    app.add_argument("--virtual-mic", action=argparse.BooleanOptionalAction, default=None,
                     help="publish the denoised sound as the microphone 'SPANDEX denoised microphone' that "
                          "Zoom, Jitsi, OBS or a browser can pick (PipeWire or PulseAudio); default: as last time")
    app.add_argument("--engine", choices=("process", "thread"), default="process",
                     help=argparse.SUPPRESS)  # where the audio engine runs (bench/live.py compares)
    app.add_argument("--quit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    app.add_argument("--screenshot", metavar="PNG", help=argparse.SUPPRESS)
    app.add_argument("--window-size", type=lambda text: tuple(int(v) for v in text.split("x")), metavar="WxH",
                     help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(metavar="COMMAND")
    for command in (denoise_command, eval_command, models_command, data_command, train_command, prune_command,
                    finetune_command, blend_command, narrow_command, sharpen_command, export_command,
                    loihi_report_command, devices_command):
        command.add_parser(subparsers)
    _name_command_parsers(parser)
    return parser


def _name_command_parsers(parser: argparse.ArgumentParser) -> None:
    """Each command's parser in its own defaults (``command_parser``; the innermost, for `data build`), so that
    an unknown option is refused with that command's usage rather than the app's."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.set_defaults(command_parser=command)
                _name_command_parsers(command)


def _buffer_hops(text: str) -> int:
    """``--buffer``: a whole number of hops the engine takes (argparse says which option a refusal is about)."""
    try:
        hops = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 8 ms hops") from None
    if hops not in BUFFER_HOPS:
        raise argparse.ArgumentTypeError(f"{hops}: give {BUFFER_HOPS[0]} to {BUFFER_HOPS[-1]} hops of 8 ms")
    return hops


def start_app(args: argparse.Namespace) -> int:
    from app.launch import AppOptions, run_app

    return run_app(AppOptions(models=args.app_models, backend=args.app_backend, input=args.input, output=args.output,
                              file=args.file, demo=args.demo, jack=args.jack, engine=args.engine,
                              prefill_hops=args.buffer, virtual_mic=args.virtual_mic, quit_after_s=args.quit_after,
                              screenshot=args.screenshot, window_size=args.window_size))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's parser: its usage, not the app's options
        getattr(args, "command_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed (`spandex data build` records it)
    with stop_signals_as_interrupts():
        code = _run(args)
    if _one_of_several_processes():
        _leave_at_once(code)
    return code


def _one_of_several_processes() -> bool:
    """True in a process that has been one of a data-parallel run's (torchrun's; docs/training.md), not merely one
    started where WORLD_SIZE is set (the app, an eval: their exit handlers stop Lava's processes)."""
    distributed = sys.modules.get("engine.training.distributed")
    return bool(getattr(distributed, "group_joined", False))


def _leave_at_once(code: int) -> NoReturn:
    """End a torchrun worker now, its output flushed, without the interpreter's teardown.

    The run has written everything and left its process group. gloo's threads can still outlive the group, and a
    C++ thread destroyed at interpreter exit aborts the process ("terminate called without an active exception",
    seen about once in 20 two-process runs here), which torchrun reports as a failed run.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    try:
        if not hasattr(args, "run"):
            return start_app(args)
        return args.run(args)
    except SpandexError as exc:
        print(f"spandex: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `spandex models | head`: the reader has what it wanted
        silence_closed_output()  # nothing left to flush into the closed pipe at exit
        return 0
    except OSError as exc:  # unwritable output folder, full disk, ...
        if terminal_hung_up(exc):  # its terminal closed mid-write, before SIGHUP's handler ran: as if it had
            return 128 + signal.SIGHUP
        print(f"spandex: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 1
    except Terminated as exc:
        print(f"spandex: interrupted ({signal.Signals(exc.signum).name})", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("spandex: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as exc:  # a defect, not bad input: one line, the traceback only on request
        if os.environ.get("SPANDEX_DEBUG"):
            raise
        print(f"spandex: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(please report it; SPANDEX_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
