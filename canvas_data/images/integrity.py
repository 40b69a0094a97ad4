"""Is an image file whole? Checks that catch data Pillow would decode only in part.

Pillow pads a JPEG whose entropy-coded data stops early (a file cut short, with or without an end
marker appended) with grey, without an error: libjpeg only warns ("Premature end of JPEG file",
"Corrupt JPEG data: premature end of data segment") and Pillow does not pass the warning on. Two
checks catch such files before they become flat-grey seed photos:

- :func:`check_plausible_size`: a JPEG holds at least one bit per 16 blocks of 8 x 8 luma pixels
  (baseline Huffman coding spends at least two bits per block), so a file declaring
  9000 x 9000 px in 633 bytes is refused before its pixels are allocated.
- :func:`check_jpeg_complete`: the entropy-coded data is decoded by libjpeg-turbo (``simplejpeg``)
  with ``strict=True``, which raises on exactly the warnings Pillow hides.

Other formats: Pillow raises on truncated data as long as ``ImageFile.LOAD_TRUNCATED_IMAGES`` is
off; :func:`strict_loading` keeps it off while an image loads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from PIL import ImageFile

from canvas_data.errors import one_line

try:
    import simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is a dependency; Pillow alone then
    simplejpeg = None

MIN_BITS_PER_16_BLOCKS = 1
_LOCK = threading.Lock()


class IncompleteImage(ValueError):
    """The file's data cannot be the whole image it declares; the message is the reason."""


def check_plausible_size(fmt: str | None, width: int, height: int, nbytes: int) -> None:
    """Raise :class:`IncompleteImage` if ``nbytes`` is far too few for a ``fmt`` image of that size.

    Applies to JPEG only (other formats can legitimately compress a flat image much further).
    """
    if fmt != "JPEG":
        return
    blocks = -(-width // 8) * -(-height // 8)
    if nbytes * 8 * 16 < blocks * MIN_BITS_PER_16_BLOCKS:
        raise IncompleteImage(
            f"declares {width}x{height} but holds {nbytes:,} bytes (truncated or forged)"
        )


def check_jpeg_complete(data: bytes) -> None:
    """Raise :class:`IncompleteImage` if libjpeg reports missing or corrupt entropy-coded data.

    Decodes at 1/8 scale (every coefficient is still entropy-decoded, so every warning is seen).
    """
    if simplejpeg is None:
        return
    try:
        _, _, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError as err:
        raise IncompleteImage(f"corrupt JPEG header ({one_line(err)})") from None
    target = {"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}.get(colorspace, "RGB")
    try:
        simplejpeg.decode_jpeg(data, colorspace=target, min_factor=8, strict=True)
    except ValueError as err:
        text = one_line(err)
        if "unsupported color conversion" in text.lower():
            return  # a colour space turbo cannot convert: Pillow's full decode stands
        kind = "truncated" if "premature end" in text.lower() else "corrupt"
        raise IncompleteImage(f"{kind} image data (libjpeg: {text})") from None


@contextlib.contextmanager
def strict_loading() -> Iterator[None]:
    """Keep ``ImageFile.LOAD_TRUNCATED_IMAGES`` off while an image loads (restored after)."""
    if not ImageFile.LOAD_TRUNCATED_IMAGES:
        yield
        return
    with _LOCK:
        saved, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved
