"""Which rows of a URL manifest the build takes, and the idx each row's photo gets.

A row's ``idx`` is its position among the manifest's rows of the same object (rows with a problem
take theirs too), so it never depends on which downloads fail. A row without a url, with a URL
that is not http(s) or was seen in an earlier row, or without a licence (unless unlicensed rows
are allowed) is rejected; rows of objects outside the build are counted, not taken. The sidecar
keys that come from a row (its credit) and from the build (size and quality) are made here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from canvas_data.intake.sources_report import RowIssue, SourcesReport, reject_row
from canvas_data.intake.url_manifest import ManifestRow
from canvas_data.public_url import public_url
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE

# Sidecar keys taken from the manifest row: changing them rewrites the sidecar, not the photo.


@dataclass(frozen=True)
class Slot:
    """A manifest row of an object in the build, and the idx its photo gets."""

    row: ManifestRow
    obj: str
    idx: int

    @property
    def key(self) -> str:
        return f"{SEED_STYLE}/{self.obj}/{self.idx}"


def plan_slots(
    rows: list[ManifestRow], recipe: Recipe, allow_unlicensed: bool, report: SourcesReport
) -> dict[str, list[Slot]]:
    """The slots of every object of the build, in manifest order; bad rows go to ``rejected``."""
    by_lower = {name.lower(): name for name in recipe.taxonomy.objects}
    build = set(recipe.objects)
    slots: dict[str, list[Slot]] = {obj: [] for obj in recipe.objects}
    seen_urls: dict[str, int] = {}
    not_in_build: set[str] = set()
    for row in rows:
        obj = by_lower.get((row.object or "").lower())
        if obj is None:
            why = f"unknown object {row.object!r}" if row.object else "no object"
            reject_row(report, RowIssue(row.row, row.url, row.object, why))
            continue
        if obj not in build:
            not_in_build.add(obj)
            continue
        slot = Slot(row, obj, len(slots[obj]) + 1)  # every row of the object takes an idx
        slots[obj].append(slot)
        reason = _row_problem(row, allow_unlicensed, seen_urls)
        if reason:
            reject_row(report, RowIssue(row.row, row.url, obj, reason))
        if row.url and row.url not in seen_urls:
            seen_urls[row.url] = row.row
    report.not_in_build = sorted(not_in_build)
    return slots


def _row_problem(row: ManifestRow, allow_unlicensed: bool, seen: dict[str, int]) -> str | None:
    if not row.url:
        return "no url"
    parts = urlsplit(row.url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "not an http(s) URL"
    if row.url in seen:
        return f"same URL as row {seen[row.url]}"
    if not row.licence and not allow_unlicensed:
        return "no licence (pass --allow-unlicensed to accept rows without one)"
    return None


def slot_credit(slot: Slot) -> dict[str, Any]:
    """The sidecar keys a row's credit sets: author, licence, source page, manifest row."""
    row = slot.row
    return {
        "author": row.author,
        "licence": row.licence,
        "source_page": public_url(row.source_page),
        "manifest_row": row.row,
    }


def build_keys(recipe: Recipe) -> dict[str, Any]:
    """The sidecar keys the build sets: resolution (px) and JPEG quality."""
    return {"resolution": recipe.resolution, "jpeg_quality": recipe.jpeg_quality}
