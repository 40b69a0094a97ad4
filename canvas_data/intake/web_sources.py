"""Seed photos from the web: download the rows of a URL manifest into the workspace.

Each row's photo is downloaded (:mod:`canvas_data.intake.download`), vetted and normalised like a
local photo (:mod:`canvas_data.intake.photo_checks`: decode checks, EXIF orientation, RGB;
:mod:`canvas_data.images.normalize`: centre square, resize), compared with the photos already
taken (:mod:`canvas_data.intake.dedup`), and written to ``Seed_Images/{Object}/{idx}.jpg`` with a
sidecar that carries its URL, author and licence.

A row's ``idx`` is its position among the manifest's rows of the same object, so it never depends
on which downloads failed: a row keeps its idx across reruns. Rows are tried in manifest order
until an object has ``per_object`` photos; a rerun downloads only what is still missing, retries
the rows that failed, and never replaces a photo already taken.

This module runs a manifest and takes stock of the photos already in the workspace; which rows
are taken is :mod:`canvas_data.intake.source_slots`, the downloads in waves
:mod:`canvas_data.intake.download_waves`, and the report :mod:`canvas_data.intake.sources_report`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from canvas_data.atomic import write_json
from canvas_data.build_record import check_sources, record_sources
from canvas_data.intake.dedup import MAX_DISTANCE, DuplicateIndex, Fingerprint, fingerprint_file
from canvas_data.intake.download import FetchOptions
from canvas_data.intake.download_waves import DownloadRun
from canvas_data.intake.photo_checks import MAX_PIXELS
from canvas_data.intake.photos import REPORT_PATH
from canvas_data.intake.source_slots import Slot, build_keys, plan_slots, slot_credit
from canvas_data.intake.sources_report import DuplicateRow, RowIssue, SourcesReport, reject_row
from canvas_data.intake.url_manifest import read_manifest
from canvas_data.public_url import public_url
from canvas_data.recipe import RECIPE_FILE, Recipe, save_recipe
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import photo_indices, seed_photo_path, sidecar_path

# Sidecar keys that say a seed photo is this row's photo at this build's size.
_IDENTITY = ("source_url", "resolution", "jpeg_quality")


def fetch_sources(
    manifest: Path,
    work: Path,
    recipe: Recipe,
    *,
    per_object: int | None = None,
    allow_unlicensed: bool = False,
    keep_duplicates: bool = False,
    workers: int = 8,
    options: FetchOptions | None = None,
    max_distance: int = MAX_DISTANCE,
    max_pixels: int = MAX_PIXELS,
    progress: bool = True,
    repaint_stale: bool = False,
) -> SourcesReport:
    """Download the photos a manifest lists into ``work``'s seed photos; see the module doc.

    A workspace built with another recipe is refused (``BuildConflict``) unless
    ``repaint_stale`` (see :func:`canvas_data.intake.photos.intake_photos`)."""
    work = Path(work)
    rows = read_manifest(manifest)
    check_sources(work, recipe, repaint_stale)
    want = per_object if per_object is not None else recipe.photos_per_object
    if want < 1 or workers < 1:
        raise ValueError(f"per-object and workers must be at least 1 (got {want}, {workers})")
    report = SourcesReport(str(Path(manifest).resolve()), want, allow_unlicensed, keep_duplicates)
    for row, reason in rows.unreadable.items():
        reject_row(report, RowIssue(row, None, None, f"unreadable record: {reason}"))
    slots = plan_slots(rows.rows, recipe, allow_unlicensed, report)
    placed = _placed(work, slots, recipe, report)
    index = _index(work, placed, max_distance, report)
    known = {} if keep_duplicates else _known_duplicates(work, placed)
    run = DownloadRun(work, recipe, report, placed, index, keep_duplicates, max_pixels)
    run.fill(slots, want, known, workers, options or FetchOptions(), progress)
    _finish(work, recipe, slots, placed, report)
    return report


# ---------------------------------------------------------------- what the workspace holds


def _placed(
    work: Path, slots: dict[str, list[Slot]], recipe: Recipe, report: SourcesReport
) -> dict[str, dict[str, Any]]:
    """Slots whose photo is already in the workspace (key -> sidecar); credits kept up to date."""
    rejected = {issue.row for issue in report.rejected}
    placed: dict[str, dict[str, Any]] = {}
    for slot in (s for obj_slots in slots.values() for s in obj_slots):
        if slot.row.row in rejected:
            continue
        out = seed_photo_path(work, slot.obj, slot.idx)
        meta = _read_json(sidecar_path(out))
        want = {"source_url": public_url(slot.row.url), **build_keys(recipe)}
        if not (out.is_file() and meta and all(meta.get(k) == want[k] for k in _IDENTITY)):
            continue
        credit = slot_credit(slot)
        if any(meta.get(k) != v for k, v in credit.items()):
            meta.update(credit)
            write_json(sidecar_path(out), meta)
            report.updated += 1
        else:
            report.unchanged += 1
        placed[slot.key] = meta
    return placed


def _index(
    work: Path, placed: dict[str, dict[str, Any]], max_distance: int, report: SourcesReport
) -> DuplicateIndex:
    """The fingerprints of the photos already taken; near-duplicates kept earlier are reported."""
    index = DuplicateIndex(max_distance)
    for key, meta in placed.items():
        fp = Fingerprint.from_json(meta) or fingerprint_file(work / f"{key}.jpg")
        near = index.nearest(fp)
        if near is not None:
            row, url, obj = meta.get("manifest_row", 0), meta.get("source_url", ""), meta["object"]
            report.duplicates.append(DuplicateRow(row, url, obj, *near, kept=True))
        index.add(key, fp)
    return index


def _known_duplicates(work: Path, placed: dict[str, dict[str, Any]]) -> dict[str, DuplicateRow]:
    """Duplicates found by an earlier run whose original is still there: not downloaded again."""
    old = _read_json(work / REPORT_PATH)
    if not old or old.get("source") != "manifest":
        return {}
    known = {}
    for entry in old.get("duplicates", []):
        try:
            dup = DuplicateRow(**entry)
        except TypeError:
            continue
        if not dup.kept and dup.duplicate_of in placed:
            known[dup.url] = dup
    return known


# ---------------------------------------------------------------- the end of a run


def _finish(
    work: Path,
    recipe: Recipe,
    slots: dict[str, list[Slot]],
    placed: dict[str, dict[str, Any]],
    report: SourcesReport,
) -> None:
    for obj in recipe.objects:
        have = sum(1 for s in slots[obj] if s.key in placed)
        report.accepted[obj] = have
        if have < report.per_object:
            report.short_objects[obj] = have
        for i in photo_indices(work / SEED_STYLE / obj):
            if f"{SEED_STYLE}/{obj}/{i}" not in placed:
                report.stale.append(f"{SEED_STYLE}/{obj}/{i}.jpg")
    report.photos = [_photo_credit(key, placed[key]) for key in _sorted_keys(placed)]
    report.failed.sort(key=lambda f: f.row)
    report.rejected.sort(key=lambda f: f.row)
    report.duplicates.sort(key=lambda d: d.row)
    data = {"recipe": recipe.name, **report.to_json()}
    if _read_json(work / REPORT_PATH) != data:
        write_json(work / REPORT_PATH, data)
    kept = work / RECIPE_FILE
    if not (kept.is_file() and kept.read_text(encoding="utf-8") == recipe.to_yaml()):
        save_recipe(recipe, work)
    record_sources(work, recipe)


def _photo_credit(key: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "url": meta.get("source_url"),
        "source_page": meta.get("source_page"),
        "author": meta.get("author"),
        "licence": meta.get("licence"),
        "manifest_row": meta.get("manifest_row"),
    }


def _sorted_keys(keys: Iterable[str]) -> list[str]:
    def order(key: str) -> tuple[str, int]:
        _, obj, idx = key.split("/")
        return obj, int(idx)

    return sorted(keys, key=order)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
