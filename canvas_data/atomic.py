"""Write files so that a reader, or a killed run, never sees half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def temp_name(path: Path) -> Path:
    """The temporary name a file is written under before its rename into place."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def remove_partials(folder: Path) -> int:
    """Delete leftovers of killed writes under ``folder``; returns how many were removed."""
    removed = 0
    if folder.exists():
        for p in folder.rglob(".*.partial-*"):
            p.unlink(missing_ok=True)
            removed += 1
    return removed
