"""Where the ``spandex`` command and ``python main.py`` start. A Ctrl-C that nothing further in handles — while the
libraries load (seconds on a loaded machine) or the options are read — ends with one line and exit status 130, not
a traceback; the commands that can be stopped midway (training, data builds) handle it themselves first."""

from __future__ import annotations

import sys


def run() -> int:
    try:
        from cli.main import main

        return main()
    except KeyboardInterrupt:
        print("spandex: interrupted", file=sys.stderr)
        return 130
