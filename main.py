"""``python main.py`` does what ``spandex`` does with the same arguments (no arguments: the app)."""

import sys

if __name__ == "__main__":
    try:
        from cli.main import main
    except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing started yet
        print("spandex: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())
