"""A packed folder's ``manifest.json``, read as untrusted input.

A packed folder may come from anyone, so what its manifest and its shards name is checked before
anything is opened or written:

- ``shard_file``: a shard entry must be a relative path that stays inside the folder once
  symlinks are resolved and names an existing regular file with the format's suffix; never a URL
  or a command (webdataset runs ``pipe:cmd`` as a shell command, so shards are opened as files).
- ``check_key``: a sample key must be ``{Style}/{Object}/{idx}`` with names of the manifest's
  taxonomy and a positive integer idx, so that no key can name a path outside an export folder.

Every reader of a packed folder (verify, export, the loaders, the card's index) goes through
these two functions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from canvas_data.errors import reading
from canvas_data.pack.manifest_schema import manifest_spec, validate_manifest
from canvas_data.taxonomy import Taxonomy
from canvas_data.workspace import Item

MANIFEST = "manifest.json"
DONE_DIR = ".pack"  # OUT/.pack: which shards are done, and the lock of the run writing OUT
LOCK = "lock"  # OUT/.pack/lock: one shards run per output folder
# Where each format's shards lie, (folder, suffix), known without importing its writer.
SHARD_FILES = {"webdataset": ("data", ".tar"), "parquet": ("parquet", ".parquet")}
SUFFIXES = {"shards": ".tar", "parquet": ".parquet"}  # manifest list -> file suffix

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # pipe:, file:, http:, s3:, C:
_IDX = re.compile(r"^[1-9][0-9]{0,8}$")  # at most 9 digits: no int() of 5,000 digits


class UnsafeEntry(ValueError):
    """A manifest entry, tar member or row that a packed folder must not hold."""


def read_manifest(path: Path) -> dict[str, Any]:
    """A packed folder's ``manifest.json``; ``InputError`` names the file when it is not one
    (not JSON, not an object, lacking the taxonomy, shards or counts, or a field of the wrong
    type or range: see ``canvas_data.pack.manifest_schema``)."""
    with reading(path, "a packed folder's manifest"):
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    return validate_manifest(manifest, path)


def load_manifest(root: Path) -> dict[str, Any]:
    """The manifest of a packed dataset folder; one-line errors for a missing or bad one.

    Raises ``FileNotFoundError`` (no manifest) or ``InputError`` (a ``ValueError``: not JSON,
    not an object, no taxonomy, shards or counts).
    """
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no manifest; expected a dataset folder written by `canvas-build shards`"
        )
    return read_manifest(path)


def entry_path(entry: Any) -> str:
    """The ``path`` of a manifest shard entry, as written (``?`` when it has none)."""
    path = entry.get("path") if isinstance(entry, dict) else None
    return path if isinstance(path, str) else "?"


def shard_file(root: Path, entry: Any, kind: str = "shards") -> Path:
    """The file a shard entry of ``manifest[kind]`` names, resolved (symlinks too) inside ``root``.

    Raises ``UnsafeEntry`` (a ``ValueError``) naming the manifest and the entry when the path is
    not a string, is a URL or command, is absolute, resolves outside ``root``, lacks the suffix
    of ``kind`` (``.tar``, ``.parquet``) or is not a regular file; ``FileNotFoundError`` when it
    does not exist.
    """
    root = Path(root)
    rel = entry.get("path") if isinstance(entry, dict) else None
    where = f"{root / MANIFEST}: {kind} entry {rel!r}"
    if not isinstance(rel, str) or not rel:
        raise UnsafeEntry(f"{root / MANIFEST}: {kind} entry without a 'path' string: {entry!r}")
    reason = _path_problem(rel, SUFFIXES[kind])
    if reason:
        raise UnsafeEntry(f"{where}: {reason}")
    base = root.resolve()
    file = (base / rel).resolve()
    if not file.is_relative_to(base):
        raise UnsafeEntry(f"{where}: resolves to {file}, outside {base}")
    if not file.exists():
        raise FileNotFoundError(f"{where}: missing")
    if not file.is_file():
        raise UnsafeEntry(f"{where}: not a regular file")
    return file


def _path_problem(rel: str, suffix: str) -> str | None:
    if "\x00" in rel or "\\" in rel:
        return "holds a NUL byte or a backslash"
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        return "an absolute path; shard paths are relative to the folder"
    if _SCHEME.match(rel):
        return "a URL or command, not a file in the folder"
    if not rel.endswith(suffix):
        return f"not a {suffix} file"
    return None


def check_key(key: Any, taxonomy: Taxonomy) -> Item:
    """The sample a key names: ``{Style}/{Object}/{idx}`` with a style and an object of
    ``taxonomy`` and a positive integer idx. Raises ``UnsafeEntry`` with the reason otherwise."""
    parts = key.split("/") if isinstance(key, str) else []
    if len(parts) != 3:
        raise UnsafeEntry(f"key {key!r} is not {{Style}}/{{Object}}/{{idx}}")
    style, obj, idx = parts
    if style not in taxonomy.styles:
        raise UnsafeEntry(f"key {key!r}: style {style!r} is not in the manifest's taxonomy")
    if obj not in taxonomy.objects:
        raise UnsafeEntry(f"key {key!r}: object {obj!r} is not in the manifest's taxonomy")
    if not _IDX.fullmatch(idx):
        raise UnsafeEntry(
            f"key {key[:80]!r}: idx {idx[:20]!r} is not a positive integer (at most 9 digits,"
            " no leading zero)"
        )
    return Item(style, obj, int(idx))


def manifest_taxonomy(manifest: dict[str, Any]) -> Taxonomy:
    """The class orders the shards' ``style.cls`` and ``object.cls`` were written in.

    Raises ``ValueError`` for names that are not plain names (letters, digits, ``_``, ``-``).
    """
    tax = manifest_spec(manifest, MANIFEST).taxonomy
    return Taxonomy.from_spec(tax.styles, tax.objects)
