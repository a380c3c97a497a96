"""Child processes the app stops in order, deaf to the terminal's Ctrl-C.

Ctrl-C at a terminal sends SIGINT to the whole foreground process group: the app and every process it started.
The app then stops its children in order (the engine closes the audio device first; a training run checkpoints
first). A child that acted on the signal itself would die mid-step with a traceback and lose what it had not saved.
So a child is started with SIGINT ignored: an ignored signal stays ignored across fork and exec, and Python keeps
it so (it installs its KeyboardInterrupt handler only where SIGINT is at its default), so the child is deaf from its
first instruction, imports included. The app's own handler is back as soon as the child has started.
"""

from __future__ import annotations

import signal
import threading
from multiprocessing.process import BaseProcess


def start_deaf_to_ctrl_c(process: BaseProcess) -> None:
    """``process.start()`` with SIGINT ignored in the child.

    Only the main thread may change a signal's handler: started from another thread, the child ignores SIGINT once
    its own code says so (both children here do, first thing). A Ctrl-C in the few milliseconds the start takes is
    ignored by the parent too."""
    if threading.current_thread() is not threading.main_thread():
        process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
