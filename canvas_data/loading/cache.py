"""A disk cache of decoded images, so that only the first epoch pays for JPEG decoding.

At any reduced scale, libjpeg must still read every Huffman-coded coefficient of a JPEG (the
"entropy decode"): once the DCT scaling of ``canvas_data.images.decode`` has removed the rest, that
is most of the time a high-quality JPEG takes. A training run decodes
each image once per epoch; with ``cache_dir=...`` the loaders keep the decoded pixels (before any
random transform, so augmentations still differ per epoch) and read them back in later epochs.
What comes back is bit for bit what the decoder made.

Layout: ``{cache_dir}/{dataset}/{size}/{Style}/{Object}/{idx}.rgb``, where ``dataset`` is a hash
of the packed folder's ``manifest.json`` (a rebuilt dataset gets a new folder) and ``size`` the
decode size asked for (``min256x256``, or ``full``). Each file is a 16-byte header (magic,
height, width) and the pixels, written under a temporary name and renamed, so DataLoader workers
and ranks can share one cache. At 256 px a cached image takes 196 KB, at 512 px 786 KB: about
half and twice a 1024 px JPEG at quality 95.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from canvas_data.atomic import temp_name, write_bytes
from canvas_data.images.decode import Size, decode_image, size_pair

log = logging.getLogger(__name__)

MAGIC = b"CDRGB\x01\x00\x00"
HEADER = struct.Struct("<8sII")  # magic, height, width; then height * width * 3 bytes of RGB


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
        return self.folder.joinpath(*parts).with_suffix(".rgb")

    def get(self, key: str) -> np.ndarray | None:
        """The cached pixels of ``key`` (a writable array), or ``None`` if there are none."""
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                pixels = _read_pixels(f)
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
        height, width = pixels.shape[:2]
        data = HEADER.pack(MAGIC, height, width) + np.ascontiguousarray(pixels).tobytes()
        path = self.path(key)
        try:
            write_bytes(path, data)
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


def _read_pixels(f: BinaryIO) -> np.ndarray | None:
    """The pixels of an open cache file, read straight into the array; ``None`` if damaged."""
    head = f.read(HEADER.size)
    if len(head) != HEADER.size:
        return None
    magic, height, width = HEADER.unpack(head)
    if magic != MAGIC or os.fstat(f.fileno()).st_size != HEADER.size + height * width * 3:
        return None
    pixels = np.empty((height, width, 3), np.uint8)
    if f.readinto(memoryview(pixels).cast("B")) != pixels.nbytes:
        return None
    return pixels
