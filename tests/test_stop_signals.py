"""How SPANDEX's processes stop on a signal (engine/stop_signals.py): the app's children ignore the signals a
terminal sends the whole process group, from their first instruction; a command stopped by a closed terminal
finishes quietly, its training run checkpointed, instead of failing on its first write to the terminal."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import pty
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from engine.stop_signals import TERMINAL_SIGNALS, start_deaf_to_terminal_signals
from engine.training.run_folder import CHECKPOINT_NAME
from tests.reference_models import reference_path

REPO = Path(__file__).resolve().parents[1]


def ignored_signals(pid: int) -> set[int]:
    """The signals the kernel lists as ignored by the process (/proc/PID/status, SigIgn)."""
    status = (Path("/proc") / str(pid) / "status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


def test_a_child_ignores_the_terminals_signals_from_its_start_and_the_parent_keeps_its_handlers():
    before = {signum: signal.getsignal(signum) for signum in TERMINAL_SIGNALS}
    # as a terminal's foreground job has them (a suite run in the background may have inherited SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    spawn = multiprocessing.get_context("spawn")
    child, plain = (spawn.Process(target=time.sleep, args=(30,), daemon=True) for _ in range(2))
    try:
        start_deaf_to_terminal_signals(child)
        assert set(TERMINAL_SIGNALS) <= ignored_signals(child.pid)  # at once: before its imports, not after them
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the parent's own handlers are back
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
        plain.start()  # the check can fail: a plain start leaves them to Python's handlers and the default
        assert not set(TERMINAL_SIGNALS) & ignored_signals(plain.pid)
    finally:
        for process in (child, plain):
            if process.pid is not None:
                process.kill()
                process.join(5)
        for signum, handler in before.items():
            signal.signal(signum, handler)


def _on_a_terminal_of_its_own() -> None:
    """In the child, before exec: a session of its own whose controlling terminal is its stdin (the pty)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def spandex_on_a_terminal(args: list[str], cwd: Path) -> tuple[subprocess.Popen, int]:
    """`spandex ARGS` in a session of its own on a pseudo-terminal, as from a terminal window; the terminal's other
    end, which the test closes to hang it up."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=cwd, stdin=terminal, stdout=terminal,
                               stderr=terminal, env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True,
                               preexec_fn=_on_a_terminal_of_its_own)
    os.close(terminal)
    return process, controller


def test_a_training_run_whose_terminal_closes_checkpoints_and_exits_129(tiny_dataset, tmp_path):
    """Closing the terminal sends SIGHUP; every write to the terminal then fails with EIO. The run printed its
    "stopping after this step" line there, failed mid-step with "Input/output error", exit 1, and lost its folder."""
    args = ["prune", str(reference_path("ndns_baseline.net")), "--sparsity", "0.6", "--frequency", "1", "--prunes",
            "2", "--dataset", str(tiny_dataset), "--name", "hung-up", "--out", str(tmp_path / "run"), "--steps",
            "100000", "--batch-size", "2", "--segment-seconds", "0.5", "--eval-every", "100000", "--eval-clips", "2",
            "--threads", "1", "--no-install"]
    process, controller = spandex_on_a_terminal(args, REPO)
    seen = b""
    try:
        deadline = time.monotonic() + 240
        while b"\nstep " not in seen and time.monotonic() < deadline and process.poll() is None:
            try:
                seen += os.read(controller, 4096)
            except OSError:
                break
        assert b"\nstep " in seen, seen.decode(errors="replace")[-2000:]
    finally:
        os.close(controller)  # the terminal hangs up: SIGHUP to its session's leader, the run
    try:
        assert process.wait(timeout=120) == 128 + signal.SIGHUP
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "run" / CHECKPOINT_NAME).is_file()  # its steps kept, to resume


@pytest.mark.parametrize("command", ["denoise"])
def test_a_command_whose_terminal_closes_stops_quietly(tmp_path, noisy_speech, command):
    """Not a training run: a command unwinds on SIGHUP as on Ctrl-C (its temporary output removed), and its last
    words go nowhere instead of raising on the hung-up terminal."""
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "long.wav", np.tile(noisy_speech[0].astype(np.float32), 40), 16000)
    process, controller = spandex_on_a_terminal(
        ["denoise", "long.wav", "out.wav", "--model", str(reference_path("ndns_baseline.net"))], tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".out.wav.*.tmp")) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert list(tmp_path.glob(".out.wav.*.tmp")), "denoising did not start"
    finally:
        os.close(controller)
    try:
        assert process.wait(timeout=60) == 128 + signal.SIGHUP
    finally:
        if process.poll() is None:
            process.kill()
    assert not (tmp_path / "out.wav").exists() and not list(tmp_path.glob(".out.wav.*"))


def test_a_training_run_whose_output_reader_goes_away_checkpoints_and_says_so(tiny_dataset, tmp_path):
    """`spandex train … | head`: the pipe's reader gone, the run ended with exit 0 and no word (the error taken for
    `spandex models | head`'s), its folder lost. It stops as on a signal: checkpointed, exit 128 + SIGPIPE."""
    (tmp_path / "r.yaml").write_text(f"name: r\ndataset: {tiny_dataset}\nsteps: 100000\nhidden_sizes: [32, 32]\n"
                                     f"batch_size: 2\nsegment_seconds: 0.5\nlog_every: 1\nthreads: 1\n")
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "train", str(tmp_path / "r.yaml"), "--out",
                                str(tmp_path / "run")], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if line.startswith("step "):
                break
        process.stdout.close()  # as `head` does once it has its lines
        said = process.stderr.read()
        assert process.wait(timeout=120) == 128 + signal.SIGPIPE, said
    finally:
        if process.poll() is None:
            process.kill()
    assert "the output's reader is gone: stopping after this step (checkpointing first)" in said
    assert (tmp_path / "run" / CHECKPOINT_NAME).is_file()
