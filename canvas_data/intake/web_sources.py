"""Seed photos from the web: download the rows of a URL manifest into the workspace.

Each row's photo is downloaded (:mod:`canvas_data.intake.download`), vetted and normalised like a
local photo (:mod:`canvas_data.intake.photo_checks`: decode checks, EXIF orientation, RGB;
:mod:`canvas_data.images.normalize`: centre square, resize), compared with the photos already
taken (:mod:`canvas_data.intake.dedup`), and written to
``Seed_Images/{Object}/{idx}.jpg`` with a sidecar that carries its URL, author and licence.

A row's ``idx`` is its position among the manifest's rows of the same object, so it never depends
on which downloads failed: a row keeps its idx across reruns. Rows are tried in manifest order
until an object has ``per_object`` photos; a rerun downloads only what is still missing, retries
the rows that failed, and never replaces a photo already taken.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import write_bytes, write_json
from canvas_data.images.normalize import PhotoError, encode_jpeg, square_box, square_resize
from canvas_data.intake.dedup import (
    MAX_DISTANCE,
    DuplicateIndex,
    Fingerprint,
    fingerprint,
    fingerprint_file,
)
from canvas_data.intake.download import DownloadError, Fetcher, FetchOptions
from canvas_data.intake.photo_checks import MAX_PIXELS, decode_photo
from canvas_data.intake.photos import REPORT_PATH
from canvas_data.intake.url_manifest import ManifestRow, read_manifest
from canvas_data.recipe import RECIPE_FILE, Recipe, save_recipe
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import photo_indices, seed_photo_path, sidecar_path

# Sidecar keys that say a seed photo is this row's photo at this build's size.
_IDENTITY = ("source_url", "resolution", "jpeg_quality")
# Sidecar keys taken from the manifest row: changing them rewrites the sidecar, not the photo.
_CREDIT = ("author", "licence", "source_page", "manifest_row")
_SUMMARY_FAILURES = 10

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Slot:
    """A manifest row of an object in the build, and the idx its photo gets."""

    row: ManifestRow
    obj: str
    idx: int

    @property
    def key(self) -> str:
        return f"{SEED_STYLE}/{self.obj}/{self.idx}"


@dataclass(frozen=True)
class RowIssue:
    """A row left out: a failed download or a manifest problem, with one line why."""

    row: int
    url: str | None
    object: str | None
    reason: str

    def line(self) -> str:
        return f"row {self.row} {self.url or '(no url)'}: {self.reason}"


@dataclass(frozen=True)
class DuplicateRow:
    """A row whose photo is a near-duplicate of a photo already taken."""

    row: int
    url: str
    object: str
    duplicate_of: str  # the key of the photo it repeats
    distance: int  # bits between their perceptual hashes
    kept: bool  # written anyway (keep_duplicates)


@dataclass
class Prepared:
    """A downloaded photo, normalised to its seed image, waiting to be placed."""

    slot: Slot
    jpeg: bytes
    fingerprint: Fingerprint
    meta: dict[str, Any]


@dataclass
class SourcesReport:
    """What a manifest run found and did."""

    manifest: str
    per_object: int
    allow_unlicensed: bool
    keep_duplicates: bool
    accepted: dict[str, int] = field(default_factory=dict)
    photos: list[dict[str, Any]] = field(default_factory=list)  # key, url, author, licence, ...
    failed: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    not_in_build: list[str] = field(default_factory=list)
    short_objects: dict[str, int] = field(default_factory=dict)
    not_needed: int = 0  # rows not tried: their object already had enough photos
    stale: list[str] = field(default_factory=list)  # seed photos that no placed row owns
    downloaded: int = 0
    unchanged: int = 0
    updated: int = 0  # credit changed in the manifest: sidecar rewritten, photo kept

    @property
    def licences(self) -> dict[str, int]:
        """Photos per licence (``none`` for rows accepted without one)."""
        counts = Counter(p["licence"] or "none" for p in self.photos)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self) -> str:
        """One line for the terminal; it names every failed URL (the first few, then a count)."""
        total = sum(self.accepted.values())
        parts = [
            f"sources: {_count(total, 'seed photo')} for {_count(len(self.accepted), 'object')} "
            f"({self.downloaded} downloaded, {self.unchanged} already there"
            + (f", {self.updated} credits updated" if self.updated else "")
            + ")",
            "licences: " + (", ".join(f"{k} ({v})" for k, v in self.licences.items()) or "none"),
        ]
        if self.failed:
            shown = "; ".join(f.line() for f in self.failed[:_SUMMARY_FAILURES])
            more = len(self.failed) - _SUMMARY_FAILURES
            parts.append(
                f"{len(self.failed)} failed (retried next run): {shown}"
                + (f"; and {more} more in {REPORT_PATH}" if more > 0 else "")
            )
        left_out = [d for d in self.duplicates if not d.kept]
        if left_out:
            parts.append(f"{_count(len(left_out), 'near-duplicate')} left out")
        if len(left_out) < len(self.duplicates):
            kept = len(self.duplicates) - len(left_out)
            parts.append(f"{_count(kept, 'near-duplicate')} kept")
        if self.rejected:
            parts.append(f"{_count(len(self.rejected), 'row')} rejected")
        if self.short_objects:
            want = self.per_object
            short = ", ".join(f"{o} {n}/{want}" for o, n in self.short_objects.items())
            parts.append(f"short: {short}")
        if self.not_in_build:
            parts.append(f"not in this build: {', '.join(self.not_in_build)}")
        if self.stale:
            parts.append(f"{_count(len(self.stale), 'stale output')} left")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The report file's content; the write counts of this run are left out."""
        data = asdict(self)
        for key in ("downloaded", "unchanged", "updated"):
            del data[key]
        unlicensed = sum(1 for p in self.photos if not p["licence"])
        return {"source": "manifest", **data, "licences": self.licences, "unlicensed": unlicensed}


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
) -> SourcesReport:
    """Download the photos a manifest lists into ``work``'s seed photos; see the module doc."""
    work = Path(work)
    rows = read_manifest(manifest)
    want = per_object if per_object is not None else recipe.photos_per_object
    if want < 1 or workers < 1:
        raise ValueError(f"per-object and workers must be at least 1 (got {want}, {workers})")
    report = SourcesReport(str(Path(manifest).resolve()), want, allow_unlicensed, keep_duplicates)
    for row, reason in rows.unreadable.items():
        _reject(report, RowIssue(row, None, None, f"unreadable record: {reason}"))
    slots = _plan(rows.rows, recipe, allow_unlicensed, report)
    placed = _placed(work, slots, recipe, report)
    index = _index(work, placed, max_distance, report)
    known = {} if keep_duplicates else _known_duplicates(work, placed)
    run = _Run(work, recipe, report, placed, index, keep_duplicates, max_pixels)
    run.fill(slots, want, known, workers, options or FetchOptions(), progress)
    _finish(work, recipe, slots, placed, report)
    return report


# ---------------------------------------------------------------- planning


def _plan(
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
            _reject(report, RowIssue(row.row, row.url, row.object, why))
            continue
        if obj not in build:
            not_in_build.add(obj)
            continue
        slot = Slot(row, obj, len(slots[obj]) + 1)  # every row of the object takes an idx
        slots[obj].append(slot)
        reason = _row_problem(row, allow_unlicensed, seen_urls)
        if reason:
            _reject(report, RowIssue(row.row, row.url, obj, reason))
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


def _reject(report: SourcesReport, issue: RowIssue) -> None:
    report.rejected.append(issue)
    tqdm.write(f"rejected {issue.line()}", file=sys.stderr)


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
        want = {"source_url": slot.row.url, **_build_keys(recipe)}
        if not (out.is_file() and meta and all(meta.get(k) == want[k] for k in _IDENTITY)):
            continue
        credit = _credit(slot)
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


# ---------------------------------------------------------------- downloading and placing


class _Run:
    """One pass over the manifest: fills every object up to ``want`` photos, in row order."""

    def __init__(
        self,
        work: Path,
        recipe: Recipe,
        report: SourcesReport,
        placed: dict[str, dict[str, Any]],
        index: DuplicateIndex,
        keep_duplicates: bool,
        max_pixels: int,
    ) -> None:
        self.work, self.recipe, self.report = work, recipe, report
        self.placed, self.index = placed, index
        self.keep_duplicates, self.max_pixels = keep_duplicates, max_pixels

    def fill(
        self,
        slots: dict[str, list[Slot]],
        want: int,
        known: dict[str, DuplicateRow],
        workers: int,
        options: FetchOptions,
        progress: bool,
    ) -> None:
        """Download in waves: each wave takes, per object, as many next rows as it still needs.

        Results are placed in manifest order, so which rows are taken depends only on which
        downloads succeed, never on which finished first.
        """
        rejected = {issue.row for issue in self.report.rejected}
        queues = {
            obj: [s for s in obj_slots if self._to_try(s, rejected, known)]
            for obj, obj_slots in slots.items()
        }
        bar = tqdm(total=0, desc="downloads", unit="photo", disable=not progress)
        with Fetcher(options) as fetcher, ThreadPoolExecutor(workers) as pool, bar:
            manifest = Path(self.report.manifest).name  # sidecars name no local folder
            job = _Job(fetcher, self.recipe, manifest, self.max_pixels)
            while wave := self._wave(queues, want):
                bar.total += len(wave)
                bar.refresh()
                for result in _ordered_map(pool, job, wave, window=4 * workers):
                    self._place(result)
                    bar.update(1)
        self.report.not_needed = sum(len(q) for q in queues.values())

    def _to_try(self, slot: Slot, rejected: set[int], known: dict[str, DuplicateRow]) -> bool:
        """Not placed, not rejected, and not a duplicate found by an earlier run (re-reported)."""
        if slot.key in self.placed or slot.row.row in rejected:
            return False
        dup = known.get(slot.row.url or "")
        if dup is not None and dup.row == slot.row.row:
            self.report.duplicates.append(dup)
            return False
        return True

    def _wave(self, queues: dict[str, list[Slot]], want: int) -> list[Slot]:
        wave: list[Slot] = []
        for obj, queue in queues.items():
            have = sum(1 for key in self.placed if key.split("/")[1] == obj)
            need = max(want - have, 0)
            wave += queue[:need]
            del queue[:need]
        return sorted(wave, key=lambda s: s.row.row)

    def _place(self, result: Prepared | tuple[Slot, str]) -> None:
        if isinstance(result, tuple):
            slot, reason = result
            issue = RowIssue(slot.row.row, slot.row.url, slot.obj, reason)
            self.report.failed.append(issue)
            tqdm.write(f"failed {issue.line()}", file=sys.stderr)
            return
        slot = result.slot
        near = self.index.nearest(result.fingerprint)
        if near is not None:
            row, url = slot.row.row, slot.row.url or ""
            dup = DuplicateRow(row, url, slot.obj, *near, kept=self.keep_duplicates)
            self.report.duplicates.append(dup)
            verb = "kept" if dup.kept else "left out"
            tqdm.write(
                f"near-duplicate row {dup.row} {dup.url} of {dup.duplicate_of} "
                f"({dup.distance} bits): {verb}",
                file=sys.stderr,
            )
            if not dup.kept:
                return
        out = seed_photo_path(self.work, slot.obj, slot.idx)
        if out.is_file():
            tqdm.write(f"replacing {out}: it is not row {slot.row.row}'s photo", file=sys.stderr)
        write_bytes(out, result.jpeg)
        write_json(sidecar_path(out), result.meta)  # the sidecar last: it marks the photo done
        self.placed[slot.key] = result.meta
        self.index.add(slot.key, result.fingerprint)
        self.report.downloaded += 1


@dataclass(frozen=True)
class _Job:
    """Download, vet and normalise one row (runs in a worker thread)."""

    fetcher: Fetcher
    recipe: Recipe
    manifest: str
    max_pixels: int

    def __call__(self, slot: Slot) -> Prepared | tuple[Slot, str]:
        try:
            download = self.fetcher.fetch(slot.row.url or "")
            photo = decode_photo(
                download.data, min_side=self.recipe.min_photo_side, max_pixels=self.max_pixels
            )
            seed = square_resize(photo.image, self.recipe.resolution)
            jpeg = encode_jpeg(seed, self.recipe.jpeg_quality)
            fp = fingerprint(seed)
        except (DownloadError, PhotoError) as err:
            return slot, err.reason
        except Exception as err:  # one hostile file must not stop the run; report it, go on
            return slot, f"unexpected {type(err).__name__}: {' '.join(str(err).split())}"
        meta = {
            "key": slot.key,
            "style": SEED_STYLE,
            "object": slot.obj,
            "idx": slot.idx,
            "source_url": slot.row.url,
            "source_final_url": download.final_url,
            **_credit(slot),
            "manifest": self.manifest,
            "source_sha256": hashlib.sha256(download.data).hexdigest(),
            "source_bytes": len(download.data),
            "source_content_type": download.content_type,
            "source_format": photo.format,
            "source_width": photo.width,
            "source_height": photo.height,
            "source_mode": photo.mode,
            "source_icc_profile": photo.icc_profile,
            "exif_orientation": photo.exif_orientation,
            "exif_orientation_applied": photo.exif_orientation != 1,
            "exif_author": photo.author,
            "exif_copyright": photo.licence,
            "crop_box": list(square_box(*photo.image.size)),  # in the upright photo's pixels
            **_build_keys(self.recipe),
            **fp.to_json(),
            "recipe": self.recipe.name,
            "toolkit_version": __version__,
        }
        return Prepared(slot, jpeg, fp, meta)


def _ordered_map(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """``pool.map`` that keeps at most ``window`` jobs in flight and yields in input order."""
    pending: list[Future[R]] = []
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.pop(0).result()
    while pending:
        yield pending.pop(0).result()


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _credit(slot: Slot) -> dict[str, Any]:
    row = slot.row
    return {
        "author": row.author,
        "licence": row.licence,
        "source_page": row.source_page,
        "manifest_row": row.row,
    }


def _build_keys(recipe: Recipe) -> dict[str, Any]:
    return {"resolution": recipe.resolution, "jpeg_quality": recipe.jpeg_quality}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
