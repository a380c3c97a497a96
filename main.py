"""``python main.py`` does what ``spandex`` does with the same arguments (no arguments: the app)."""

import sys

from cli.main import main

if __name__ == "__main__":
    sys.exit(main())
