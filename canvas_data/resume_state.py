"""Resume-state files (``OUT/.pack/{shard}.json``, ``WORK/.import/files/*.json``) read back.

A rerun skips the work such a file says is done. A damaged one (cut short, not JSON, not an
object, lacking what it must hold) must not block every later run: ``read_state`` sets it aside
as ``NAME.damaged`` (``NAME.damaged-2``... when taken), says so in one line on stderr, and
returns ``None``, so the work it stood for is done again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm


def read_state(
    path: Path, check: Callable[[dict[str, Any]], bool] | None = None
) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` when there is none, or when it is damaged (then it
    is set aside and named on stderr). ``check(state)`` says whether the object holds what the
    caller needs (the right keys and types)."""
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        reason = None if isinstance(state, dict) else "not a JSON object"
        if reason is None and check is not None and not check(state):
            reason = "lacks what a finished step records"
    except (ValueError, RecursionError) as err:  # not JSON, not UTF-8, nested too deep
        reason = " ".join(str(err).split()) or type(err).__name__
    if reason is None:
        return state
    aside = set_aside(path)
    tqdm.write(
        f"warning: {path}: damaged ({reason}); set aside as {aside.name}, the step is done again",
        file=sys.stderr,
    )
    return None


def set_aside(path: Path) -> Path:
    """Rename ``path`` to ``NAME.damaged`` (or ``NAME.damaged-N``, the first free); the new path."""
    aside, n = path.with_name(f"{path.name}.damaged"), 2
    while aside.exists():
        aside, n = path.with_name(f"{path.name}.damaged-{n}"), n + 1
    path.rename(aside)
    return aside
