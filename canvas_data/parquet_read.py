"""Parquet files read for streaming: buffered, page by page, a few rows at a time.

The one way every stage reads a Parquet file (the release's Hub shards at intake, a URL
manifest in Parquet, the packed Parquet shards when verified or exported): pyarrow without
pre-buffering, on one thread, handing ``READ_BATCH`` rows at a time to Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

READ_BATCH = 16  # rows per batch handed to Python: a few images at a time
READ_BUFFER = 8 << 20  # bytes read from the file at a time


def open_parquet(path: Path) -> pq.ParquetFile:
    """A Parquet file opened for streaming: buffered reads, page by page.

    pyarrow's default (``pre_buffer=True``) reads a whole row group's columns before the first
    row; here only the data page being decoded (read and decompressed whole, as any reader must)
    and a read buffer are held. So memory is bounded by the file's largest page: about 1 MB in
    files written here, a whole row group's column in files written with pyarrow's defaults.
    """
    return pq.ParquetFile(str(path), buffer_size=READ_BUFFER, pre_buffer=False)


def iter_batches(
    pf: pq.ParquetFile, columns: list[str] | None = None, row_groups: list[int] | None = None
):
    """Record batches of ``READ_BATCH`` rows of a file from ``open_parquet``, on one thread."""
    return pf.iter_batches(
        batch_size=READ_BATCH, columns=columns, row_groups=row_groups, use_threads=False
    )


def iter_rows(path: Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a Parquet file as dicts, a small batch at a time."""
    pf = open_parquet(path)
    try:
        for batch in iter_batches(pf, columns):
            yield from batch.to_pylist()
    finally:
        pf.close()
