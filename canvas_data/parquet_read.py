"""Parquet files read for streaming: buffered, page by page, a few rows at a time.

The one way every stage reads a Parquet file (the release's Hub shards at intake, a URL
manifest in Parquet, the packed Parquet shards when verified or exported): pyarrow without
pre-buffering, on one thread, handing ``READ_BATCH`` rows at a time to Python.

Parquet files are untrusted: a few kilobytes of compressed zeros can declare a value of
gigabytes. Before a row group is read, every column chunk's declared uncompressed size is
checked (``check_row_group``) against what its rows may honestly hold (``canvas_data.limits``),
and before a batch becomes Python objects each binary or string value's length is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from canvas_data.limits import (
    MAX_IMAGE_BYTES,
    MAX_PARQUET_EXPANSION,
    MAX_TEXT_BYTES,
    PARQUET_SMALL_CHUNK,
    too_large,
)

READ_BATCH = 16  # rows per batch handed to Python: a few images at a time
READ_BUFFER = 8 << 20  # bytes read from the file at a time
IMAGE_COLUMNS = ("image.bytes", "image", "bytes")  # column paths that hold image bytes


class ValueTooLarge(ValueError):
    """A Parquet row group or value larger than its limit; the message says which."""


def open_parquet(path: Path) -> pq.ParquetFile:
    """A Parquet file opened for streaming: buffered reads, page by page.

    pyarrow's default (``pre_buffer=True``) reads a whole row group's columns before the first
    row; here only the data page being decoded (read and decompressed whole, as any reader must)
    and a read buffer are held. So memory is bounded by the file's largest page: about 1 MB in
    files written here, a whole row group's column in files written with pyarrow's defaults,
    and never more than a file of its size may honestly hold (``check_row_group``).
    """
    return pq.ParquetFile(str(path), buffer_size=READ_BUFFER, pre_buffer=False)


def value_limit(column_path: str) -> int:
    """The most bytes one value of a column may hold: an image, or any other value."""
    return MAX_IMAGE_BYTES if column_path in IMAGE_COLUMNS else MAX_TEXT_BYTES


def check_row_group(pf: pq.ParquetFile, rg: int, columns: list[str] | None = None) -> None:
    """Raise ``ValueTooLarge`` naming the row group and column when a column chunk of row
    group ``rg`` declares more uncompressed bytes than its rows may hold (rows x the value limit
    of the column) or than its compressed bytes can honestly expand to (``MAX_PARQUET_EXPANSION``
    times, or ``PARQUET_SMALL_CHUNK``); nothing of the row group is read.

    These are the sizes the file's footer declares; pyarrow decodes each page with the sizes
    of its own header, so ``check_batch`` checks the values again before Python sees them."""
    meta = pf.metadata.row_group(rg)
    rows = max(meta.num_rows, 1)
    for i in range(meta.num_columns):
        chunk = meta.column(i)
        name = chunk.path_in_schema
        if columns is not None and name.split(".")[0] not in columns:
            continue
        packed = chunk.total_compressed_size
        expands = max(MAX_PARQUET_EXPANSION * packed, PARQUET_SMALL_CHUNK)
        limit = min(rows * value_limit(name), expands)
        reason = too_large(max(chunk.total_uncompressed_size, packed), limit)
        if reason:
            raise ValueTooLarge(f"row group {rg}, column {name!r} ({meta.num_rows} rows) {reason}")


def check_batch(batch: pa.RecordBatch) -> None:
    """Raise ``ValueTooLarge`` when a binary or string value of ``batch`` is over its limit,
    before the batch becomes Python objects."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        for path, values in _leaves(name, column):
            if not (
                pa.types.is_binary(values.type)
                or pa.types.is_large_binary(values.type)
                or pa.types.is_string(values.type)
                or pa.types.is_large_string(values.type)
            ):
                continue
            if len(values) == 0:
                continue
            longest = pc.max(pc.binary_length(values)).as_py() or 0
            reason = too_large(longest, value_limit(path))
            if reason:
                raise ValueTooLarge(f"a value of column {path!r} {reason}")


def _leaves(name: str, column: pa.Array) -> Iterator[tuple[str, pa.Array]]:
    if pa.types.is_struct(column.type):
        for i in range(column.type.num_fields):
            field = column.type.field(i)
            yield from _leaves(f"{name}.{field.name}", column.field(i))
    else:
        yield name, column


def iter_batches(
    pf: pq.ParquetFile, columns: list[str] | None = None, row_groups: list[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``READ_BATCH`` rows of a file from ``open_parquet``, on one thread.

    Each row group is checked (``check_row_group``) before it is read and each batch
    (``check_batch``) before it is handed out: ``ValueTooLarge`` says which is too large.
    """
    for rg in range(pf.num_row_groups) if row_groups is None else row_groups:
        check_row_group(pf, rg, columns)
        for batch in pf.iter_batches(
            batch_size=READ_BATCH, columns=columns, row_groups=[rg], use_threads=False
        ):
            check_batch(batch)
            yield batch


def iter_rows(path: Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a Parquet file as dicts, a small batch at a time (sizes checked as above);
    ``ValueTooLarge`` names ``path``."""
    pf = open_parquet(path)
    try:
        for batch in iter_batches(pf, columns):
            yield from batch.to_pylist()
    except ValueTooLarge as err:
        raise ValueTooLarge(f"{path}: {err}") from None
    finally:
        pf.close()
