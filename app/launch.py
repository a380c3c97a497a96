"""Start the app: the engine process, the Qt application and the main window; tear all down in order."""

from __future__ import annotations

import os
import signal
import socket
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.remembered import remembered
from assets import asset_path
from engine.backends import BACKEND_NAMES
from engine.errors import SpandexError
from engine.files.audio import open_audio
from engine.files.netx import TORCH_SUFFIXES, load_model
from engine.library.catalog import default_lineup, model_file
from engine.live.host import EngineHost
from engine.live.protocol import BUFFER_HOPS, EngineConfig
from engine.live.record import MAX_MODELS
from engine.stop_signals import STOP_SIGNALS, silence_hung_up_terminal

DEMO_CLIP = asset_path("demo", "noisy_speech.flac")
JACK_LIBS = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack"


@dataclass
class AppOptions:
    """What ``spandex`` (no subcommand) was asked for; see ``cli/main.py``."""

    models: list[str] = field(default_factory=list)
    backend: str | None = None          # None: as last time, else sparse
    input: str | None = None
    output: str | None = None
    file: str | None = None
    demo: bool = False
    jack: bool = False
    engine: str = "process"
    prefill_hops: int | None = None     # None: as last time, else 2
    virtual_mic: bool | None = None     # None: as last time (off the first time)
    quit_after_s: float | None = None   # close by itself (smoke tests, screenshots)
    screenshot: str | None = None       # save the window as PNG just before quitting
    window_size: tuple[int, int] | None = None  # the window's size in pixels (screenshots)


DEFAULT_BACKEND = "sparse"
DEFAULT_BUFFER_HOPS = 2


def _remembered_buffer(settings) -> int:
    """The jitter buffer saved by an earlier run, or the default where the saved value is not one the engine takes
    (an older version's, or a settings file edited by hand): a bad value must not stop every later start."""
    if settings is not None and isinstance(settings.value("buffer"), bool):  # int(True) would be one hop
        return DEFAULT_BUFFER_HOPS
    hops = remembered(settings, "buffer", int, DEFAULT_BUFFER_HOPS)
    return hops if hops in BUFFER_HOPS else DEFAULT_BUFFER_HOPS


def resolved_options(options: AppOptions, settings) -> AppOptions:
    """``options`` with what the command line left open taken from the last run, then the defaults.
    The choices are saved again, so the next start begins where this one was."""
    backend = options.backend or remembered(settings, "backend", str, DEFAULT_BACKEND)
    if backend not in BACKEND_NAMES:
        backend = DEFAULT_BACKEND
    resolved = replace(
        options, backend=backend,
        prefill_hops=options.prefill_hops if options.prefill_hops is not None
        else _remembered_buffer(settings),
        virtual_mic=options.virtual_mic if options.virtual_mic is not None
        else remembered(settings, "virtual_mic", bool, False))
    if settings is not None:
        for key, value in (("backend", resolved.backend), ("buffer", resolved.prefill_hops),
                           ("virtual_mic", resolved.virtual_mic)):
            settings.setValue(key, value)
    return resolved


def engine_config(options: AppOptions, settings) -> EngineConfig:
    """The engine's start: explicit options first, then the remembered choices (devices, the models
    loaded when the app was last closed, backend, buffer, virtual microphone), then defaults."""
    options = resolved_options(options, settings)
    models = list(options.models)
    if not models:
        last_models = remembered(settings, "models", list, [])
        models = [m for m in last_models if Path(m).is_file()]
        if len(models) < len(last_models):  # moved or deleted since: said, not dropped without a word
            print(f"spandex: left out, no longer there: {', '.join(m for m in last_models if m not in models)} "
                  f"(loaded when the app was last closed)", file=sys.stderr)
        for model in list(models):  # there, and not a model (replaced, truncated): said, and the rest load
            try:
                checked_model(model)
            except SpandexError as exc:
                models.remove(model)
                print(f"spandex: left out, loaded when the app was last closed and not loadable now: "
                      f"{str(exc).removeprefix('--model: ')}", file=sys.stderr)
        if len(models) > MAX_MODELS:  # (a settings file edited by hand)
            print(f"spandex: left out, past the {MAX_MODELS} models the app runs at once: {', '.join(models[MAX_MODELS:])}"
                  " (loaded when the app was last closed)", file=sys.stderr)
            models = models[:MAX_MODELS]
    if not models:
        models = [str(entry.path) for entry in default_lineup()]
    remembered_input = remembered(settings, "input", str, None)
    remembered_output = remembered(settings, "output", str, None)
    for key in ("input", "output"):
        if settings is not None and isinstance(settings.value(key), list):  # (a hand edit: said, not dropped unsaid)
            print(f"spandex: left out, the saved {key} device is not one name: {', '.join(settings.value(key))} (an "
                  "unquoted comma in the settings file; quote the name)", file=sys.stderr)
    file, device = options.file, options.input
    if file is None and device is None and remembered_input:
        if str(remembered_input).startswith("file:") and Path(str(remembered_input)[5:]).is_file():
            file = str(remembered_input)[5:]
        elif not str(remembered_input).startswith("file:"):
            device = str(remembered_input)
    output = options.output if options.output is not None else remembered_output
    return EngineConfig(models=models, backend=options.backend or DEFAULT_BACKEND, input=device, output=output,
                        file=file,
                        fallback_file=str(DEMO_CLIP) if DEMO_CLIP.is_file() else None,
                        prefill_hops=DEFAULT_BUFFER_HOPS if options.prefill_hops is None else options.prefill_hops,
                        virtual_mic=bool(options.virtual_mic))


def has_display() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    return bool(platform and not platform.startswith(("xcb", "wayland"))) or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform != "linux"


def checked_model(spec: str) -> Path:
    """The model file ``spec`` names, absolute (the settings remember it, wherever the app starts next), read once
    before the window opens (the engine reads it again; a netx file takes milliseconds): a torch state dict is only
    found, since reading one needs torch, which takes the GUI process tens of seconds to import (the engine reads
    it, and says so in the window if it cannot)."""
    try:
        path = model_file(spec)
        if path.suffix.lower() not in TORCH_SUFFIXES or not path.is_file():
            load_model(path)  # (which names a folder or a missing file as such)
    except SpandexError as exc:
        raise SpandexError(f"--model: {exc}") from None
    return Path(os.path.abspath(path))  # a link stays a link: its card is beside it, under its name


def checked_models(specs: list[str]) -> list[str]:
    """Each ``--model`` as :func:`checked_model` gives it; every one that cannot be used is named, in one message."""
    if len(specs) > MAX_MODELS:
        raise SpandexError(f"--model: {len(specs)} models given; the app runs at most {MAX_MODELS} at once")
    paths, problems = [], []
    for spec in specs:
        try:
            paths.append(str(checked_model(spec)))
        except SpandexError as exc:
            problems.append(str(exc))
    if problems:
        raise SpandexError("; ".join(problems))
    return paths


def run_app(options: AppOptions) -> int:
    """Run the window until it is closed; returns the exit status."""
    if options.file is not None:  # asked for by name: said at once if it cannot be played (not the demo instead)
        try:
            open_audio(options.file)
        except SpandexError as exc:
            raise SpandexError(f"--file {exc}") from None
    if options.models:  # a model too: a typo or a broken file is said at once, not shown in a window without it
        options = replace(options, models=checked_models(options.models))
    if not has_display():
        raise SpandexError("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): run "
                           "it on a desktop, under xvfb-run, or with QT_QPA_PLATFORM=offscreen")
    from PySide6 import QtCore, QtWidgets

    from app.window.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["spandex"])
    app.setApplicationName("SPANDEX")
    settings = QtCore.QSettings("SPANDEX", "spandex")
    env = {}
    if options.jack:
        env["LD_LIBRARY_PATH"] = JACK_LIBS + (":" + os.environ["LD_LIBRARY_PATH"]
                                              if os.environ.get("LD_LIBRARY_PATH") else "")
    config = engine_config(options, settings)
    stops = _quit_on_signals(app)  # from here on Ctrl-C / SIGTERM stop the app in order
    host = window = None
    try:
        host = EngineHost(config, mode=options.engine, env=env or None).start()
        window = MainWindow(host, DEMO_CLIP, settings, backend=config.backend)
        if options.window_size:  # (over a remembered full screen too)
            window.setWindowState(window.windowState() & ~QtCore.Qt.WindowState.WindowFullScreen)
            window.resize(*options.window_size)
        window.show()
        if options.demo:
            window.controller.set_demo_mode(True)
        host.list_devices()
        if options.quit_after_s is not None:
            def finish() -> None:
                if options.screenshot:
                    _say_if_not_the_size_asked(window, options.window_size)
                    if not window.grab().save(options.screenshot):
                        print(f"spandex: error: --screenshot {options.screenshot} could not be written (a folder "
                              "that is not there, or a name without .png or .jpg)", file=sys.stderr)
                        app.exit(1)
                        return
                app.quit()
            QtCore.QTimer.singleShot(int(options.quit_after_s * 1000), finish)
        status = app.exec() if not stops else 0  # a signal while the window was built: stop now
        if stops:
            print(f"spandex: {signal.Signals(stops[0]).name}: stopped cleanly", file=sys.stderr)
        return status
    finally:
        if window is not None:
            # a recording in progress is written first; a training run is asked to stop, the engine closes (the
            # device first), then the run is waited for while it checkpoints
            window.shutdown(before_waiting=host.stop if host is not None else lambda: None)
            window.deleteLater()
        if host is not None and not host.stopping:
            host.stop()        # the engine, its Lava processes and the virtual microphone
        app.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
        app.processEvents()
        signal.set_wakeup_fd(-1)
        for sig, handler in _SIGNAL_HANDLERS.items():
            signal.signal(sig, handler)


def _say_if_not_the_size_asked(window, size: tuple[int, int] | None) -> None:
    """Say why a screenshot is not of the size asked for, rather than save one of another size silently: the demo
    page is full screen, and a window larger than its screen is shrunk to fit it."""
    if not size or (window.width(), window.height()) == tuple(size):
        return
    screen = window.screen().size()
    why = ("the window is full screen (the demo page; leave out --demo)" if window.isFullScreen() else
           f"the screen is {screen.width()}x{screen.height()} (Qt's offscreen screen is 800x800 unless "
           "QT_QPA_PLATFORM=offscreen:configfile=FILE gives it another size; `make screenshot` does)")
    print(f"spandex: the screenshot is {window.width()}x{window.height()}, not the {size[0]}x{size[1]} asked for: "
          f"{why}", file=sys.stderr)


_SIGNAL_HANDLERS: dict[int, Any] = {}


def _quit_on_signals(app) -> list[int]:
    """Ctrl-C (SIGINT), SIGTERM and a closed terminal (SIGHUP) end the event loop, so that the app stops in order (see
    :func:`run_app`'s ``finally``) instead of raising in whichever Qt slot runs. Python runs a signal
    handler only between bytecodes; Qt's loop, in C++, is woken through a socket the handler's
    signal writes to (``signal.set_wakeup_fd``). Returns the list the signals received go into."""
    from PySide6 import QtCore

    received: list[int] = []
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    notifier = QtCore.QSocketNotifier(reader.fileno(), QtCore.QSocketNotifier.Type.Read, app)
    notifier.activated.connect(lambda *_: reader.recv(64))  # a Python slot: the handler runs before it
    app._signal_wakeup = (reader, writer, notifier)  # kept as long as the app

    def stop(number, frame) -> None:
        if number == signal.SIGHUP:  # the terminal closed: what the app says from here on would fail to be written
            silence_hung_up_terminal()
        received.append(number)
        # not app.quit() here: the handler runs inside whatever Python code was running (a plot tick),
        # and quitting closes the window under it; the event loop quits as its next job instead
        QtCore.QTimer.singleShot(0, app.quit)

    for sig in (signal.SIGINT, *STOP_SIGNALS):
        _SIGNAL_HANDLERS.setdefault(sig, signal.getsignal(sig))
        signal.signal(sig, stop)
    signal.set_wakeup_fd(writer.fileno())
    return received
