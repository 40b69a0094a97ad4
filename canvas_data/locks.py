"""Locks between processes that write into the same folder, with ``filelock`` (``flock`` on Linux).

``exclusive(lock_file, folder, ...)`` keeps a second run of a command out of a folder the first
is writing, with a one-line error that names the holder's process id (kept beside the lock).
``claim(path)`` takes one unit of shared work (a painting), so that runs sharing a workspace
split the work between them. The kernel releases a lock when its holder dies, so a killed run
never leaves one held; a lock file is removed when its lock is released, and the files a
stopped process left are removed by the run that stopped it (``remove_free_claims``).
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
    lock = claim(lock_file)
    if lock is None:
        raise Busy(
            f"{folder} is being written by another canvas-build {command} "
            f"(pid {holder(lock_file)}); wait or use another {option}"
        )
    try:
        write_text(_pid_file(lock_file), f"{os.getpid()}\n")
        yield
    finally:
        _pid_file(lock_file).unlink(missing_ok=True)
        release(lock)  # no lock file is left behind, after an error or Ctrl-C too


def claim(lock_file: Path, *, wait: bool = False) -> FileLock | None:
    """Take the lock of one unit of work: ``None`` if another process has it (unless ``wait``).

    The lock is the file at ``lock_file`` now: one removed (or replaced) while this process
    waited for it is taken again, so a removed lock file never gives two holders.
    """
    lock_file = Path(lock_file)
    while True:
        lock = _file_lock(lock_file)
        try:
            lock.acquire(blocking=wait)
        except Timeout:
            return None
        if _holds_current(lock, lock_file):
            return lock
        lock.release()


def _holds_current(lock: FileLock, lock_file: Path) -> bool:
    """Whether the file ``lock`` holds is still the one at ``lock_file`` (not removed since)."""
    fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
    if fd is None:  # no file descriptor to compare: trust the lock
        return True
    try:
        return os.fstat(fd).st_ino == os.stat(lock_file).st_ino
    except FileNotFoundError:
        return False


def release(lock: FileLock, *, finished: bool = False) -> None:
    """Release a claim and remove its lock file (while still holding it): a process waiting on
    the removed file takes the new one instead (see :func:`claim`). ``finished`` is kept for
    callers that say whether the work was done; the file goes either way."""
    Path(lock.lock_file).unlink(missing_ok=True)
    lock.release()


def remove_free_claims(lock_files: list[Path]) -> int:
    """Remove the lock files among ``lock_files`` that no process holds (those left by
    processes that were stopped: the kernel freed their locks, the files stay); returns how
    many. Files held by a running process are kept."""
    removed = 0
    for path in lock_files:
        if not path.is_file():
            continue
        lock = claim(path)
        if lock is not None:
            release(lock)
            removed += 1
    return removed
