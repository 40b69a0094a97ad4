"""Write files so that a reader, or a killed run, never sees half of one.

A file is written under a temporary name beside it (``.{name}.partial-{pid}``) and renamed into
place. Whatever stops a write (a full disk, a read-only folder, an exception, Ctrl-C) removes the
temporary file, and a file-system error becomes ``WriteError``: an ``OSError`` whose file name
is the file meant to be written and whose ``strerror`` says why (``No space left on device``).
Temporary files of killed processes are removed by ``remove_partials``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

PARTIAL = ".partial-"
_WRITING: set[Path] = set()  # temporary files this process is writing now


class WriteError(OSError):
    """A file could not be written (disk full, read-only, no permission); ``filename`` is it."""


def temp_name(path: Path) -> Path:
    """The temporary name a file is written under before its rename into place."""
    return path.with_name(f".{path.name}{PARTIAL}{os.getpid()}")


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Yield the temporary path to write ``path`` under; renamed to ``path`` once the block ends.

    On any exception (``KeyboardInterrupt`` included) the temporary file is removed and nothing
    is renamed; an ``OSError`` is raised again as ``WriteError`` naming ``path``.
    """
    path = Path(path)
    tmp = temp_name(path)
    _WRITING.add(tmp)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        _discard(tmp)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise WriteError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    finally:
        _WRITING.discard(tmp)


def _discard(tmp: Path) -> None:
    # A folder we cannot write to may refuse the unlink too; then there is nothing to remove.
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def open_file(path: Path, buffering: int = -1) -> BinaryIO:
    """A new file opened for binary writing: every temporary file is written through this."""
    return open(path, "wb", buffering=buffering)  # noqa: SIM115 (the caller closes it)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename (``WriteError``)."""
    with writing(path) as tmp, open_file(tmp) as f:
        f.write(data)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 (atomically). A file name that is not UTF-8 reaches Python as
    lone surrogates (``"\\udcff"``), which UTF-8 cannot hold: they are written as that escape, so a
    JSON file stays valid and reads back the same string, and other text shows the byte."""
    write_bytes(path, text.encode("utf-8", errors="backslashreplace"))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def discard_in_progress() -> None:
    """Remove the temporary files this process is writing now (before it is stopped)."""
    for tmp in list(_WRITING):
        _discard(tmp)


def writer_pid(path: Path) -> int | None:
    """The process id in a temporary file's name, or ``None`` if it is not one."""
    _, sep, pid = path.name.rpartition(PARTIAL)
    return int(pid) if sep and path.name.startswith(".") and pid.isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def leftover(path: Path) -> bool:
    """A temporary file no running writer owns: its process is gone, or it is this process and
    the file is not being written now (an earlier failed write)."""
    pid = writer_pid(path)
    if pid is None:
        return False
    if pid == os.getpid():
        return path not in _WRITING
    return not pid_alive(pid)


def remove_partials(folder: Path, *, everyone: bool = False, recursive: bool = True) -> int:
    """Delete leftovers of killed writes under ``folder``; returns how many were removed.

    Temporary files of running processes are kept (they may be writing there now) unless
    ``everyone``: the caller holds the folder's lock, so no other writer can be at work.
    ``recursive=False`` looks in ``folder`` itself only, not in its sub-folders.
    """
    removed = 0
    if folder.is_dir():
        pattern = f".*{PARTIAL}*"
        for p in folder.rglob(pattern) if recursive else folder.glob(pattern):
            if writer_pid(p) is not None and (everyone or leftover(p)):
                p.unlink(missing_ok=True)
                removed += 1
    return removed
