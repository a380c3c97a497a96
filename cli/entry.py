"""Where the ``spandex`` command and ``python main.py`` start: the libraries load here, where a Ctrl-C while they do
(seconds on a loaded machine) ends with one line and exit status 130, not a traceback; nothing has started yet."""

from __future__ import annotations

import sys


def run() -> int:
    try:
        from cli.main import main
    except KeyboardInterrupt:
        print("spandex: interrupted", file=sys.stderr)
        return 130
    return main()
