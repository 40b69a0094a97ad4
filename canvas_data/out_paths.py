"""Where a command writes: checked before any work, and kept apart from what it reads.

:func:`check_out` refuses, in one line naming the path, an output location that cannot be
written (a file or a broken link where a folder must be, a folder without write permission),
so that a command fails at once rather than after hours of work.

Writing a pack into its own workspace, or an export into the packed folder it reads, mixes
outputs with inputs: the next run reads its own output as input (or overwrites the workspace's
``recipe.yaml``). :func:`refuse_inside` stops such a run before anything is written.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from canvas_data.errors import InputError, in_the_way


def check_out(path: Path | str, file: bool = False) -> None:
    """Raise when nothing can be written at ``path``; write nothing, make no folder.

    ``path`` is an output folder (``file=False``) or an output file (``file=True``). Every
    existing component of it must be a folder (``path`` itself may be a file when ``file``),
    and the nearest existing folder (``path`` itself for an existing folder, its folder for an
    existing file) must be writable.

    Raises ``InputError`` (a ``ValueError``) ``"PART: is a broken link to TARGET"`` or
    ``"PART: is a file, not a folder"`` naming the first component, root down, that blocks;
    ``PermissionError`` naming the folder that cannot be written in.
    """
    path = Path(path)
    blocking = in_the_way(path, last_may_be_file=file)
    if blocking is not None:
        raise InputError(blocking)
    folder = path
    while not folder.is_dir():  # the first existing folder, up from path (or path's folder)
        if folder == folder.parent:
            return
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "no permission to write in this folder", str(folder))


def refuse_inside(out: Path, source: Path, out_name: str, source_name: str) -> None:
    """Raise ``ValueError`` when ``out`` is ``source`` or lies inside it (symlinks resolved).

    ``out_name`` and ``source_name`` are how the user named them (``--out``, ``--work``).
    """
    o, s = Path(out).resolve(), Path(source).resolve()
    if o == s or o.is_relative_to(s):
        where = "is" if o == s else "is inside"
        raise ValueError(
            f"{out}: {out_name} {where} {source_name} {source}, which it reads; "
            f"choose an {out_name} folder outside it"
        )
