"""Checks and conversions of image bytes on their way into shards or the workspace.

Two levels of checking, chosen by the caller:

- ``header`` (the default when packing): Pillow parses the file's markers up to the start of the
  pixel data (format, size, mode, EXIF orientation), and a JPEG's segments and entropy-coded data
  are walked to its end-of-image marker (``jpeg_end``). This catches empty, truncated and non-JPEG
  files and costs no decoding, so packing stays close to the speed of copying bytes. Bytes after
  the end-of-image marker (a phone's "motion photo" video, the further images of an MPO file) are
  not damage: decoders stop at the marker.
- ``decode``: every pixel is decoded as well, which also catches damage that breaks decoding (a
  corrupt Huffman table, a broken data stream) at the cost of a full decode per image. Decoders
  fill a scan that ends early with grey without complaint, so no check sees every damage; the
  sha256 of each shard guards the bytes from then on.

``none`` skips checks altogether.

What a shard stores (``for_shard``) is one JPEG stream that every reader decodes to the same
upright sRGB pixels: the bytes as they are when they already are that, else re-encoded. Our
loaders (``simplejpeg``) ignore EXIF orientation and ICC profiles while ``datasets`` applies the
orientation and keeps a JPEG's mode, so an image with an orientation tag, a profile that is not
sRGB, or CMYK or greyscale pixels is decoded, turned upright, converted to RGB in sRGB and
re-encoded (no tag left); bytes after the end-of-image marker, and
the MPF index that points into them, are cut off (they would only make shards larger).
"""

from __future__ import annotations

import io
import re
import warnings
from collections import deque
from dataclasses import dataclass

from PIL import Image, ImageOps

from canvas_data.errors import one_line
from canvas_data.images.colour import needs_conversion
from canvas_data.images.normalize import encode_jpeg, square_resize, to_rgb

CHECKS = ("header", "decode", "none")
STORE_RULES = (
    "upright-srgb-rgb-2"  # changes when for_shard stores other bytes: packed shards redone
)
JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: a JPEG followed by more JPEGs, indexed by MPF
_EXIF_ORIENTATION = 0x0112
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # markers without a length field
_SOS, _EOI = 0xDA, 0xD9
# The next marker after entropy-coded data: 0xFF not followed by 0x00 (a stuffed byte), a restart
# marker (inside the scan) or another 0xFF (fill).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# A marker between segments: fill bytes (0xFF) and any stray bytes before it are skipped.
_BOUNDARY = re.compile(rb"\xff+[^\x00\xff]")


class ImageError(Exception):
    """Image bytes that cannot be used; the message is one short human line."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says about an image."""

    format: str  # Pillow's name; an MPO file is reported as the JPEG it starts with
    width: int
    height: int
    mode: str
    orientation: int = 1  # EXIF orientation, 1 (upright) when absent or unreadable
    colour_managed: bool = False  # carries an ICC profile (fitting its mode) that is not sRGB


def check_image(data: bytes, level: str = "header", *, jpeg_only: bool = True) -> ImageInfo | None:
    """Check image bytes at ``level`` (``header``, ``decode`` or ``none``); ImageError if bad.

    Returns what the header says (None when ``level`` is ``none``). With ``jpeg_only``, anything
    but a complete JPEG is refused.
    """
    if level not in CHECKS:
        raise ValueError(f"unknown image check {level!r}; choose from {', '.join(CHECKS)}")
    if level == "none":
        return None
    if not data:
        raise ImageError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                info = _info(im)
                if level == "decode":
                    im.load()
    except Image.DecompressionBombError as err:
        raise ImageError(f"decompression bomb ({err})") from err
    except Exception as err:  # Pillow raises many types on hostile input: report, go on
        raise ImageError(_reason(err)) from err
    if jpeg_only and info.format != "JPEG":
        raise ImageError(f"not a JPEG ({info.format})")
    if info.format == "JPEG" and jpeg_end(data) is None:
        raise ImageError("truncated JPEG (no end-of-image marker)")
    return info


def _info(im: Image.Image) -> ImageInfo:
    fmt = "JPEG" if im.format in JPEG_FORMATS else (im.format or "unknown")
    try:
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block: Pillow ignores it when decoding too
        orientation = 1
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return ImageInfo(fmt, im.width, im.height, im.mode, orientation, needs_conversion(im))


def _segments(data: bytes):
    """``(marker, start, end)`` of each marker segment of a JPEG, entropy-coded data included in
    the scan before it; the last is the end-of-image marker. Stops early where the data ends.

    Read as libjpeg reads it: bytes before a marker that are not one (fill bytes, stray bytes
    after a segment) are skipped and belong to the range of the marker that follows.
    """
    if data[:2] != b"\xff\xd8":
        return
    pos, n = 2, len(data)
    while True:
        found = _BOUNDARY.search(data, pos)
        if found is None:
            return
        start, pos = pos, found.end()
        marker = data[pos - 1]
        if marker == _EOI:
            yield marker, start, pos
            return
        if marker not in _STANDALONE:
            length = int.from_bytes(data[pos : pos + 2], "big")
            if pos + 2 > n or length < 2 or pos + length > n:
                return
            pos += length
            if marker == _SOS:
                found = _NEXT_MARKER.search(data, pos)
                if found is None:
                    return
                pos = found.start()
        yield marker, start, pos


def jpeg_end(data: bytes) -> int | None:
    """The length of the JPEG stream at the start of ``data``: the offset just past its
    end-of-image marker, reached by walking marker segments and entropy-coded data (as a decoder
    does), so bytes after it do not count. None when the stream ends before that marker."""
    last = deque(_segments(data), maxlen=1)
    return last[0][2] if last and last[0][0] == _EOI else None


def _without_trailer(data: bytes) -> bytes:
    """The JPEG stream alone: bytes after its end-of-image marker and an MPF index dropped."""
    end = jpeg_end(data)
    if end is None or end == len(data):
        return data
    parts = [data[:2]]
    for marker, start, stop in _segments(data[:end]):
        segment = data[start:stop]
        at = segment.find(b"\xff\xe2") if marker == 0xE2 else -1
        if at < 0 or segment[at + 4 : at + 8] != b"MPF\x00":
            parts.append(segment)
    return b"".join(parts)


def _reason(err: Exception) -> str:
    text = one_line(err)
    if "cannot identify image file" in text:
        return "not an image (cannot identify image file)"
    if "truncated" in text.lower() or isinstance(err, EOFError):
        return "truncated image data"
    return f"unreadable image ({text})"


def to_jpeg(data: bytes, *, resolution: int | None = None, quality: int = 95) -> bytes:
    """Decode any image, turn it upright (EXIF), convert it to sRGB, optionally centre-crop and
    resize it to a square, and encode it as JPEG (without EXIF or ICC profile)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = to_rgb(ImageOps.exif_transpose(im))
    except Exception as err:  # Pillow raises many types on hostile input: report, go on
        raise ImageError(_reason(err)) from err
    if resolution is not None:
        rgb = square_resize(rgb, resolution)
    return encode_jpeg(rgb, quality)


def for_shard(data: bytes, info: ImageInfo | None, resolution: int | None, quality: int) -> bytes:
    """What a shard stores for a JPEG: one stream every reader decodes to the same pixels.

    The bytes are kept when the image is upright (no EXIF rotation), 3-channel RGB (not CMYK or
    greyscale, which ``load_dataset`` would hand out as 4 or 1 channels), has no profile other
    than sRGB and has the wanted ``resolution`` (None: any); trailing bytes after its end-of-image
    marker are cut off. Otherwise it is re-encoded by ``to_jpeg`` at ``quality``. ``info`` is
    ``check_image``'s answer; when None (checks off) the header is read here, and bytes Pillow
    cannot read are passed through as they are.
    """
    if info is None:
        try:
            with Image.open(io.BytesIO(data)) as im:
                info = _info(im)
        except Exception:  # checks are off: the bytes go in as they are
            return data
    square = resolution is None or info.width == info.height == resolution
    if info.orientation != 1 or info.colour_managed or not square or info.mode != "RGB":
        return to_jpeg(data, resolution=resolution, quality=quality)
    return _without_trailer(data) if info.format == "JPEG" else data
