"""Sizes a file made by others may honestly hold; anything larger is refused before it is read.

Every reader of outside files (tar shards, Parquet files, captions) checks these limits against
what a file *declares* (a tar header's size, a Parquet column chunk's uncompressed size, a
caption's length) before reading the bytes, so that memory and time stay bounded by these
numbers, not by what a hostile file claims. A painting of the release is a 512 x 512 JPEG of
about 50-100 KB; the limits leave hundreds of times that.
"""

from __future__ import annotations

MiB = 1 << 20

# An image (a tar ``jpg`` member, a Parquet ``image.bytes`` value): 64 MB.
MAX_IMAGE_BYTES = 64 * MiB
# Any other value (a tar ``json``/``txt``/``cls`` member, a caption, a path or key in Parquet).
MAX_TEXT_BYTES = 1 * MiB
# A caption to parse ("A Cats image in Van Gogh style."): 2,000 characters.
MAX_CAPTION_CHARS = 2000
# A Parquet column chunk may declare at most this many times its compressed bytes once
# decompressed (or PARQUET_SMALL_CHUNK, whichever is more): image bytes are compressed already
# and shrink little, captions and keys a few times; only crafted data (zeros) shrinks by
# thousands. So a hostile file of N bytes makes a reader hold at most about 64 x N bytes.
MAX_PARQUET_EXPANSION = 64
PARQUET_SMALL_CHUNK = 8 * MiB


def too_large(declared: int, limit: int) -> str | None:
    """``None`` when ``declared`` bytes fit ``limit``, else the one-line reason."""
    if declared <= limit:
        return None
    return f"declares {declared:,} bytes, over the limit of {limit:,} bytes"
