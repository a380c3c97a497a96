"""Start the app: the engine process, the Qt application and the main window; tear all down in order."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from assets import asset_path
from engine.errors import SpandexError
from engine.library.catalog import default_lineup
from engine.live.host import EngineHost
from engine.live.protocol import EngineConfig

DEMO_CLIP = asset_path("demo", "noisy_speech.flac")
JACK_LIBS = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack"


@dataclass
class AppOptions:
    """What ``spandex`` (no subcommand) was asked for; see ``cli/main.py``."""

    models: list[str] = field(default_factory=list)
    backend: str = "sparse"
    input: str | None = None
    output: str | None = None
    file: str | None = None
    demo: bool = False
    jack: bool = False
    engine: str = "process"
    prefill_hops: int = 2
    quit_after_s: float | None = None   # close by itself (smoke tests, screenshots)
    screenshot: str | None = None       # save the window as PNG just before quitting


def engine_config(options: AppOptions, settings) -> EngineConfig:
    """The engine's start: explicit options first, then the remembered choices, then defaults."""
    models = list(options.models)
    if not models:
        models = [str(entry.path) for entry in default_lineup()]
    remembered_input = settings.value("input") if settings is not None else None
    remembered_output = settings.value("output") if settings is not None else None
    file, device = options.file, options.input
    if file is None and device is None and remembered_input:
        if str(remembered_input).startswith("file:") and Path(str(remembered_input)[5:]).is_file():
            file = str(remembered_input)[5:]
        elif not str(remembered_input).startswith("file:"):
            device = str(remembered_input)
    output = options.output if options.output is not None else remembered_output
    return EngineConfig(models=models, backend=options.backend, input=device, output=output, file=file,
                        fallback_file=str(DEMO_CLIP) if DEMO_CLIP.is_file() else None,
                        prefill_hops=options.prefill_hops)


def has_display() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    return bool(platform and not platform.startswith(("xcb", "wayland"))) or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform != "linux"


def run_app(options: AppOptions) -> int:
    """Run the window until it is closed; returns the exit status."""
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
    host = EngineHost(engine_config(options, settings), mode=options.engine, env=env or None).start()
    window = MainWindow(host, DEMO_CLIP, settings, backend=options.backend)
    try:
        window.show()
        if options.demo:
            window.set_demo_mode(True)
        host.list_devices()
        if options.quit_after_s is not None:
            def finish() -> None:
                if options.screenshot:
                    window.grab().save(options.screenshot)
                app.quit()
            QtCore.QTimer.singleShot(int(options.quit_after_s * 1000), finish)
        return app.exec()
    finally:
        window.shutdown()
        window.deleteLater()
        host.stop()
        app.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
        app.processEvents()
