"""Photo intake: vet real photographs and write them as the workspace's seed photos.

``intake_photos`` reads a folder with one sub-folder per object, decodes every candidate fully
(truncated files, decompression bombs, non-images and small photos are skipped with a reason),
and writes the first ``photos_per_object`` usable ones, square-cropped and resized, to
``Seed_Images/{Object}/{idx}.jpg`` with a provenance sidecar. The input folder is only read,
and a rerun over the same photos rewrites nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import write_bytes, write_json
from canvas_data.images.colour import to_srgb
from canvas_data.images.integrity import (
    IncompleteImage,
    check_jpeg_complete,
    check_plausible_size,
    strict_loading,
)
from canvas_data.recipe import RECIPE_FILE, Recipe, save_recipe
from canvas_data.suggest import closest
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import seed_photo_path, sha256_file, sidecar_path

MAX_PIXELS = 89_478_485  # Pillow's default decompression-bomb limit
REPORT_PATH = Path("reports") / "sources.json"

_EXIF_ORIENTATION = 0x0112
_EXIF_ARTIST = 0x013B
_EXIF_COPYRIGHT = 0x8298
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
# Keys of a seed sidecar that decide whether an existing output is still the right one.
_IDENTITY = ("source_sha256", "crop_box", "resolution", "jpeg_quality")


class PhotoError(Exception):
    """A photo that cannot be used; ``reason`` is one short human line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Photo:
    """A decoded, upright RGB photo and what it was before."""

    image: Image.Image
    width: int
    height: int
    mode: str
    format: str | None
    exif_orientation: int
    icc_profile: str | None
    author: str | None
    licence: str | None


# ---------------------------------------------------------------- decoding one photo


def load_photo(path: Path, *, min_side: int, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open, fully decode, orient (EXIF) and convert a photo to RGB; PhotoError if unusable."""
    return read_photo(path, min_side=min_side, max_pixels=max_pixels).image


def read_photo(path: Path, *, min_side: int, max_pixels: int = MAX_PIXELS) -> Photo:
    """Like :func:`load_photo`, also returning the original size, mode, orientation and credit."""
    path = Path(path)
    _check_file(path)
    return _read_photo(path, min_side=min_side, max_pixels=max_pixels)


def decode_photo(data: bytes, *, min_side: int, max_pixels: int = MAX_PIXELS) -> Photo:
    """Like :func:`read_photo`, for a photo held in memory (a download)."""
    if not data:
        raise PhotoError("empty file")
    return _read_photo(io.BytesIO(data), min_side=min_side, max_pixels=max_pixels)


def _read_photo(source: Path | io.BytesIO, *, min_side: int, max_pixels: int) -> Photo:
    with _open(source) as im:
        width, height = im.size
        _check_size(width, height, min_side=min_side, max_pixels=max_pixels)
        _check_whole(im, source)
        _decode(im)
        orientation = _orientation(im)
        author, licence = _credit(im)
        icc = _icc_description(im)
        upright = _exif_transpose(im)
        rgb = to_rgb(upright)
        return Photo(rgb, width, height, im.mode, im.format, orientation, icc, author, licence)


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as err:
        raise PhotoError(f"cannot read file ({err.strerror or err})") from err
    if not path.is_file():
        raise PhotoError("not a file")
    if size == 0:
        raise PhotoError("empty file")


def _open(path: Path | io.BytesIO) -> Image.Image:
    """``Image.open`` with Pillow's own bomb check turned into PhotoError (ours follows it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as err:
        raise PhotoError(_pillow_bomb_reason(err)) from err
    except UnidentifiedImageError as err:
        raise PhotoError("not an image (cannot identify image file)") from err
    except PermissionError as err:
        raise PhotoError(f"cannot read file ({err.strerror})") from err
    except Exception as err:  # Pillow plugins raise anything on hostile input; report, go on
        raise PhotoError(f"unreadable image header ({_one_line(err)})") from err


def _pillow_bomb_reason(err: Exception) -> str:
    match = re.search(r"\((\d+) pixels\)", str(err))
    pixels = f"{int(match[1]):,} pixels" if match else "image size"
    return f"decompression bomb: {pixels} exceeds the {Image.MAX_IMAGE_PIXELS or 0:,} limit"


def _check_size(width: int, height: int, *, min_side: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise PhotoError(
            f"decompression bomb: {width}x{height} pixels exceeds the {max_pixels:,} limit"
        )
    if min(width, height) < min_side:
        raise PhotoError(
            f"too small: {width}x{height}, the short side must be at least {min_side} px"
        )


def _check_whole(im: Image.Image, source: Path | io.BytesIO) -> None:
    """Refuse data that can only be part of the image it declares (see :mod:`image_integrity`)."""
    try:
        data = source.getvalue() if isinstance(source, io.BytesIO) else None
        nbytes = len(data) if data is not None else source.stat().st_size
        check_plausible_size(im.format, *im.size, nbytes)
        if im.format == "JPEG":
            check_jpeg_complete(data if data is not None else source.read_bytes())
    except IncompleteImage as err:
        raise PhotoError(str(err)) from None
    except OSError as err:
        raise PhotoError(f"cannot read file ({err.strerror or err})") from err


def _decode(im: Image.Image) -> None:
    """Decode every pixel now; a short file fails here instead of being padded."""
    try:
        with strict_loading():
            im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        text = str(err).lower()
        if "truncated" in text or "broken data stream" in text or isinstance(err, EOFError):
            raise PhotoError("truncated image data") from err
        raise PhotoError(f"corrupt image data ({_one_line(err)})") from err
    except Exception as err:  # Pillow plugins raise anything on hostile input; report, go on
        raise PhotoError(f"corrupt image data ({_one_line(err)})") from err


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    if isinstance(err, (OSError, SyntaxError, ValueError)):
        return text or type(err).__name__
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _orientation(im: Image.Image) -> int:
    value = im.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif_transpose(im: Image.Image) -> Image.Image:
    try:
        upright = ImageOps.exif_transpose(im)
    except (OSError, ValueError, SyntaxError) as err:
        raise PhotoError(f"bad EXIF orientation ({_one_line(err)})") from err
    return upright.copy() if upright is im else upright


def _credit(im: Image.Image) -> tuple[str | None, str | None]:
    """Author and licence from EXIF Artist/Copyright or PNG Author/Copyright text, if any."""
    exif = im.getexif()
    author = _text(exif.get(_EXIF_ARTIST)) or _text(im.info.get("Author"))
    licence = _text(exif.get(_EXIF_COPYRIGHT)) or _text(im.info.get("Copyright"))
    return author, licence


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return " ".join(value.replace("\x00", " ").split()) or None


def _icc_description(im: Image.Image) -> str | None:
    icc = im.info.get("icc_profile")
    if not icc:
        return None
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
    except (ImageCms.PyCMSError, OSError, TypeError):
        return "unreadable"


# ---------------------------------------------------------------- colour modes


def text_path(path: Path) -> str:
    """``path`` (POSIX form) as text any UTF-8 file can hold: bytes of a file name that are not
    UTF-8 (which Python keeps as lone surrogates) are written ``\\xff``, so provenance, tar
    members and cards never fail to encode and still show which file it was."""
    return os.fsencode(path.as_posix()).decode("utf-8", errors="backslashreplace")


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit sRGB.

    An embedded ICC profile that is not sRGB is applied first (``colour.to_srgb``, LittleCMS),
    on the colour channels of transparent images too; then transparency is composited over
    white.
    """
    if im.mode in _SIXTEEN_BIT or im.mode in ("I", "F"):
        grey = Image.fromarray(_scale_to_8bit(np.asarray(im), im.mode), "L")
        if im.info.get("icc_profile"):
            grey.info["icc_profile"] = im.info["icc_profile"]
        im = grey
    im = to_srgb(im)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return _over_white(im)
    if im.mode == "1":
        return im.convert("L").convert("RGB")
    try:
        return im.convert("RGB")
    except ValueError as err:
        raise PhotoError(f"unsupported colour mode {im.mode}") from err


def _scale_to_8bit(arr: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit integer and float greyscale to 0..255 by their nominal range, not clipping.

    ``I;16`` is 0..65535; ``I`` and ``F`` are read by the range their values use: 0..1 (float),
    0..255, 0..65535, and anything else is stretched from its minimum to its maximum.
    """
    a = arr.astype(np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if mode in _SIXTEEN_BIT:
        scale, offset = 255.0 / 65535.0, 0.0
    elif lo >= 0 and hi <= 1.0 and mode == "F":
        scale, offset = 255.0, 0.0
    elif lo >= 0 and hi <= 255:
        scale, offset = 1.0, 0.0
    elif lo >= 0 and hi <= 65535:
        scale, offset = 255.0 / 65535.0, 0.0
    else:
        scale, offset = 255.0 / max(hi - lo, 1e-12), lo
    return np.clip(np.rint((a - offset) * scale), 0, 255).astype(np.uint8)


def _over_white(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


# ---------------------------------------------------------------- geometry


def square_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The centred square ``(left, top, right, bottom)`` of a ``width`` x ``height`` image."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def square_resize(img: Image.Image, resolution: int) -> Image.Image:
    """Centre square crop, then a LANCZOS resize to ``resolution`` x ``resolution``."""
    square = img.crop(square_box(*img.size))  # crop first: no pixel outside it bleeds in
    return square.resize((resolution, resolution), Image.Resampling.LANCZOS)


def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


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
) -> IntakeReport:
    """Vet the photos in ``photos_dir/{Object}/``; write the build's seed photos into ``work``."""
    photos_dir, work = Path(photos_dir).resolve(), Path(work)
    if not photos_dir.is_dir():
        raise NotADirectoryError(f"no photo folder at {photos_dir}")
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
    return report


def _object_folders(photos_dir: Path, recipe: Recipe, report: IntakeReport) -> dict[str, Path]:
    """Map the build's objects to their sub-folders, reporting everything else."""
    by_lower = {name.lower(): name for name in recipe.taxonomy.objects}
    found: dict[str, Path] = {}
    for entry in sorted(photos_dir.iterdir(), key=lambda p: _natural_key(p.name)):
        if entry.name.startswith("."):
            continue
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
        "source_format": photo.format,
        "source_width": photo.width,
        "source_height": photo.height,
        "source_mode": photo.mode,
        "source_icc_profile": photo.icc_profile,
        "exif_orientation": photo.exif_orientation,
        "exif_orientation_applied": photo.exif_orientation != 1,
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
