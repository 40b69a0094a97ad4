"""One-line messages for failures a user can cause: bad paths, broken files, full disks.

``one_line(err)`` says what went wrong in one line, naming the file where the error knows it;
``validation_line(err)`` does the same for a pydantic ``ValidationError`` (a recipe, a
manifest); ``reading(path)`` wraps the parsing of one file so that any failure names that file.
The command lines print these lines instead of a traceback (``canvas_data.cli.common``).
"""

from __future__ import annotations

import errno
import importlib
import os
import pickle
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

DEBUG_ENV = "CANVAS_DEBUG"
# A folder was needed where a file or a broken link is (ENOENT: a link whose target is gone).
NO_FOLDER = (errno.EEXIST, errno.ENOTDIR, errno.ENOENT)


class InputError(ValueError):
    """A file or folder that cannot be used; the message names it and says why."""


def expected_errors() -> tuple[type[BaseException], ...]:
    """Exception kinds that mean bad input or a failing disk rather than a bug of the toolkit.

    ``KeyError`` and ``IndexError`` are not among them: a missing key or index is a bug unless
    the code that reads a user's file or name says otherwise (it raises ``InputError``).
    """
    import yaml

    return (
        OSError,
        ValueError,
        EOFError,
        pickle.UnpicklingError,
        tarfile.TarError,
        zipfile.BadZipFile,
        yaml.YAMLError,
        *_optional("safetensors", "SafetensorError"),
    )


def _optional(module: str, name: str) -> list[type[BaseException]]:
    """``[module.name]`` when that package is installed, else ``[]``."""
    try:
        return [getattr(importlib.import_module(module), name)]
    except ImportError:
        return []


def one_line(err: BaseException, *, kind: bool = False, limit: int | None = None) -> str:
    """``err`` as one line: ``path: reason`` for file-system errors, else its message.

    ``kind`` puts the exception's class first (``ZeroDivisionError: division by zero``), for
    errors from code whose failures have no set kinds (a plugin, a parser of hostile input);
    ``limit`` cuts the line to that many characters, ending it with ``...``.
    """
    text = _reason(err)
    if kind and text != type(err).__name__:
        text = f"{type(err).__name__}: {text}"
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno in NO_FOLDER and err.filename is not None:
        blocking = in_the_way(Path(os.fsdecode(err.filename)))
        if blocking is not None:  # a folder to make, or to go through, where a file or link is
            return blocking
    if isinstance(err, OSError) and err.filename is not None:
        where = printable(os.fsdecode(err.filename))
        if err.filename2 is not None:
            where += f" -> {printable(os.fsdecode(err.filename2))}"
        return f"{where}: {err.strerror or type(err).__name__}"
    mark = getattr(err, "problem_mark", None)
    if mark is not None:  # a YAML syntax or tag error: file, line and column, then the problem
        problem = getattr(err, "problem", None) or type(err).__name__
        where = f"line {mark.line + 1}, column {mark.column + 1}: {' '.join(problem.split())}"
        return where if mark.name.startswith("<") else f"{printable(mark.name)}: {where}"
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    text = " ".join(text.split())
    return text or type(err).__name__


def validation_line(err: ValidationError, limit: int = 3, root: str = "") -> str:
    """The first ``limit`` faults of a pydantic ``err`` as ``field.path: reason`` joined by
    ``; `` (one line, ``(and N more)`` after them); ``root`` names a fault of the whole value.

    A value that matches no member of a union gives one fault per member: only the first is
    kept. A refused key (error type ``unknown_key``, with ``key``, ``hint`` and ``known`` in its
    context) reads ``unknown key PATH.KEY (did you mean ...); known keys: ...``. The value a
    fault is about is shown after ``got``, cut to 60 characters.
    """
    lines: dict[str, str] = {}
    for e in err.errors(include_url=False):
        path = [str(p) for p in e["loc"] if not _is_type_tag(p)]
        if e["type"] == "unknown_key":
            ctx = e["ctx"]
            where = ".".join([*path, ctx["key"]])
            lines.setdefault(where, f"unknown key {where}{ctx['hint']}; known keys: {ctx['known']}")
            continue
        where = ".".join(path) or root
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "missing"
        elif e["type"] not in _SAYS_ITS_VALUE:
            got = repr(e["input"])
            msg = f"{msg}, got {got if len(got) <= 60 else got[:57] + '...'}"
        lines.setdefault(where, f"{where}: {msg}" if where else msg)
    shown = list(lines.values())[:limit]
    more = len(lines) - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


# Error types whose message already says what the value was, or that have none to show.
_SAYS_ITS_VALUE = {"names", "not_a_mapping", "value_error"}


def _is_type_tag(part: object) -> bool:
    """Pydantic adds the member type of a union to an error's location (``int``, ``str``...)."""
    return isinstance(part, str) and (
        part in {"int", "str", "float", "bool", "date"}
        or part.startswith(("function-", "constrained-", "literal[", "list[", "dict["))
    )


def printable(name: str) -> str:
    """A file name as one line: control characters (a newline, a tab, ESC) written as escapes
    (``\\n``, ``\\t``, ``\\x1b``), so that a name cannot add a line or move the cursor."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def in_the_way(path: Path, last_may_be_file: bool = False) -> str | None:
    """What stands where ``path`` needs folders, as ``"part: reason"``; ``None`` if nothing does.

    Walks ``path`` from the root down and stops at the first component that is a broken
    symbolic link (``"is a broken link to TARGET"``) or that exists and is not a folder
    (``"is a file, not a folder"``; ``path`` itself may be a file when ``last_may_be_file``),
    or that does not exist (``None``: nothing blocks, the rest can be made).
    """
    try:
        return _blocking_part(path, last_may_be_file)
    except OSError:  # a folder that cannot be looked into: nothing more to say here
        return None


def _blocking_part(path: Path, last_may_be_file: bool) -> str | None:
    for part in (*reversed(path.parents), path):
        if part.is_symlink() and not part.exists():  # dangling, or a loop of links
            return f"{printable(str(part))}: is a broken link to {printable(_link_target(part))}"
        if not part.exists():
            return None
        if not part.is_dir() and not (last_may_be_file and part == path):
            return f"{printable(str(part))}: is a file, not a folder"
    return None


def _link_target(link: Path) -> str:
    """Where ``link`` points, as written in the link."""
    try:
        return os.readlink(link)
    except OSError as err:
        return err.strerror or "an unreadable target"


@contextmanager
def reading(path: Path | str, what: str = "") -> Iterator[None]:
    """Re-raise any failure to read or parse ``path`` as ``InputError("path: reason")``.

    File-system errors without a file name get ``path`` as theirs and keep their kind; errors
    that already name a file (``InputError``, ``OSError`` with a file name) pass unchanged.
    ``what`` says what the file should be (``"a JSON manifest"``) and is added to the reason.
    """
    try:
        yield
    except InputError:
        raise
    except OSError as err:
        if err.filename is not None:
            raise
        raise type(err)(err.errno, err.strerror or str(err), str(path)) from err
    except Exception as err:  # any failure of the parser means the file is not usable
        reason = one_line(err)
        if reason.startswith(f"{path}: "):
            reason = reason[len(f"{path}: ") :]
        suffix = f" (expected {what})" if what else ""
        raise InputError(f"{printable(str(path))}: {reason}{suffix}") from err
