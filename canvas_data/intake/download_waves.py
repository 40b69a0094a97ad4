"""Downloading a manifest's rows in waves and placing their photos, in manifest order.

Each wave takes, per object, as many of its next rows as it still needs photos. Worker threads
download, vet (:mod:`canvas_data.intake.photo_checks`) and normalise
(:mod:`canvas_data.images.normalize`) one row each; the results are placed in row order, so which
rows are taken depends only on which downloads succeed. A photo that is a near-duplicate of one
already taken (:mod:`canvas_data.intake.dedup`) is left out unless duplicates are kept; the
others are written with their sidecar last, which marks the photo done.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import write_bytes, write_json
from canvas_data.images.normalize import PhotoError, encode_jpeg, square_box, square_resize
from canvas_data.intake.dedup import DuplicateIndex, Fingerprint, fingerprint
from canvas_data.intake.download import DownloadError, Fetcher, FetchOptions
from canvas_data.intake.photo_checks import decode_photo
from canvas_data.intake.source_slots import Slot, build_keys, slot_credit
from canvas_data.intake.sources_report import DuplicateRow, RowIssue, SourcesReport
from canvas_data.public_url import public_url
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import seed_photo_path, sidecar_path

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Prepared:
    """A downloaded photo, normalised to its seed image, waiting to be placed."""

    slot: Slot
    jpeg: bytes
    fingerprint: Fingerprint
    meta: dict[str, Any]


class DownloadRun:
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
        left = sorted((s.row for q in queues.values() for s in q), key=lambda r: r.row)
        self.report.not_needed = len(left)
        self.report.beyond_per_object = [
            RowIssue(r.row, r.url, r.object, f"not needed: {r.object} has {want} photos")
            for r in left
        ]

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
            "source_url": public_url(slot.row.url),
            "source_final_url": public_url(download.final_url),
            **slot_credit(slot),
            "manifest": self.manifest,
            "source_sha256": hashlib.sha256(download.data).hexdigest(),
            "source_bytes": len(download.data),
            "source_content_type": download.content_type,
            **photo.source_facts(),
            "exif_author": photo.author,
            "exif_copyright": photo.licence,
            "crop_box": list(square_box(*photo.image.size)),  # in the upright photo's pixels
            **build_keys(self.recipe),
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
