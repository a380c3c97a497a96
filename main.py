"""``python main.py`` does what ``spandex`` does with the same arguments (no arguments: the app)."""

import sys

from cli.entry import run

if __name__ == "__main__":
    sys.exit(run())
