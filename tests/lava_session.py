"""Running Lava in a child process of its own session, and finding what it leaves behind.

A Lava runtime forks a process per Lava process and maps shared memory in /dev/shm. Tests run it in a
child that starts a new session (its own process group), with a timeout, so that a hung runtime cannot
hang the suite, Ctrl-C can be sent to exactly that group, and every leftover process can be found (and
killed) by its session id. Shared memory is checked through /proc/PID/maps: only segments our processes
mapped count, not those of anything else running on the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SessionRun:
    returncode: int
    output: str
    leftovers: list[int]


def run_in_own_session(code: str, args: list[str], timeout_s: float) -> SessionRun:
    """Run ``python -c code args...`` from the repository root in a new session; wait for all of it.

    On timeout the whole session is killed and the run reported with returncode -9. ``leftovers`` are
    the session's processes still alive 10 s after the child exited (then killed).
    """
    child = subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO_ROOT, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        output, _ = child.communicate()
        output += f"\n[killed: no result within {timeout_s:.0f} s]"
    leftovers = wait_for_session_to_empty(child.pid, timeout_s=10.0)
    for pid in leftovers:
        kill_quietly(pid)
    return SessionRun(child.returncode, output, leftovers)


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended while we looked
        return None
    return stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...


def session_members(session_id: int) -> list[int]:
    """Live (not zombie) processes of a session."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields and fields[0] != "Z" and int(fields[3]) == session_id:
                members.append(int(entry.name))
    return members


def children_of(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``, except Python's multiprocessing resource tracker.

    The tracker is one helper per interpreter, started with the first shared memory segment; it stays
    until its parent exits (then it unlinks whatever was left). The session checks see it go.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields and fields[0] != "Z" and int(fields[1]) == pid and not _is_resource_tracker(entry):
                found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every live (not zombie) process below ``pid``: children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields and fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _is_resource_tracker(proc: Path) -> bool:
    try:
        return b"multiprocessing.resource_tracker" in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def shared_memory_of(pids: list[int]) -> set[str]:
    """The /dev/shm files these processes have mapped."""
    segments = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        for line in maps.splitlines():
            path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
            if path.startswith("/dev/shm/"):
                segments.add(path.removesuffix(" (deleted)"))
    return segments


def wait_for_session_to_empty(session_id: int, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (members := session_members(session_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return members


def wait_for_no_children(pid: int, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (members := children_of(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return members


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
