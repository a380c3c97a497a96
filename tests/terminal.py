"""Child processes started as if from a terminal, whatever started the test suite."""

from __future__ import annotations

import signal


def as_if_from_a_terminal() -> None:
    """Undo an inherited SIG_IGN for SIGINT (a shell's background jobs get one, and Python then installs no Ctrl-C
    handler): for ``preexec_fn``, where a test sends the child Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
