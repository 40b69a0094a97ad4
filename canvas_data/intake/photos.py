"""Photo intake: vet real photographs and write them as the workspace's seed photos.

``intake_photos`` reads a folder with one sub-folder per object, decodes every candidate fully
(truncated files, decompression bombs, non-images and small photos are skipped with a reason),
and writes the first ``photos_per_object`` usable ones, square-cropped and resized, to
``Seed_Images/{Object}/{idx}.jpg`` with a provenance sidecar. The input folder is only read,
and a rerun over the same photos rewrites nothing.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import write_bytes, write_json
from canvas_data.build_record import check_sources, record_sources
from canvas_data.images.normalize import PhotoError, encode_jpeg, square_box, square_resize
from canvas_data.intake.photo_checks import MAX_PIXELS, Photo, read_photo
from canvas_data.recipe import RECIPE_FILE, Recipe, save_recipe
from canvas_data.suggest import closest
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import seed_photo_path, sha256_file, sidecar_path

REPORT_PATH = Path("reports") / "sources.json"

# Keys of a seed sidecar that decide whether an existing output is still the right one.
_IDENTITY = ("source_sha256", "crop_box", "resolution", "jpeg_quality")


def text_path(path: Path) -> str:
    """``path`` (POSIX form) as text any UTF-8 file can hold: bytes of a file name that are not
    UTF-8 (which Python keeps as lone surrogates) are written ``\\xff``, so provenance, tar
    members and cards never fail to encode and still show which file it was."""
    return os.fsencode(path.as_posix()).decode("utf-8", errors="backslashreplace")


# ---------------------------------------------------------------- the intake stage


@dataclass
class IntakeReport:
    """What an intake run found and did."""

    photos_per_object: int
    accepted: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # source path -> reason
    unknown_folders: list[str] = field(default_factory=list)
    near_misses: dict[str, str] = field(default_factory=dict)  # unknown folder -> closest object
    skipped_objects: list[str] = field(default_factory=list)  # in the taxonomy, not the build
    duplicate_folders: list[str] = field(default_factory=list)
    short_objects: dict[str, int] = field(default_factory=dict)  # object -> usable photos
    stale: list[str] = field(default_factory=list)  # outputs above the photos taken this run
    # object -> files not read: the object already had photos_per_object photos
    beyond_photos_per_object: dict[str, list[str]] = field(default_factory=dict)
    written: int = 0
    unchanged: int = 0

    def summary(self) -> str:
        """One line for the terminal."""
        total = sum(self.accepted.values())
        parts = [
            f"intake: {total} seed photos for {len(self.accepted)} objects "
            f"({self.written} written, {self.unchanged} unchanged)",
            f"{len(self.rejected)} files skipped",
        ]
        beyond = sum(len(files) for files in self.beyond_photos_per_object.values())
        if beyond:
            parts.append(
                f"{beyond} photos beyond photos_per_object ({self.photos_per_object}) left out"
            )
        if self.short_objects:
            want = self.photos_per_object
            short = ", ".join(f"{o} {n}/{want}" for o, n in self.short_objects.items())
            parts.append(f"short: {short}")
        if self.unknown_folders:
            named = (
                f"{n} (did you mean {self.near_misses[n]}?)" if n in self.near_misses else n
                for n in self.unknown_folders
            )
            parts.append(f"unknown folders: {', '.join(named)}")
        if self.skipped_objects:
            parts.append(f"not in this build: {', '.join(self.skipped_objects)}")
        if self.duplicate_folders:
            parts.append(f"duplicate folders ignored: {', '.join(self.duplicate_folders)}")
        if self.stale:
            parts.append(f"{len(self.stale)} stale outputs left")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """What the photos folder holds; the write counts of this run are left out."""
        data = asdict(self)
        del data["written"], data["unchanged"]
        return data


def intake_photos(
    photos_dir: Path,
    work: Path,
    recipe: Recipe,
    *,
    progress: bool = True,
    max_pixels: int = MAX_PIXELS,
    repaint_stale: bool = False,
) -> IntakeReport:
    """Vet the photos in ``photos_dir/{Object}/``; write the build's seed photos into ``work``.

    A workspace built with another recipe is refused (``BuildConflict``, nothing written) unless
    ``repaint_stale``: then the seed photos are rewritten and the paintings made from the old
    ones are stale until ``stylize`` repaints them.
    """
    photos_dir, work = Path(photos_dir).resolve(), Path(work)
    if not photos_dir.is_dir():
        raise NotADirectoryError(f"no photo folder at {photos_dir}")
    check_sources(work, recipe, repaint_stale)
    report = IntakeReport(photos_per_object=recipe.photos_per_object)
    folders = _object_folders(photos_dir, recipe, report)
    candidates = {obj: _candidates(folders[obj]) for obj in recipe.objects if obj in folders}
    total = sum(len(files) for files in candidates.values())
    with tqdm(total=total, desc="photos", unit="file", disable=not progress) as bar:
        for obj in recipe.objects:
            files = candidates.get(obj, [])
            _intake_object(obj, files, photos_dir, work, recipe, report, bar, max_pixels)
    _write_report(work, photos_dir, recipe, report)
    _save_recipe_if_changed(recipe, work)
    record_sources(work, recipe)
    return report


def _object_folders(photos_dir: Path, recipe: Recipe, report: IntakeReport) -> dict[str, Path]:
    """Map the build's objects to their sub-folders, reporting everything else."""
    by_lower = {name.lower(): name for name in recipe.taxonomy.objects}
    entries = [p for p in photos_dir.iterdir() if not p.name.startswith(".")]
    if not any(p.is_dir() and by_lower.get(p.name.lower()) in recipe.objects for p in entries):
        raise ValueError(_no_object_folders(photos_dir, entries, recipe))
    found: dict[str, Path] = {}
    for entry in sorted(entries, key=lambda p: _natural_key(p.name)):
        if not entry.is_dir():
            _reject(report, entry, "not inside an object folder")
            continue
        obj = by_lower.get(entry.name.lower())
        if obj is None:
            report.unknown_folders.append(entry.name)
            near = closest(entry.name, recipe.objects)
            if near is not None:
                report.near_misses[entry.name] = near
                _warn(f"folder {entry.name}/ is not an object: did you mean {near}?")
        elif obj not in recipe.objects:
            report.skipped_objects.append(entry.name)
        elif obj not in found or (entry.name == obj and found[obj].name != obj):
            if obj in found:  # an exact name wins over a case-insensitive match
                report.duplicate_folders.append(found[obj].name)
            found[obj] = entry
        else:
            report.duplicate_folders.append(entry.name)
    return found


def _no_object_folders(photos_dir: Path, entries: list[Path], recipe: Recipe) -> str:
    """One line: ``photos_dir`` has no sub-folder named like an object of the build."""
    folders = sorted(p.name for p in entries if p.is_dir())
    near = {f: closest(f, recipe.objects) for f in folders}
    hint = "; ".join(f"{f}/ -> {n}?" for f, n in near.items() if n is not None)
    objects = ", ".join(recipe.objects[:4]) + (", ..." if len(recipe.objects) > 4 else "")
    return (
        f"{photos_dir}: no object folders ({len(entries) - len(folders)} files, "
        f"{len(folders)} folders, none named like an object of the build: {objects}); put each "
        f"object's photos in a sub-folder named after it, e.g. {photos_dir / recipe.objects[0]}/"
        + (f" (folders that look like objects: {hint})" if hint else "")
    )


def _natural_key(name: str) -> tuple[list[Any], str]:
    parts = re.split(r"(\d+)", name)
    return [int(p) if p.isdecimal() else p.lower() for p in parts], name


def _candidates(folder: Path) -> list[Path]:
    files = (p for p in folder.iterdir() if not p.name.startswith("."))
    return sorted(files, key=lambda p: _natural_key(p.name))


def _intake_object(
    obj: str,
    files: list[Path],
    photos_dir: Path,
    work: Path,
    recipe: Recipe,
    report: IntakeReport,
    bar: tqdm,
    max_pixels: int,
) -> None:
    """Take the first ``photos_per_object`` usable files of one object, in name order."""
    idx = 0
    for done, path in enumerate(files, start=1):
        bar.update(1)
        try:
            photo = read_photo(path, min_side=recipe.min_photo_side, max_pixels=max_pixels)
        except PhotoError as err:
            _reject(report, path, err.reason)
            continue
        idx += 1
        _write_seed(obj, idx, path, photos_dir, photo, work, recipe, report)
        if idx == recipe.photos_per_object:
            bar.update(len(files) - done)
            if files[done:]:
                report.beyond_photos_per_object[obj] = [
                    text_path(p.relative_to(photos_dir)) for p in files[done:]
                ]
            break
    report.accepted[obj] = idx
    if idx < recipe.photos_per_object:
        report.short_objects[obj] = idx
        _warn(f"{obj} has {idx} usable photos; the recipe wants {recipe.photos_per_object}")
    report.stale.extend(_stale_outputs(work, obj, idx))


def _reject(report: IntakeReport, path: Path, reason: str) -> None:
    report.rejected[str(path)] = reason
    tqdm.write(f"skipped {path}: {reason}", file=sys.stderr)


def _warn(message: str) -> None:
    tqdm.write(f"warning: {message}", file=sys.stderr)


def _write_seed(
    obj: str,
    idx: int,
    path: Path,
    photos_dir: Path,
    photo: Photo,
    work: Path,
    recipe: Recipe,
    report: IntakeReport,
) -> None:
    """Write one seed photo and its sidecar (sidecar last), unless the same one is there."""
    out = seed_photo_path(work, obj, idx)
    meta = _provenance(obj, idx, path, text_path(path.relative_to(photos_dir)), photo, recipe)
    if out.is_file() and _same_identity(sidecar_path(out), meta):
        if not _json_equal(sidecar_path(out), meta):  # e.g. an older sidecar's absolute path
            write_json(sidecar_path(out), meta)
        report.unchanged += 1
        return
    image = square_resize(photo.image, recipe.resolution)
    write_bytes(out, encode_jpeg(image, recipe.jpeg_quality))
    write_json(sidecar_path(out), meta)
    report.written += 1


def _provenance(
    obj: str, idx: int, path: Path, relative: str, photo: Photo, recipe: Recipe
) -> dict[str, Any]:
    """A seed photo's sidecar; ``source_path`` is relative to the photos folder (no local paths)."""
    return {
        "key": f"{SEED_STYLE}/{obj}/{idx}",
        "style": SEED_STYLE,
        "object": obj,
        "idx": idx,
        "source_path": relative,
        "source_sha256": sha256_file(path),
        "source_bytes": path.stat().st_size,
        **photo.source_facts(),
        "crop_box": list(square_box(*photo.image.size)),  # in the upright photo's pixels
        "resolution": recipe.resolution,
        "jpeg_quality": recipe.jpeg_quality,
        "author": photo.author,
        "licence": photo.licence,
        "recipe": recipe.name,
        "toolkit_version": __version__,
    }


def _same_identity(sidecar: Path, meta: dict[str, Any]) -> bool:
    try:
        old = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(old, dict) and all(old.get(k) == meta[k] for k in _IDENTITY)


def _stale_outputs(work: Path, obj: str, taken: int) -> list[str]:
    """Seed photos above ``taken`` left by an earlier intake: reported, never deleted."""
    folder = work / SEED_STYLE / obj
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob("*.jpg") if p.stem.isdigit() and int(p.stem) > taken]
    return [str(p.relative_to(work)) for p in sorted(stale, key=lambda p: int(p.stem))]


def _write_report(work: Path, photos_dir: Path, recipe: Recipe, report: IntakeReport) -> None:
    data = {"photos_dir": str(photos_dir), "recipe": recipe.name, **report.to_json()}
    path = work / REPORT_PATH
    if not _json_equal(path, data):
        write_json(path, data)


def _save_recipe_if_changed(recipe: Recipe, work: Path) -> None:
    kept = work / RECIPE_FILE
    if not (kept.is_file() and kept.read_text(encoding="utf-8") == recipe.to_yaml()):
        save_recipe(recipe, work)


def _json_equal(path: Path, data: dict[str, Any]) -> bool:
    try:
        return json.loads(path.read_text()) == data
    except (OSError, ValueError):
        return False
