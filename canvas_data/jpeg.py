"""Checks and conversions of image bytes on their way into shards or the workspace.

Two levels of checking, chosen by the caller:

- ``header`` (the default when packing): Pillow parses the file's markers up to the start of the
  pixel data (format, size, mode) and the file must end with the JPEG end-of-image marker. This
  catches empty, truncated and non-JPEG files and costs no decoding, so packing stays close to the
  speed of copying bytes.
- ``decode``: every pixel is decoded as well, which also catches damage that breaks decoding (a
  corrupt Huffman table, a broken data stream) at the cost of a full decode per image. Decoders
  fill a scan that ends early with grey without complaint, so no check sees every damage; the
  sha256 of each shard guards the bytes from then on.

``none`` skips checks altogether.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

CHECKS = ("header", "decode", "none")
_EOI = b"\xff\xd9"
_TAIL = 4096  # bytes at the end of a file searched for the end-of-image marker (padding allowed)


class ImageError(Exception):
    """Image bytes that cannot be used; the message is one short human line."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says about an image."""

    format: str
    width: int
    height: int
    mode: str


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
                info = ImageInfo(im.format or "unknown", im.width, im.height, im.mode)
                if level == "decode":
                    im.load()
    except Image.DecompressionBombError as err:
        raise ImageError(f"decompression bomb ({err})") from err
    except Exception as err:  # Pillow raises many types on hostile input: report, go on
        raise ImageError(_reason(err)) from err
    if jpeg_only and info.format != "JPEG":
        raise ImageError(f"not a JPEG ({info.format})")
    if info.format == "JPEG" and _EOI not in data[-_TAIL:]:
        raise ImageError("truncated JPEG (no end-of-image marker)")
    return info


def _reason(err: Exception) -> str:
    text = " ".join(str(err).split())
    if "cannot identify image file" in text:
        return "not an image (cannot identify image file)"
    if "truncated" in text.lower() or isinstance(err, EOFError):
        return "truncated image data"
    return f"unreadable image ({text or type(err).__name__})"


def to_jpeg(data: bytes, *, resolution: int | None = None, quality: int = 95) -> bytes:
    """Decode any image, optionally centre-crop and resize it to a square, encode it as JPEG."""
    from canvas_data.photos import encode_jpeg, square_resize, to_rgb

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = to_rgb(im)
    except Exception as err:  # Pillow raises many types on hostile input: report, go on
        raise ImageError(_reason(err)) from err
    if resolution is not None:
        rgb = square_resize(rgb, resolution)
    return encode_jpeg(rgb, quality)


def resized(data: bytes, info: ImageInfo | None, resolution: int | None, quality: int) -> bytes:
    """``data`` at ``resolution`` x ``resolution``: passed through when it already is."""
    if resolution is None:
        return data
    info = info or check_image(data, "header")
    if info.width == info.height == resolution:
        return data
    return to_jpeg(data, resolution=resolution, quality=quality)
