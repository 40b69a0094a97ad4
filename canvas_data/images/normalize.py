"""Normalising a decoded picture: 8-bit sRGB RGB, a centre square at one size, JPEG bytes.

What a seed photo and a re-encoded shard image both are, so that intake and packing store the
same pixels for the same picture:

- ``to_rgb(im)``: any Pillow mode to 8-bit RGB in sRGB; an ICC profile that is not sRGB is
  applied first (:mod:`canvas_data.images.colour`), 16-bit, integer and float greyscale is
  scaled by its nominal range, and transparency is composited over white.
- ``square_box(w, h)`` and ``square_resize(im, n)``: the centred square, cropped first, then
  resized with LANCZOS to ``n`` x ``n``.
- ``encode_jpeg(im, quality)``: JPEG bytes, without EXIF or ICC profile.

``PhotoError`` is a picture that cannot be used, with one short human line why.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from canvas_data.images.colour import to_srgb

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


class PhotoError(Exception):
    """A photo that cannot be used; ``reason`` is one short human line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- colour modes


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
