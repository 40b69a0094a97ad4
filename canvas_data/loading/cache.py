"""A disk cache of decoded images, so that only the first epoch pays for JPEG decoding.

At any reduced scale, libjpeg must still read every Huffman-coded coefficient of a JPEG (the
"entropy decode"): once the DCT scaling of ``canvas_data.images.decode`` has removed the rest, that
is most of the time a high-quality JPEG takes. A training run decodes
each image once per epoch; with ``cache_dir=...`` the loaders keep the decoded pixels (before any
random transform, so augmentations still differ per epoch) and read them back in later epochs.
What comes back is bit for bit what the decoder made.

Layout: ``{cache_dir}/{dataset}/{size}/{Style}/{Object}/{idx}.npy``, where ``dataset`` is a hash
of the packed folder's ``manifest.json`` (a rebuilt dataset gets a new folder) and ``size`` the
decode size asked for (``min256x256``, or ``full``). Each file is a standard NumPy ``.npy`` array
(``uint8``, height x width x 3; ``numpy.load`` reads it), written under a temporary name and
renamed, so DataLoader workers and ranks can share one cache. At 256 px a cached image takes
196 KB, at 512 px 786 KB: about half and twice a 1024 px JPEG at quality 95.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import tokenize
from collections.abc import Callable
from pathlib import Path

import numpy as np

from canvas_data.atomic import temp_name, write_bytes
from canvas_data.images.decode import Size, decode_image, size_pair

log = logging.getLogger(__name__)

SUFFIX = ".npy"  # one standard NumPy array file per image: uint8, height x width x 3


def size_tag(min_size: Size | None) -> str:
    """The folder name of one decode size: ``min256x256``, or ``full`` for full-size decodes."""
    if min_size is None:
        return "full"
    width, height = size_pair(min_size)
    return f"min{width}x{height}"


def dataset_id(root: Path) -> str:
    """A short hash of a packed folder's manifest: changes whenever the shards do."""
    return hashlib.sha256((Path(root) / "manifest.json").read_bytes()).hexdigest()[:16]


class DecodeCache:
    """Decoded RGB images of one dataset at one decode size, one file per sample key."""

    def __init__(self, folder: Path, min_size: Size | None):
        self.folder = Path(folder)
        self.min_size = min_size
        self.writable = True
        self._read_warned = False

    @classmethod
    def for_dataset(cls, cache_dir: Path, root: Path, min_size: Size | None) -> DecodeCache:
        """The cache of the packed folder ``root`` under ``cache_dir``."""
        return cls(Path(cache_dir) / dataset_id(root) / size_tag(min_size), min_size)

    def path(self, key: str) -> Path:
        parts = key.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"{key!r}: not a sample key")
        return self.folder.joinpath(*parts).with_suffix(SUFFIX)

    def get(self, key: str) -> np.ndarray | None:
        """The cached pixels of ``key`` (a writable array), or ``None`` if there are none."""
        path = self.path(key)
        try:
            pixels = _read_pixels(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as err:  # unreadable (permissions, I/O): decode instead, say so once
            if not self._read_warned:
                self._read_warned = True
                log.warning("%s: cannot read the decode cache (%s); decoding instead", path, err)
            return None
        if pixels is None:
            log.warning("%s: damaged decode-cache file; decoding the image again", path)
        return pixels

    def put(self, key: str, pixels: np.ndarray) -> None:
        """Store ``pixels``; on a write error (disk full, read-only) warn once and stop writing."""
        if not self.writable:
            return
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(pixels), allow_pickle=False)
        path = self.path(key)
        try:
            write_bytes(path, buffer.getbuffer())
        except OSError as err:
            self.writable = False
            with contextlib.suppress(OSError):  # a half-written temporary file, if any
                temp_name(path).unlink(missing_ok=True)
            log.warning("%s: cannot write the decode cache (%s); going on without it", path, err)

    def decode(self, key: str, fetch: Callable[[], bytes]) -> np.ndarray:
        """The pixels of ``key``: from the cache, or ``fetch()``-ed, decoded and stored."""
        pixels = self.get(key)
        if pixels is None:
            pixels = decode_image(fetch(), min_size=self.min_size, name=key)
            self.put(key, pixels)
        return pixels


def _read_pixels(path: Path) -> np.ndarray | None:
    """The RGB pixels of one cache file (a writable array); ``None`` if it is damaged: not an
    ``.npy`` file, cut short or too long, or not a ``uint8`` height x width x 3 array.

    The files of one cache share a few headers, so numpy's parse of each header (magic, version,
    a dict read with ``ast.literal_eval``) is kept per header; the pixels are then read straight
    into the array. That reads 3x as many 256 px images per second as ``numpy.load``, as fast as
    a raw header of our own. Any other valid ``.npy`` goes through ``numpy.load``. Never unpickles.
    """
    with open(path, "rb") as f:
        prefix = f.read(_V1_PREFIX)
        if prefix[:8] != _V1_MAGIC or len(prefix) != _V1_PREFIX:
            return _load_any(path)
        header = _header(prefix + f.read(int.from_bytes(prefix[8:], "little")))
        if header is None:
            return None
        pixels = np.empty(header, np.uint8)
        if f.readinto(memoryview(pixels).cast("B")) != pixels.nbytes or f.read(1):
            return None
    return pixels


# what numpy's header reader raises for a damaged header (its dict is read with ast)
_BAD_HEADER = (ValueError, SyntaxError, tokenize.TokenError)
_V1_MAGIC = np.lib.format.magic(1, 0)  # b"\x93NUMPY\x01\x00", what np.save writes for these
_V1_PREFIX = len(_V1_MAGIC) + 2  # then the header's length, 2 bytes little-endian


@functools.lru_cache(maxsize=256)
def _header(head: bytes) -> tuple[int, int, int] | None:
    """The shape of an RGB image array from a version 1.0 ``.npy`` header, parsed by numpy;
    ``None`` for a damaged header or any other array."""
    buffer = io.BytesIO(head)
    try:
        np.lib.format.read_magic(buffer)
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(buffer)
    except _BAD_HEADER:
        return None
    if buffer.read(1) or fortran_order or dtype != np.uint8 or len(shape) != 3 or shape[2] != 3:
        return None
    return shape


def _load_any(path: Path) -> np.ndarray | None:
    """Any ``.npy`` file read by ``numpy.load`` (no pickles); ``None`` unless an RGB image."""
    try:
        pixels = np.load(path, allow_pickle=False)
    except (*_BAD_HEADER, EOFError):  # a bad header, an object array, fewer bytes than declared
        return None
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        return None
    return pixels
