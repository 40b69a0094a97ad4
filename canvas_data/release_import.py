"""Intake of the Hub release: Parquet shards with only ``image`` and ``text`` into a workspace.

The release on the Hub is 153 Parquet files whose rows hold an ``image`` struct (``bytes``,
``path``) and a ``text`` caption, and nothing else: no labels, no split. ``import_hub_parquet``
reads them one file and one row group at a time, handing rows to Python a few at a time, and
writes each image to the workspace, in the release's own layout ``{Style}/{Object}/{idx}.jpg``,
with a provenance sidecar naming the file and row it came from. Large image columns are streamed
image by image (``parquet_stream``: files written with pyarrow's defaults keep a row group's
images in one page, which pyarrow would hold whole); the rest is read by pyarrow page by page.
Memory stays at a few images, whatever the size of the files and their row groups.

- Labels come from the caption, in any of the release's variants (``parse_caption``); seed
  photos ("photo style") go to ``Seed_Images``.
- The photo index comes from the stored path when it ends in ``{idx}.jpg`` (its folders, when
  they name a style and an object, must agree with the caption). Rows without one are held aside
  and numbered at the end, per (style, object) cell, in a stable order (file path, then row) after
  the indices that paths already took.
- JPEG bytes are written as they are; other formats are re-encoded as JPEG (noted in the sidecar).
- A row that cannot be placed (no caption, an unknown style or object, no or broken image bytes,
  a path that contradicts its caption, a second row for the same image) is reported with its file,
  row and reason, in ``WORK/reports/import-hub.json``, and the rest goes on.

A file that is not Parquet, or is damaged, is reported (the rows before the damage stay) and read
again by the next run. A file is marked done in ``WORK/.import/`` once all its rows are read; a
rerun skips it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from canvas_data.atomic import remove_partials, write_bytes, write_json
from canvas_data.jpeg import ImageError, check_image, to_jpeg
from canvas_data.parquet_shards import iter_batches, open_parquet
from canvas_data.parquet_stream import ParquetStreamError, iter_column_values, streamable
from canvas_data.recipe import Recipe, save_recipe, workspace_recipe
from canvas_data.taxonomy import OBJECTS_20, STYLES_61, Taxonomy
from canvas_data.workspace import Item, image_path, photo_indices, sidecar_path

STATE_DIR = ".import"
REPORT_PATH = Path("reports") / "import-hub.json"
SOURCE = "hub-parquet"
STREAM_ABOVE = 16 << 20  # image column chunks larger than this are streamed value by value
_IDX = re.compile(r"^([1-9][0-9]*)\.(?:jpe?g|png|webp)$", re.IGNORECASE)


class RowError(Exception):
    """A row that cannot be placed; the message is the reason."""


@dataclass
class ImportReport:
    """What an import run found and did."""

    files: int = 0
    files_reused: int = 0
    rows: int = 0
    placed: int = 0
    by_order: int = 0
    reencoded: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"imported {self.placed} of {self.rows} rows from {self.files} Parquet files "
            f"({self.files_reused} already done): {self.by_order} numbered by order in their "
            f"cell, {self.reencoded} re-encoded as JPEG, {len(self.rejected)} rejected"
        )


def import_hub_parquet(
    parquet_dir: Path,
    work: Path,
    *,
    recipe: str | Path | Recipe | None = None,
    progress: bool = True,
    stream_above: int = STREAM_ABOVE,
) -> ImportReport:
    """Write the images of the release's Parquet files (a folder or one file) into ``work``.

    Image columns of a row group larger than ``stream_above`` bytes are streamed image by image.
    """
    parquet_dir, work = Path(parquet_dir), Path(work)
    files = _parquet_files(parquet_dir)
    root = parquet_dir if parquet_dir.is_dir() else parquet_dir.parent
    if isinstance(recipe, Recipe):
        save_recipe(recipe, work)
    elif recipe is not None:
        recipe = workspace_recipe(work, recipe)
        save_recipe(recipe, work)
    else:
        recipe = workspace_recipe(work)
    taxonomy = _intake_taxonomy(recipe.taxonomy)
    work.mkdir(parents=True, exist_ok=True)
    remove_partials(work)
    report = ImportReport(files=len(files))
    total = sum(map(_row_count, files))
    bar = tqdm(total=total, desc="import", unit="row", disable=not progress)
    done = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        marker = work / STATE_DIR / "files" / f"{_tag(rel)}.json"
        st = path.stat()
        identity = {"file": rel, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        state = _read_marker(marker, identity)
        if state is None:
            state = {
                **identity,
                **_import_file(path, rel, work, taxonomy, recipe, bar, stream_above),
            }
            if not state.pop("damaged", False):  # a damaged file is read again next time
                write_json(marker, state)
        else:
            report.files_reused += 1
            bar.update(state["rows"])
        done.append(state)
    bar.close()
    for state in done:
        report.rows += state["rows"]
        report.placed += state["placed"]
        report.reencoded += state["reencoded"]
        report.rejected += [(r["where"], r["reason"]) for r in state["rejected"]]
    report.by_order, lost = _place_pending(work, [p for s in done for p in s["pending"]])
    report.placed += report.by_order
    report.rejected += lost
    write_json(work / REPORT_PATH, _report_json(report))
    return report


def _parquet_files(parquet_dir: Path) -> list[Path]:
    if parquet_dir.is_file():
        return [parquet_dir]
    if not parquet_dir.is_dir():
        raise FileNotFoundError(f"{parquet_dir}: no such folder or Parquet file")
    files = sorted(p for p in parquet_dir.rglob("*.parquet") if not p.name.startswith("."))
    if not files:
        raise FileNotFoundError(f"{parquet_dir}: no .parquet files")
    return files


def _intake_taxonomy(tax: Taxonomy) -> Taxonomy:
    """The recipe's names plus the release's: every release caption parses."""
    styles = tuple(dict.fromkeys((*tax.styles, *STYLES_61)))
    objects = tuple(dict.fromkeys((*tax.objects, *OBJECTS_20)))
    return Taxonomy(styles, objects)


def _tag(rel: str) -> str:
    """A short, stable, file-name-safe name for a Parquet file's path."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", rel)[-60:]
    return f"{stem}-{hashlib.sha1(rel.encode()).hexdigest()[:10]}"


def _row_count(path: Path) -> int:
    """Rows in a Parquet file's footer (0 for a file that is not Parquet: reported later)."""
    try:
        return pq.read_metadata(str(path)).num_rows
    except (OSError, pa.ArrowException):
        return 0


def _read_marker(marker: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    if not marker.is_file():
        return None
    state = json.loads(marker.read_text())
    return state if all(state.get(k) == v for k, v in identity.items()) else None


def _import_file(
    path: Path, rel: str, work: Path, tax: Taxonomy, recipe: Recipe, bar, stream_above: int
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
        for record in release_rows(path, pf, stream_above):
            try:
                _place_row(record, rel, row, work, tax, recipe, state)
            except RowError as err:
                state["rejected"].append({"where": f"{rel} row {row}", "reason": str(err)})
            row += 1
            bar.update(1)
    except (OSError, pa.ArrowException, ParquetStreamError) as err:  # the rows before it stay
        state["rejected"].append({"where": f"{rel} row {row}", "reason": f"damaged: {err}"})
        state["damaged"] = True
    finally:
        state["rows"] = row
        pf.close()
    return state


def release_rows(
    path: Path, pf: pq.ParquetFile, stream_above: int = STREAM_ABOVE
) -> Iterator[dict[str, Any]]:
    """The rows (``image`` {bytes, path}, ``text``) of a release file, a few images at a time.

    A row group whose image column is larger than ``stream_above`` is streamed image by image
    (``parquet_stream``): written with pyarrow's defaults, such a column is one page (or one
    dictionary page) that pyarrow would hold whole. Other row groups come from pyarrow.
    """
    columns = {pf.schema.column(i).path for i in range(len(pf.schema))}
    struct = {"image.bytes", "image.path"} <= columns
    for rg in range(pf.num_row_groups):
        if struct and streamable(pf, rg, "image.bytes", larger_than=stream_above):
            small = pf.read_row_group(rg, columns=["image.path", "text"], use_threads=False)
            images = iter_column_values(path, pf, rg, "image.bytes")
            for rest, data in zip(small.to_pylist(), images, strict=True):
                image = rest["image"]
                if image is not None or data is not None:
                    image = {"bytes": data, "path": (image or {}).get("path")}
                yield {"image": image, "text": rest["text"]}
        else:
            for batch in iter_batches(pf, ["image", "text"], row_groups=[rg]):
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
        "idx_from": "path" if idx else "order",
    }
    if idx is None:
        pending = Path(STATE_DIR) / "pending" / style / obj / f"{_tag(rel)}-{row:09d}.jpg"
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
    match = _IDX.match(parts[-1])
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


def _place_pending(work: Path, pending: list[dict[str, Any]]) -> tuple[int, list[tuple[str, str]]]:
    """Number the rows without a path index, per cell, after the indices paths took.

    The order is (file path, row), so the numbering is the same on every run. The sidecar is
    written before the image is moved into place: a killed run redoes the same numbering.
    Returns how many held-aside rows are in the workspace (now or from an earlier run) and the
    ones that are lost.
    """
    placed, lost = 0, []
    key = itemgetter("style", "object")
    for (style, obj), group in itertools.groupby(sorted(pending, key=key), key=key):
        taken = set(photo_indices(work / style / obj))
        free = (i for i in itertools.count(1) if i not in taken)
        for item in sorted(group, key=lambda p: (p["file"], p["row"])):
            source = work / item["pending"]
            if not source.is_file():
                if _already_placed(work, item):
                    placed += 1
                else:
                    lost.append((f"{item['file']} row {item['row']}", "held-aside image is gone"))
                continue
            target = image_path(work, Item(style, obj, next(free)))
            provenance = {k: v for k, v in item.items() if k not in ("style", "object", "pending")}
            write_json(sidecar_path(target), provenance)
            os.replace(source, target)
            placed += 1
    return placed, lost


def _already_placed(work: Path, item: dict[str, Any]) -> bool:
    """Whether an earlier run moved this held-aside row into its cell."""
    for side in (work / item["style"] / item["object"]).glob("*.json"):
        meta = json.loads(side.read_text())
        if (meta.get("file"), meta.get("row")) == (item["file"], item["row"]):
            return side.with_suffix(".jpg").is_file()
    return False


def _report_json(report: ImportReport) -> dict[str, Any]:
    return {
        "files": report.files,
        "rows": report.rows,
        "placed": report.placed,
        "by_order": report.by_order,
        "reencoded": report.reencoded,
        "rejected": [{"where": w, "reason": r} for w, r in report.rejected],
    }
