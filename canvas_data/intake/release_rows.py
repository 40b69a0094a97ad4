"""Rows of one release Parquet file placed in the workspace by their caption and stored path.

- Labels come from the caption, in any of the release's variants (``parse_caption``); seed
  photos ("photo style") go to ``Seed_Images``.
- The photo index comes from the stored path when it ends in ``{idx}.jpg`` (its folders, when
  they name a style and an object, must agree with the caption). Rows without one are held aside
  in ``WORK/.import/pending/`` (``pending_rows`` places them).
- JPEG bytes are written as they are; other formats are re-encoded as JPEG (noted in the sidecar).
- A row that cannot be placed (no caption, an unknown style or object, no or broken image bytes,
  a path that contradicts its caption, a second row for the same image) is rejected with its file,
  row and reason, and the rest goes on. A file that is not Parquet, or is damaged, is rejected
  too (the rows before the damage stay) and marked damaged, to be read again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from canvas_data.atomic import write_bytes, write_json
from canvas_data.images.jpeg import ImageError, check_image, to_jpeg
from canvas_data.parquet_read import ValueTooLarge, iter_batches, open_parquet
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import Taxonomy
from canvas_data.workspace import Item, image_path, sidecar_path

STATE_DIR = ".import"
SOURCE = "hub-parquet"
_IDX = re.compile(r"^([1-9][0-9]{0,8})\.(?:jpe?g|png|webp)$", re.IGNORECASE)


class RowError(Exception):
    """A row that cannot be placed; the message is the reason."""


def file_tag(rel: str) -> str:
    """A short, stable, file-name-safe name for a Parquet file's path."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", rel)[-60:]
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:10]}"


def import_file(
    path: Path, rel: str, work: Path, tax: Taxonomy, recipe: Recipe, bar
) -> dict[str, Any]:
    """Place every row of one Parquet file; returns its counts, rejections and held-aside rows."""
    state: dict[str, Any] = {"rows": 0, "placed": 0, "reencoded": 0, "rejected": [], "pending": []}
    try:
        pf = open_parquet(path)
    except (OSError, pa.ArrowException) as err:
        state["rejected"].append({"where": rel, "reason": f"not a readable Parquet file: {err}"})
        state["damaged"] = True
        return state
    row = 0
    try:
        columns = pf.schema_arrow.names
        if "image" not in columns or "text" not in columns:
            state["rejected"].append(
                {"where": rel, "reason": f"not a release shard: columns {columns}, not image/text"}
            )
            return state
        wrong = _column_types(pf.schema_arrow)
        if wrong:
            state["rejected"].append({"where": rel, "reason": wrong})
            return state
        for record in release_rows(pf):
            try:
                _place_row(record, rel, row, work, tax, recipe, state)
            except RowError as err:
                state["rejected"].append({"where": f"{rel} row {row}", "reason": str(err)})
            row += 1
            bar.update(1)
    except ValueTooLarge as err:  # refused before it was read; the rows before it stay
        state["rejected"].append({"where": f"{rel} row {row}", "reason": f"{path}: {err}"})
    except (OSError, pa.ArrowException) as err:  # the rows before it stay
        reason = f"damaged: {path}: {err}"
        state["rejected"].append({"where": f"{rel} row {row}", "reason": reason})
        state["damaged"] = True
    finally:
        state["rows"] = row
        pf.close()
    return state


def _column_types(schema: pa.Schema) -> str | None:
    """Why the ``image`` and ``text`` columns are not of the release's types (``None`` if they
    are): ``text`` a string, ``image`` a struct with ``bytes`` (binary) and ``path`` (string),
    or binary."""
    texts = (pa.string(), pa.large_string())
    binaries = (pa.binary(), pa.large_binary())
    text, image = schema.field("text").type, schema.field("image").type
    if text not in texts:
        return f"column 'text' is {text}, not text (the release's captions are strings)"
    if image in binaries:
        return None
    if not pa.types.is_struct(image) or image.get_field_index("bytes") < 0:
        return f"column 'image' is {image}, not a struct of bytes and path"
    if image.field("bytes").type not in binaries:
        return f"column 'image.bytes' is {image.field('bytes').type}, not binary"
    if image.get_field_index("path") >= 0 and image.field("path").type not in (*texts, pa.null()):
        return f"column 'image.path' is {image.field('path').type}, not text"
    return None


def release_rows(pf: pq.ParquetFile) -> Iterator[dict[str, Any]]:
    """The rows (``image`` {bytes, path}, ``text``) of a release file from ``open_parquet``.

    pyarrow reads one row group at a time (no pre-buffering) and hands out ``READ_BATCH`` rows
    at a time, so memory is bounded by the file's largest row group, not by the file, and no
    row group or value over the limits of ``canvas_data.limits`` is read (``ValueTooLarge``).
    Raises ``OSError`` or ``pyarrow.ArrowException`` where the file is damaged.
    """
    for batch in iter_batches(pf, ["image", "text"]):
        yield from batch.to_pylist()


def _place_row(
    record: dict[str, Any],
    rel: str,
    row: int,
    work: Path,
    tax: Taxonomy,
    recipe: Recipe,
    state: dict[str, Any],
) -> None:
    text = record.get("text")
    if not text:
        raise RowError("no caption")
    try:
        style, obj = tax.parse_caption(text)
    except ValueError as err:
        raise RowError(str(err)) from err
    image = record.get("image")
    data, stored = (
        (image.get("bytes"), image.get("path")) if isinstance(image, dict) else (image, None)
    )
    if not data:
        raise RowError("no image bytes")
    try:
        info = check_image(data, "header", jpeg_only=False)
        if info.format != "JPEG":
            data = to_jpeg(data, quality=recipe.jpeg_quality)
            state["reencoded"] += 1
    except ImageError as err:
        raise RowError(str(err)) from err
    idx = _idx_from_path(stored, style, obj, tax)
    provenance = {
        "source": SOURCE,
        "backend": "release",
        "file": rel,
        "row": row,
        "caption": text,
        "stored_path": stored,
        "format": info.format,
        "idx_from": "path" if idx else "pending",
    }
    if idx is None:
        pending = Path(STATE_DIR) / "pending" / style / obj / f"{file_tag(rel)}-{row:09d}.jpg"
        write_bytes(work / pending, data)
        state["pending"].append(
            {**provenance, "style": style, "object": obj, "pending": str(pending)}
        )
        return
    target = image_path(work, Item(style, obj, idx))
    side = sidecar_path(target)
    if target.is_file():
        before = json.loads(side.read_text()) if side.is_file() else {}
        if (before.get("file"), before.get("row")) != (rel, row):
            origin = f"{before['file']} row {before['row']}" if "file" in before else "a file"
            raise RowError(f"{style}/{obj}/{idx}.jpg is already taken by {origin}")
    write_bytes(target, data)
    write_json(side, provenance)
    state["placed"] += 1


def _idx_from_path(stored: str | None, style: str, obj: str, tax: Taxonomy) -> int | None:
    """The photo index in a stored path ``.../{Style}/{Object}/{idx}.jpg``, or None.

    Raises RowError when the path's folders name another style or object than the caption.
    """
    if not stored:
        return None
    parts = re.split(r"[\\/]+", stored.strip())
    match = _IDX.fullmatch(parts[-1])
    if not match:
        return None
    if len(parts) >= 3:
        path_style = _name(parts[-3], tax.styles)
        path_obj = _name(parts[-2], tax.objects)
        if path_style and path_obj and (path_style, path_obj) != (style, obj):
            raise RowError(f"path {stored!r} says {path_style}/{path_obj}, caption {style}/{obj}")
    return int(match[1])


def _name(word: str, names: tuple[str, ...]) -> str | None:
    key = word.replace(" ", "_").lower()
    return next((n for n in names if n.lower() == key), None)
