"""Reading one photo: decoded in full and checked, turned upright, converted to RGB, credited.

``read_photo`` (a file) and ``decode_photo`` (bytes held in memory, a download) open a candidate
photo and refuse it with a ``PhotoError`` naming the reason when it cannot be used: not a file,
empty, not an image, a decompression bomb, too small, data cut short (a JPEG without its end, a
file too short for its size), or pixel data that does not decode. A usable photo comes back as a
``Photo``: upright (EXIF orientation applied), 8-bit sRGB RGB, with its original size, mode,
format, orientation, ICC profile description, and the author and licence its metadata names.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from canvas_data.errors import one_line
from canvas_data.images.integrity import (
    IncompleteImage,
    check_jpeg_complete,
    check_plausible_size,
    strict_loading,
)
from canvas_data.images.normalize import PhotoError, to_rgb

MAX_PIXELS = 89_478_485  # Pillow's default decompression-bomb limit

_EXIF_ORIENTATION = 0x0112
_EXIF_ARTIST = 0x013B
_EXIF_COPYRIGHT = 0x8298


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

    def source_facts(self) -> dict[str, Any]:
        """What a seed photo's provenance sidecar records of the file as it came: format, size
        in pixels (before orientation), mode, ICC profile description, EXIF orientation."""
        return {
            "source_format": self.format,
            "source_width": self.width,
            "source_height": self.height,
            "source_mode": self.mode,
            "source_icc_profile": self.icc_profile,
            "exif_orientation": self.exif_orientation,
            "exif_orientation_applied": self.exif_orientation != 1,
        }


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
    """Refuse data that can only be part of the image it declares (see
    :mod:`canvas_data.images.integrity`)."""
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
    """The reason, with the kind of error when the image library raised an unexpected one."""
    return one_line(err, kind=not isinstance(err, (OSError, SyntaxError, ValueError)))


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
