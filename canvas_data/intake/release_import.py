"""Intake of the Hub release: Parquet shards with only ``image`` and ``text`` into a workspace.

The release on the Hub is 153 Parquet files whose rows hold an ``image`` struct (``bytes``,
``path``) and a ``text`` caption, and nothing else: no labels, no split. ``import_hub_parquet``
reads them with pyarrow one file and one row group at a time, handing rows to Python a few at a
time, and writes each image to the workspace, in the release's own layout
``{Style}/{Object}/{idx}.jpg``, with a provenance sidecar naming the file and row it came from.
Memory is bounded by the largest row group of a file: pyarrow reads and decompresses a column
chunk's pages whole, and files written with pyarrow's defaults (as ``datasets`` writes the
release, about 300 MB per row group) keep a row group's images in one page.

- Labels come from the caption, in any of the release's variants (``parse_caption``); seed
  photos ("photo style") go to ``Seed_Images``.
- The photo index comes from the stored path when it ends in ``{idx}.jpg`` (its folders, when
  they name a style and an object, must agree with the caption). Rows without one are held aside
  in ``WORK/.import/pending/``: their row order says nothing (the release's files list 1, 10, 11,
  ..., 2, 20, and any copy may be shuffled), so by default they are not placed and the run says
  how many there are. With ``match_photos`` they are placed by what they show:

  - a seed photo without a path takes the index of the paintings placed by their path that it
    matches (when paintings of its object have paths), else the next free index of its object in
    the order of its bytes' sha256 (the same whatever the row order; not the release's numbering,
    which such rows no longer carry);
  - a painting without a path takes the index of the seed photo it was painted from, found by
    structure (``photo_matching``: colour edges, an optimal assignment per (style, object) cell
    over the photos whose index the cell has not used). Each pair's distance and margin (to the
    next best photo) go into its sidecar; the report gives the smallest and median margin and
    lists pairs below ``photo_matching.LOW_MARGIN``.
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

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.optimize import linear_sum_assignment
from tqdm.auto import tqdm

from canvas_data.atomic import remove_partials, write_bytes, write_json
from canvas_data.images.jpeg import ImageError, check_image, to_jpeg
from canvas_data.intake.photo_matching import LOW_MARGIN, distances, match, structure
from canvas_data.parquet_read import iter_batches, open_parquet
from canvas_data.recipe import Recipe, save_recipe, workspace_recipe
from canvas_data.taxonomy import OBJECTS_20, SEED_STYLE, STYLES_61, Taxonomy
from canvas_data.workspace import Item, image_path, photo_indices, seed_photo_path, sidecar_path

STATE_DIR = ".import"
REPORT_PATH = Path("reports") / "import-hub.json"
SOURCE = "hub-parquet"
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
    matched: int = 0  # rows without a path placed by matching (paintings, seed photos)
    seeds_by_content: int = 0  # seed photos without a path numbered in sha256 order
    held: int = 0  # rows without a path still held aside (not matched, or matching not asked)
    reencoded: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # held aside, and why
    margins: list[float] = field(default_factory=list)  # of every matched painting
    low_confidence: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        matched = ""
        if self.matched:
            margins = np.asarray(self.margins) if self.margins else np.zeros(1)
            matched = (
                f"{self.matched} matched by image (margin min "
                f"{margins.min():.2f}, median {np.median(margins):.2f}; "
                f"{len(self.low_confidence)} below {LOW_MARGIN}), "
            )
        return (
            f"imported {self.placed} of {self.rows} rows from {self.files} Parquet files "
            f"({self.files_reused} already done): {matched}{self.seeds_by_content} seed photos "
            f"numbered by content, {self.held} without a path held aside, {self.reencoded} "
            f"re-encoded as JPEG, {len(self.rejected)} rejected"
        )


def import_hub_parquet(
    parquet_dir: Path,
    work: Path,
    *,
    recipe: str | Path | Recipe | None = None,
    progress: bool = True,
    match_photos: bool = False,
) -> ImportReport:
    """Write the images of the release's Parquet files (a folder or one file) into ``work``.

    Rows without a file path are held aside (``report.held``) unless ``match_photos``: then seed
    photos are numbered by content and paintings placed at their matched photo's index.
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
                **_import_file(path, rel, work, taxonomy, recipe, bar),
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
    _place_pending(work, [p for s in done for p in s["pending"]], match_photos, report)
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
        for record in release_rows(pf):
            try:
                _place_row(record, rel, row, work, tax, recipe, state)
            except RowError as err:
                state["rejected"].append({"where": f"{rel} row {row}", "reason": str(err)})
            row += 1
            bar.update(1)
    except (OSError, pa.ArrowException) as err:  # the rows before it stay
        reason = f"damaged: {path}: {err}"
        state["rejected"].append({"where": f"{rel} row {row}", "reason": reason})
        state["damaged"] = True
    finally:
        state["rows"] = row
        pf.close()
    return state


def release_rows(pf: pq.ParquetFile) -> Iterator[dict[str, Any]]:
    """The rows (``image`` {bytes, path}, ``text``) of a release file from ``open_parquet``.

    pyarrow reads one row group at a time (no pre-buffering) and hands out ``READ_BATCH`` rows
    at a time, so memory is bounded by the file's largest row group, not by the file.
    Raises ``OSError`` or ``pyarrow.ArrowException`` where the file is damaged.
    """
    for rg in range(pf.num_row_groups):
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
        "idx_from": "path" if idx else "pending",
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


def _place_pending(
    work: Path, pending: list[dict[str, Any]], match_photos: bool, report: ImportReport
) -> None:
    """Place the rows without a path index (only with ``match_photos``), and count them.

    Seed photos first (their indices are what paintings match to), then each painting cell.
    The sidecar is written before the image is moved into place: a killed run leaves each row
    either held aside or placed, and a rerun goes on from there.
    """
    waiting = []
    for item in pending:
        if (work / item["pending"]).is_file():
            waiting.append(item)
        elif (meta := _placed_meta(work, item)) is not None:
            report.placed += 1
            _count_placed(meta, item, report)
        else:
            report.rejected.append((_where(item), "held-aside image is gone"))
    if not match_photos:
        report.held = len(waiting)
        return
    key = itemgetter("style", "object")
    features: dict[str, dict[int, np.ndarray]] = {}
    seeds = sorted((w for w in waiting if w["style"] == SEED_STYLE), key=key)
    for (_, obj), group in itertools.groupby(seeds, key=key):
        _number_seeds(work, obj, list(group), report)
    paintings = sorted((w for w in waiting if w["style"] != SEED_STYLE), key=key)
    for (style, obj), group in itertools.groupby(paintings, key=key):
        photos = features.setdefault(obj, _photo_structures(work, obj))
        _match_cell(work, style, obj, list(group), photos, report)
    report.held = len(report.unmatched)


def _where(item: dict[str, Any]) -> str:
    return f"{item['file']} row {item['row']}"


def _move_into_place(work: Path, item: dict[str, Any], idx: int, **extra: Any) -> Path:
    target = image_path(work, Item(item["style"], item["object"], idx))
    provenance = {k: v for k, v in item.items() if k not in ("style", "object", "pending")}
    write_json(sidecar_path(target), {**provenance, **extra})
    os.replace(work / item["pending"], target)
    return target


def _number_seeds(work: Path, obj: str, items: list[dict[str, Any]], report: ImportReport) -> None:
    """Seed photos without a path: each at a free index of ``obj``.

    An index that paintings placed by their path already use goes to the photo those paintings
    match (an optimal assignment over the mean distance to them), so the pairs stay true; the
    photos left take the other free indices in the order of their bytes' sha256.
    """
    taken = set(photo_indices(work / SEED_STYLE / obj))
    for item in items:
        item["sha256"] = hashlib.sha256((work / item["pending"]).read_bytes()).hexdigest()
    items = sorted(items, key=itemgetter("sha256", "file", "row"))
    anchors = _path_paintings(work, obj, taken)
    if anchors:
        vectors, readable = [], []
        for item in items:
            try:
                vectors.append(structure((work / item["pending"]).read_bytes()))
                readable.append(item)
            except (OSError, ValueError):  # numbered by content below; shards reports it
                continue
        order = sorted(anchors)
        if readable:
            cost = np.stack(
                [
                    distances(np.stack(vectors), np.stack([v for _, v in anchors[i]])).mean(axis=1)
                    for i in order
                ],
                axis=1,
            )
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                others = np.delete(cost[r], c)
                margin = float(others.min() - cost[r, c]) if others.size else None
                found = {
                    "paintings": [name for name, _ in anchors[order[c]]],
                    "distance": round(float(cost[r, c]), 4),
                    "margin": None if margin is None else round(margin, 4),
                }
                _move_into_place(work, readable[r], order[c], idx_from="matched", match=found)
                report.placed += 1
                _count_placed(
                    {"idx_from": "matched", "match": found}, readable[r], report, order[c]
                )
                taken.add(order[c])
        items = [it for it in items if (work / it["pending"]).is_file()]
    free = (i for i in itertools.count(1) if i not in taken and i not in anchors)
    for item in items:
        _move_into_place(work, item, next(free), idx_from="content")
        report.placed += 1
        report.seeds_by_content += 1


def _path_paintings(
    work: Path, obj: str, taken: set[int]
) -> dict[int, list[tuple[str, np.ndarray]]]:
    """The paintings of ``obj`` placed by their path at indices no seed photo has, by index:
    (``Style/Object/idx.jpg``, ``structure``), what seed photos without a path are matched to."""
    found: dict[int, list[tuple[str, np.ndarray]]] = {}
    for folder in sorted(work.glob(f"*/{obj}")):
        if folder.parent.name in (SEED_STYLE, STATE_DIR) or not folder.is_dir():
            continue
        for idx in photo_indices(folder):
            side = folder / f"{idx}.json"
            if idx in taken or not side.is_file():
                continue
            if json.loads(side.read_text()).get("idx_from") != "path":
                continue
            try:
                vector = structure((folder / f"{idx}.jpg").read_bytes())
                found.setdefault(idx, []).append((f"{folder.parent.name}/{obj}/{idx}.jpg", vector))
            except (OSError, ValueError):  # an unreadable painting is no anchor
                continue
    return found


def _photo_structures(work: Path, obj: str) -> dict[int, np.ndarray]:
    """``structure`` of every seed photo of ``obj`` in the workspace, by index."""
    found = {}
    for idx in photo_indices(work / SEED_STYLE / obj):
        try:
            found[idx] = structure(seed_photo_path(work, obj, idx).read_bytes())
        except (OSError, ValueError):  # an unreadable seed photo is no candidate; shards says so
            continue
    return found


def _match_cell(
    work: Path,
    style: str,
    obj: str,
    items: list[dict[str, Any]],
    photos: dict[int, np.ndarray],
    report: ImportReport,
) -> None:
    """Paintings of one cell without a path: each at the index of its best-assigned photo."""
    taken = set(photo_indices(work / style / obj))
    free = [i for i in sorted(photos) if i not in taken]
    readable, vectors = [], []
    for item in items:
        try:
            vectors.append(structure((work / item["pending"]).read_bytes()))
            readable.append(item)
        except (OSError, ValueError) as err:  # reported; the rest of the cell goes on
            report.unmatched.append((_where(item), f"cannot be decoded to match ({err})"))
    if not free:
        reason = f"no seed photo of {obj} left to match in {style}/{obj}"
        report.unmatched += [(_where(item), reason) for item in readable]
        return
    if not readable:
        return
    pairs = match(np.stack(vectors), np.stack([photos[i] for i in free]))
    paired = {pair.painting for pair in pairs}
    for n, item in enumerate(readable):
        if n not in paired:
            reason = f"more paintings than free seed photos in {style}/{obj}"
            report.unmatched.append((_where(item), reason))
    for pair in pairs:
        item, idx = readable[pair.painting], free[pair.photo]
        found = {
            "photo": f"{SEED_STYLE}/{obj}/{idx}.jpg",
            "distance": round(pair.distance, 4),
            "margin": None if pair.margin is None else round(pair.margin, 4),
        }
        _move_into_place(work, item, idx, idx_from="matched", match=found)
        report.placed += 1
        _count_placed({"idx_from": "matched", "match": found}, item, report, idx)


def _count_placed(
    meta: dict[str, Any], item: dict[str, Any], report: ImportReport, idx: int | None = None
) -> None:
    """Count a placed row without a path: matched (with its margin) or numbered by content."""
    if meta.get("idx_from") == "content":
        report.seeds_by_content += 1
    if meta.get("idx_from") != "matched":
        return
    report.matched += 1
    found = meta.get("match") or {}
    margin = found.get("margin")
    if margin is not None:
        report.margins.append(margin)
    if margin is None or margin < LOW_MARGIN:
        idx = idx if idx is not None else meta.get("idx")
        report.low_confidence.append(
            {
                "where": _where(item),
                "image": f"{item['style']}/{item['object']}/{idx}.jpg",
                "match": found.get("photo") or ", ".join(found.get("paintings", [])),
                "margin": margin,
            }
        )


def _placed_meta(work: Path, item: dict[str, Any]) -> dict[str, Any] | None:
    """The sidecar (with its ``idx``) of a held-aside row an earlier run moved into its cell."""
    for side in (work / item["style"] / item["object"]).glob("*.json"):
        meta = json.loads(side.read_text())
        if (meta.get("file"), meta.get("row")) == (item["file"], item["row"]):
            return {**meta, "idx": int(side.stem)} if side.with_suffix(".jpg").is_file() else None
    return None


def _report_json(report: ImportReport) -> dict[str, Any]:
    margins = report.margins
    return {
        "files": report.files,
        "rows": report.rows,
        "placed": report.placed,
        "matched": report.matched,
        "seeds_by_content": report.seeds_by_content,
        "held_without_path": report.held,
        "reencoded": report.reencoded,
        "rejected": [{"where": w, "reason": r} for w, r in report.rejected],
        "unmatched": [{"where": w, "reason": r} for w, r in report.unmatched],
        "match_confidence": {
            "margin_min": min(margins) if margins else None,
            "margin_median": float(np.median(margins)) if margins else None,
            "low_margin": LOW_MARGIN,
            "low_confidence": report.low_confidence,
        },
    }
