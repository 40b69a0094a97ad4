"""URL manifests: the rows of a CSV, TSV, JSONL or Parquet file that list photos on the web.

Every row has a ``url`` and an ``object``, and may have an ``author``, a ``licence`` (``license``
is read too) and a ``source_page``. Column names are case-insensitive; other columns are ignored.
A row is numbered by its position among the manifest's records, from 1 (the header is no row).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canvas_data.errors import reading

REQUIRED = ("url", "object")
OPTIONAL = ("author", "licence", "source_page")
_ALIASES = {"license": "licence"}


@dataclass(frozen=True)
class ManifestRow:
    """One photo offered by a manifest."""

    row: int
    url: str | None
    object: str | None
    author: str | None = None
    licence: str | None = None
    source_page: str | None = None


@dataclass
class Manifest:
    """The rows of a manifest, and the records that could not be read (row -> reason)."""

    path: Path
    rows: list[ManifestRow]
    unreadable: dict[int, str] = field(default_factory=dict)


def read_manifest(path: Path) -> Manifest:
    """Read a manifest; its format comes from the file name's extension."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no manifest at {path}")
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        known = ", ".join(sorted(_READERS))
        raise ValueError(f"manifest {path.name}: unknown format {suffix or '(none)'} ({known})")
    manifest = Manifest(path, [])
    columns: set[str] | None = None
    # a failure that stops the reader (bytes that are not UTF-8, a CSV field over the csv
    # module's limit, a Parquet column of another type) is one line naming the file
    with reading(path, f"a URL manifest in {suffix[1:].upper()}"):
        for row, record in enumerate(reader(path), start=1):
            if isinstance(record, str):
                manifest.unreadable[row] = record
                continue
            record = _normalise_keys(record)
            columns = set(record) if columns is None else columns | set(record)
            manifest.rows.append(_row(row, record))
    missing = [c for c in REQUIRED if columns is not None and c not in columns]
    if missing:
        raise ValueError(f"manifest {path.name} has no {' or '.join(map(repr, missing))} column")
    return manifest


def _normalise_keys(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = str(key).strip().lower().replace(" ", "_").replace("-", "_")
        out.setdefault(_ALIASES.get(name, name), value)
    return out


def _row(row: int, record: dict[str, Any]) -> ManifestRow:
    values = {k: _text(record.get(k)) for k in REQUIRED + OPTIONAL}
    return ManifestRow(row=row, **values)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


# ---------------------------------------------------------------- one reader per format
# A reader yields a dict per record, or a one-line reason for a record it cannot read.


def _csv_records(path: Path, delimiter: str = ",") -> Iterator[dict[str, Any] | str]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if reader.fieldnames is None:
            return
        for record in reader:
            if None in record:
                yield f"more fields than the header has ({len(reader.fieldnames)})"
            elif any(v for v in record.values()):
                yield record


def _tsv_records(path: Path) -> Iterator[dict[str, Any] | str]:
    return _csv_records(path, delimiter="\t")


def _jsonl_records(path: Path) -> Iterator[dict[str, Any] | str]:
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as err:
                yield f"not JSON ({err})"
                continue
            except RecursionError:
                yield "not JSON this reader takes (nested too deep)"
                continue
            yield record if isinstance(record, dict) else "not a JSON object"


def _parquet_records(path: Path) -> Iterator[dict[str, Any] | str]:
    from canvas_data.parquet_read import iter_rows

    yield from iter_rows(path)


_READERS: dict[str, Callable[[Path], Iterator[dict[str, Any] | str]]] = {
    ".csv": _csv_records,
    ".tsv": _tsv_records,
    ".jsonl": _jsonl_records,
    ".ndjson": _jsonl_records,
    ".parquet": _parquet_records,
}
