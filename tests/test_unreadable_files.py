"""A file this user may not read is said to be that (engine/files/readable.py), not "corrupt" or "System error"."""

from __future__ import annotations

import os
import select
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np

from engine.errors import SpandexError
from engine.files.audio import open_audio, write_wav
from engine.files.netx import load_model
from engine.files.readable import PERMISSION_DENIED
from tests.reference_models import reference_path

NOBODY = 65534


def _messages(paths: list[Path]) -> list[str]:
    """What reading each of ``paths`` says, as a user who may not read them: root cannot be one (it reads any file),
    so as root a forked child becomes nobody first."""
    def read() -> list[str]:
        said = []
        for path, reader in zip(paths, (open_audio, load_model), strict=True):
            try:
                reader(path)
                said.append("read")
            except SpandexError as exc:
                said.append(str(exc))
        return said

    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0)
        return read()
    # (a subprocess cannot be nobody here: the interpreter itself is in root's home; the child reads at once, and is
    # killed should it hang on a lock some thread held at the fork)
    out, into = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        try:
            os.close(out)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            said = "\n".join(read())
        except BaseException as exc:  # noqa: BLE001 — said to the parent, whatever it is
            said = f"the child failed: {exc!r}"
        os.write(into, said.encode())
        os._exit(0)
    os.close(into)
    ready, _, _ = select.select([out], [], [], 60.0)
    if not ready:
        os.kill(child, signal.SIGKILL)
    with os.fdopen(out) as pipe:
        text = pipe.read() if ready else "the child hung"
    os.waitpid(child, 0)
    return text.splitlines()


def test_an_audio_file_and_a_model_only_their_owner_may_read_are_said_to_be_so():
    folder = Path(tempfile.mkdtemp(prefix="spandex-unreadable-"))
    try:
        folder.chmod(0o755)  # (the child, as nobody, can reach the files and not read them)
        clip, model = folder / "clip.wav", folder / "model.net"
        write_wav(clip, np.full(16000, 0.1, np.float32))
        shutil.copy(reference_path("spandex_prune75.net"), model)
        for path in (clip, model):
            path.chmod(0o600)
        assert _messages([clip, model]) == [f"{clip}: {PERMISSION_DENIED}", f"{model}: {PERMISSION_DENIED}"]
        if os.geteuid() == 0:  # and their owner reads them
            assert open_audio(clip).frames == 16000 and load_model(model) is not None
    finally:
        shutil.rmtree(folder)
