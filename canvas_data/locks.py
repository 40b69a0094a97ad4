"""Locks between processes that write into the same folder, with ``filelock`` (``flock`` on Linux).

``exclusive(lock_file, folder, ...)`` keeps a second run of a command out of a folder the first
is writing, with a one-line error that names the holder's process id (kept beside the lock).
``claim(path)`` takes one unit of shared work (a painting), so that runs sharing a workspace
split the work between them. The kernel releases a lock when its holder dies, so a killed run
never leaves one behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from canvas_data.atomic import write_text
from canvas_data.errors import InputError


class Busy(InputError):
    """Another process holds the lock."""


def _pid_file(lock_file: Path) -> Path:
    return lock_file.with_name(lock_file.name + ".pid")


def holder(lock_file: Path) -> str:
    """The process id the holder of a lock recorded (``"unknown"`` when it cannot be read)."""
    try:
        pid = _pid_file(Path(lock_file)).read_text().strip()
    except OSError:
        return "unknown"
    return pid if pid.isdigit() else "unknown"


def _file_lock(lock_file: Path) -> FileLock:
    """A process-wide (not per-thread) lock on ``lock_file``, its folder made if needed."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(lock_file, thread_local=False)


@contextlib.contextmanager
def exclusive(lock_file: Path, folder: Path, command: str, option: str) -> Iterator[None]:
    """Hold ``lock_file`` while ``command`` writes ``folder``; ``Busy`` at once if held.

    The message: ``FOLDER is being written by another canvas-build COMMAND (pid N); wait or use
    another OPTION``.
    """
    lock_file = Path(lock_file)
    lock = _file_lock(lock_file)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise Busy(
            f"{folder} is being written by another canvas-build {command} "
            f"(pid {holder(lock_file)}); wait or use another {option}"
        ) from None
    try:
        write_text(_pid_file(lock_file), f"{os.getpid()}\n")
        yield
    finally:
        lock.release()


def claim(lock_file: Path, *, wait: bool = False) -> FileLock | None:
    """Take the lock of one unit of work: ``None`` if another process has it (unless ``wait``)."""
    lock = _file_lock(Path(lock_file))
    try:
        lock.acquire(blocking=wait)
    except Timeout:
        return None
    return lock


def release(lock: FileLock, *, finished: bool) -> None:
    """Release a claim; once its work is ``finished`` the lock file is removed too.

    Removing it is safe then: a process that opened the old file before the removal, or creates
    a new one after it, checks that the work is done before doing it.
    """
    if finished:
        Path(lock.lock_file).unlink(missing_ok=True)
    lock.release()
