"""Rows of the release without a path index, held aside at intake, placed by what they show.

Their row order says nothing (the release's files list 1, 10, 11, ..., 2, 20, and any copy may
be shuffled), so they are placed only when asked (``match_photos``):

- a seed photo without a path takes the index of the paintings placed by their path that it
  matches (when paintings of its object have paths), else the next free index of its object in
  the order of its bytes' sha256 (the same whatever the row order; not the release's numbering,
  which such rows no longer carry);
- a painting without a path takes the index of the seed photo it was painted from, found by
  structure (``photo_matching``: colour edges, an optimal assignment per (style, object) cell
  over the photos whose index the cell has not used). Each pair's distance and margin (to the
  next best photo) go into its sidecar; the report gives the smallest and median margin and
  lists pairs below ``photo_matching.LOW_MARGIN``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from canvas_data.atomic import write_json
from canvas_data.intake.photo_matching import LOW_MARGIN, distances, match, structure
from canvas_data.intake.release_report import ImportReport
from canvas_data.intake.release_rows import STATE_DIR
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import Item, image_path, photo_indices, seed_photo_path, sidecar_path


def place_pending(
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
