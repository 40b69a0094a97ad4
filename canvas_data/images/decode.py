"""Image decoding for the loaders: JPEG bytes to RGB arrays, at reduced scale when that suffices.

libjpeg can decode a JPEG at 1/2, 1/4 or 1/8 of its size directly from the DCT coefficients, which
skips most of the work of a full decode. When a loader needs, say, 256 px from a 1024 px image,
``decode_image(data, min_size=256)`` picks the smallest such scale that is still at least 256 px
and decodes once, at that scale; the transforms then resize the rest of the way.

Two backends do this: ``simplejpeg`` (libjpeg-turbo, decoding straight from the bytes into a numpy
array; the default for JPEGs in RGB, YCbCr or grey) and Pillow (``Image.draft``; for CMYK JPEGs
and every other format, which decode at full size). Both are exact libjpeg-turbo decodes: they
agree to within rounding.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

try:
    import simplejpeg
except ImportError:  # an optional speed-up: Pillow decodes everything too
    simplejpeg = None

Size = int | tuple[int, int]  # one side for a square, or (width, height)

# Pillow's ways to fail on bad bytes (UnidentifiedImageError is an OSError)
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
JPEG_MAGIC = b"\xff\xd8"
TURBO_COLORSPACES = {"YCbCr", "RGB", "Gray"}  # what simplejpeg converts to RGB correctly
BACKENDS = ("auto", "pillow", "simplejpeg")
MAX_IMAGE_FILE_BYTES = 256_000_000  # far above any image of the benchmark (a 4096 px PNG: ~50 MB)


def read_image_file(path, limit: int = MAX_IMAGE_FILE_BYTES) -> bytes:
    """The bytes of an image file made by others, at most ``limit`` of them: a larger file (or a
    link to a device such as ``/dev/zero``) raises ``ValueError`` naming ``path`` instead of
    filling memory; ``OSError`` when it cannot be read."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path}: larger than {limit:,} bytes, not an image file to decode")
    return data


def size_pair(size: Size) -> tuple[int, int]:
    """``(width, height)`` of a size given as one side (a square) or as a pair."""
    width, height = (size, size) if isinstance(size, int) else size
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {size!r}")
    return int(width), int(height)


def dct_scale(stored: tuple[int, int], wanted: tuple[int, int] | None) -> int:
    """The largest of 8, 4, 2, 1 that shrinks ``stored`` to at least ``wanted`` in both sides."""
    if wanted is None:
        return 1
    for scale in (8, 4, 2):
        if all(-(-s // scale) >= w for s, w in zip(stored, wanted, strict=True)):
            return scale
    return 1


def decode_image(
    data: bytes,
    *,
    min_size: Size | None = None,
    size: Size | None = None,
    name: str = "image",
    backend: str = "auto",
) -> np.ndarray:
    """Decode image bytes to a writable RGB ``uint8`` array of shape ``(height, width, 3)``.

    ``min_size``: the decoded image may be any size at least this large in both sides; a JPEG is
    then decoded at the smallest of its 1/1, 1/2, 1/4, 1/8 scales that is large enough.
    ``size``: resize to exactly this size afterwards (Pillow, bilinear with antialiasing); it also
    serves as ``min_size`` when that is not given. The image is decoded once. ``backend``:
    ``auto`` (simplejpeg where it applies, else Pillow), ``pillow`` or ``simplejpeg``.
    Undecodable bytes raise ``ValueError`` naming ``name``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown decode backend {backend!r}; use one of {', '.join(BACKENDS)}")
    asked = min_size if min_size is not None else size
    want = size_pair(asked) if asked is not None else None
    try:
        arr = None
        if backend != "pillow" and data[:2] == JPEG_MAGIC:
            arr = _decode_turbo(data, want, required=backend == "simplejpeg")
        if arr is None:
            arr = _decode_pillow(data, want)
        if size is not None and (arr.shape[1], arr.shape[0]) != size_pair(size):
            resized = Image.fromarray(arr).resize(size_pair(size), Image.Resampling.BILINEAR)
            arr = np.array(resized)
        return arr
    except DECODE_ERRORS as err:
        raise ValueError(f"{name}: cannot decode image: {err}") from err


def _decode_turbo(data: bytes, want: tuple[int, int] | None, required: bool) -> np.ndarray | None:
    """libjpeg-turbo through simplejpeg; ``None`` where it does not apply (Pillow takes over)."""
    if simplejpeg is None:
        if required:
            raise ImportError("the simplejpeg backend needs `pip install simplejpeg`")
        return None
    height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    if colorspace not in TURBO_COLORSPACES:
        if required:
            raise ValueError(f"simplejpeg cannot convert {colorspace} JPEGs to RGB")
        return None
    scale = dct_scale((width, height), want)
    return simplejpeg.decode_jpeg(
        data, "RGB", min_width=-(-width // scale), min_height=-(-height // scale)
    )


def _decode_pillow(data: bytes, want: tuple[int, int] | None) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        if want is not None and img.format == "JPEG":
            img.draft("RGB", want)
        img.load()  # the one decode (at the drafted scale)
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        return np.array(rgb)


def image_size(data: bytes, *, name: str = "image") -> tuple[int, int]:
    """``(width, height)`` of encoded image bytes, from the header only (nothing is decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except DECODE_ERRORS as err:
        raise ValueError(f"{name}: cannot read image header: {err}") from err
