"""A shard's formats: a sample's WebDataset members, and the writer of each format.

A sample has the members ``jpg`` (the workspace's JPEG bytes, not re-encoded unless a variant asks
for another resolution), ``style.cls`` and ``object.cls`` (class indices in the taxonomy's order),
``txt`` (the canonical caption) and ``json`` (style, object, idx, split, seed photo key, caption,
provenance). The tar writer writes members sorted with a fixed mtime and hashes the tar as it
goes; the Parquet writer is ``canvas_data.pack.parquet.ParquetShardWriter``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from canvas_data import atomic
from canvas_data.images.decode import image_size
from canvas_data.images.jpeg import check_image, for_shard
from canvas_data.pack.shard_plan import Sample
from canvas_data.pack.variants import pack_resolution
from canvas_data.pack.wds_tar import TarWriter
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import caption
from canvas_data.workspace import sidecar_path

FIXED_MTIME = 1708214400  # 2024-02-18, the release date of the paper: reproducible tars
FORMATS = ("webdataset", "parquet")
WRITE_BUFFER = 4 << 20  # bytes buffered before each write to a shard file


def sample_record(
    sample: Sample, recipe: Recipe, *, check: str = "header"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The WebDataset sample (bytes per member) for one workspace image, and its metadata.

    The image is checked at ``check`` level and stored as ``jpeg.for_shard`` says: as it is, less
    bytes after its end marker, or re-encoded when EXIF-rotated, not sRGB or (a variant) at
    another resolution; raises ``ImageError`` (or ``OSError``) for an image that cannot be used.
    """
    item, tax = sample.item, recipe.taxonomy
    data = sample.path.read_bytes()
    data = for_shard(data, check_image(data, check), pack_resolution(recipe), recipe.jpeg_quality)
    side = sidecar_path(sample.path)
    provenance = json.loads(side.read_text()) if side.is_file() else None
    text = caption(item.style, item.obj)
    meta = {
        "key": item.key,
        "style": item.style,
        "object": item.obj,
        "idx": item.idx,
        "split": sample.split,
        "seed_key": item.seed_key,
        "caption": text,
        "provenance": provenance,
    }
    record = {
        "__key__": item.key,
        "jpg": data,
        "style.cls": str(tax.style_index(item.style)).encode(),
        "object.cls": str(tax.object_index(item.obj)).encode(),
        "txt": text.encode(),
        "json": json.dumps(meta, sort_keys=True, ensure_ascii=False).encode(),
    }
    return record, meta


class HashingFile:
    """A file opened for writing that hashes what goes through it (``sha256`` once closed)."""

    def __init__(self, path: Path, buffering: int = WRITE_BUFFER) -> None:
        self._file = atomic.open_file(path, buffering)
        self._hash = hashlib.sha256()
        self.sha256: str | None = None

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        self.sha256 = self._hash.hexdigest()

    def abort(self) -> None:
        """Close the file without finishing it (a failed write: it is being removed)."""
        with contextlib.suppress(OSError):  # its buffer may not fit on a full disk either
            self._file.close()


class TarShardWriter:
    """Writes packed samples to one WebDataset tar: members sorted, fixed mtime and owner.

    The tar is hashed as it is written, through a large buffer: a shard is neither written in
    small pieces nor read back to hash it. ``rows`` keeps each sample's ``json`` member (bytes,
    compact) and where its image lies, for the card's sample index (``canvas_data.pack.packed``)
    without reading the tar again.
    """

    folder = "data"
    suffix = ".tar"

    def __init__(self, path: Path, recipe: Recipe) -> None:
        self._file = HashingFile(path)
        self._writer = TarWriter(self._file, mtime=FIXED_MTIME)
        self.sha256: str | None = None
        # None once an image's size cannot be read (packed with ``check="none"``): the card
        # then reads this shard back and reports it, as it does any shard it cannot index.
        self.rows: list[tuple[bytes, dict[str, int]]] | None = []

    def write(self, record: dict[str, Any], meta: dict[str, Any]) -> None:
        offset, size = self._writer.write(record)["jpg"]
        if self.rows is None:
            return
        try:
            width, height = image_size(record["jpg"], name=record["__key__"])
        except ValueError:
            self.rows = None
            return
        self.rows.append(
            (record["json"], {"width": width, "height": height, "bytes": size, "offset": offset})
        )

    def close(self) -> None:
        self._writer.close()
        self._file.close()
        self.sha256 = self._file.sha256

    def abort(self) -> None:
        """Close the file unfinished (after ``close``, nothing to do): the tar is discarded."""
        self._file.abort()


def writer_class(fmt: str):
    """The shard writer of a format; every writer has ``write(record, meta)``, ``close()`` and
    ``abort()`` (close unfinished, after a failure; nothing to do once closed)."""
    if fmt == "parquet":
        from canvas_data.pack.parquet import ParquetShardWriter

        return ParquetShardWriter
    return TarShardWriter
