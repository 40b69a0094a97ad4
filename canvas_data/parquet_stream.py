"""Stream one binary column of a Parquet row group value by value, inside its data pages.

pyarrow (like every Parquet reader) reads and decompresses a data page whole. Files written with
pyarrow's defaults hold up to 1024 rows of a column in one page, so a row group of a hundred
multi-megabyte images is one page of hundreds of megabytes. This reader walks the column chunk's
pages itself and hands out one value at a time, keeping only the value being read, the page's
levels and, for Snappy, a window of recent output: enough to import such files on a laptop.

Supported: BYTE_ARRAY columns that are not repeated (nested in optional structs is fine), data
pages v1 and v2, PLAIN values, dictionary pages with RLE_DICTIONARY / PLAIN_DICTIONARY indices,
UNCOMPRESSED and SNAPPY pages. ``streamable`` says whether a column chunk qualifies; other files
are read with pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow.parquet as pq

CODECS = ("UNCOMPRESSED", "SNAPPY")
SNAPPY_WINDOW = 1 << 20  # Snappy copies reach at most 64 kB back in practice; keep 1 MB
_DATA_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 0, 2, 3
_PLAIN, _PLAIN_DICTIONARY, _RLE_DICTIONARY = 0, 2, 8


class ParquetStreamError(ValueError):
    """The column chunk uses a layout this reader does not handle, or is damaged."""


def _column_index(pf: pq.ParquetFile, path: str) -> int:
    for i in range(len(pf.schema)):
        if pf.schema.column(i).path == path:
            return i
    raise KeyError(f"no column {path!r}")


def streamable(pf: pq.ParquetFile, row_group: int, path: str, larger_than: int = -1) -> bool:
    """Whether ``iter_column_values`` can read column ``path`` of ``row_group`` (and its chunk
    holds more than ``larger_than`` bytes)."""
    i = _column_index(pf, path)
    column, chunk = pf.schema.column(i), pf.metadata.row_group(row_group).column(i)
    return (
        column.physical_type == "BYTE_ARRAY"
        and column.max_repetition_level == 0
        and chunk.compression in CODECS
        and chunk.total_compressed_size > larger_than
    )


def iter_column_values(
    source: str | Path, pf: pq.ParquetFile, row_group: int, path: str
) -> Iterator[bytes | None]:
    """One value per row of column ``path`` (dotted, e.g. ``image.bytes``) in ``row_group``.

    ``None`` where the value (or a struct around it) is null. Raises ``ParquetStreamError``
    naming the file when a page is of a kind this reader does not handle.
    """
    if not streamable(pf, row_group, path):
        raise ParquetStreamError(f"{source}: column {path} cannot be streamed")
    try:
        yield from _values(source, pf, row_group, path)
    except (ParquetStreamError, KeyError, IndexError, TypeError) as err:
        where = f"{source}: row group {row_group}, column {path}"
        raise ParquetStreamError(f"{where}: damaged or unsupported page ({err})") from None


def _values(source, pf: pq.ParquetFile, row_group: int, path: str) -> Iterator[bytes | None]:
    i = _column_index(pf, path)
    column, chunk = pf.schema.column(i), pf.metadata.row_group(row_group).column(i)
    max_def, snappy = column.max_definition_level, chunk.compression == "SNAPPY"
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    rows, dictionary = chunk.num_values, None
    with open(source, "rb") as f:
        try:
            f.seek(start)
            while rows > 0:
                header = _Thrift(f).struct()
                kind = header.get(1)
                body = _Limited(f, header[3])
                if kind == _DICTIONARY_PAGE:
                    dictionary = _LazyDictionary(
                        source, f.tell(), header[3], header[2], header[7][1], snappy
                    )
                elif kind in (_DATA_PAGE, _DATA_PAGE_V2):
                    page_rows = header[5 if kind == _DATA_PAGE else 8][1]
                    yield from _data_page(body, header, kind, max_def, snappy, dictionary)
                    rows -= page_rows
                body.skip_rest()
        finally:
            if dictionary is not None:
                dictionary.close()


class _LazyDictionary:
    """A dictionary page's values, read when asked for, in one pass when asked in order.

    pyarrow's writer puts every distinct value of a column chunk in its dictionary page when
    they fit in one write batch, so the dictionary of a row group of images is all its images.
    Values are not kept: an index behind the read position (a repeated value) re-reads the page.
    """

    def __init__(
        self, source: str | Path, offset: int, size: int, usize: int, n: int, snappy: bool
    ) -> None:
        self.source, self.offset, self.size, self.usize = source, offset, size, usize
        self.n, self.snappy = n, snappy
        self.f: BinaryIO | None = None
        self._rewind()

    def _rewind(self) -> None:
        self.close()
        self.f = open(self.source, "rb")  # noqa: SIM115 (closed by close())
        self.f.seek(self.offset)
        self.page = _decompressed(_Limited(self.f, self.size), self.usize, self.snappy)
        self.position = 0

    def __getitem__(self, index: int) -> bytes:
        if not 0 <= index < self.n:
            raise ParquetStreamError(f"dictionary index {index} of {self.n}")
        if index < self.position:
            self._rewind()
        while self.position < index:
            self.page.read(_u32(self.page.read(4)))
            self.position += 1
        self.position += 1
        return _plain_value(self.page)

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


def _data_page(body, header, kind, max_def, snappy, dictionary) -> Iterator[bytes | None]:
    if kind == _DATA_PAGE:
        info = header[5]
        n, encoding = info[1], info.get(2, _PLAIN)
        page = _decompressed(body, header[2], snappy)
        levels = _levels(page.read(_u32(page.read(4))), max_def, n) if max_def else [0] * n
    else:
        info = header[8]
        n, encoding = info[1], info.get(4, _PLAIN)
        def_len, rep_len = info.get(5, 0), info.get(6, 0)
        body.read(rep_len)
        levels = _levels(body.read(def_len), max_def, n) if max_def else [0] * n
        compressed = info.get(7, True) and snappy
        page = _decompressed(body, header[2] - def_len - rep_len, compressed)
    if encoding in (_PLAIN_DICTIONARY, _RLE_DICTIONARY):
        if dictionary is None:
            raise ParquetStreamError("dictionary-encoded page without a dictionary")
        present = sum(level == max_def for level in levels)
        data = page.read_all()
        indices = iter(_hybrid(data[1:], data[0], present)) if present else iter(())
        for level in levels:
            yield dictionary[next(indices)] if level == max_def else None
    elif encoding == _PLAIN:
        for level in levels:
            yield _plain_value(page) if level == max_def else None
    else:
        raise ParquetStreamError(f"page encoding {encoding} is not supported")


def _plain_value(page) -> bytes:
    return bytes(page.read(_u32(page.read(4))))


def _u32(data: bytes) -> int:
    return int.from_bytes(data, "little")


def _levels(data: bytes, max_def: int, n: int) -> list[int]:
    return _hybrid(data, max_def.bit_length(), n)


def _hybrid(data: bytes, bit_width: int, n: int) -> list[int]:
    """Decode ``n`` values of Parquet's RLE / bit-packed hybrid encoding."""
    out: list[int] = []
    pos, width_bytes, mask = 0, (bit_width + 7) // 8, (1 << bit_width) - 1
    while len(out) < n:
        header, pos = _varint(data, pos)
        if header & 1:  # bit-packed groups of 8
            count = (header >> 1) * 8
            size = (header >> 1) * bit_width
            bits = int.from_bytes(data[pos : pos + size], "little")
            out.extend((bits >> (k * bit_width)) & mask for k in range(count))
            pos += size
        else:  # a run of one value
            value = int.from_bytes(data[pos : pos + width_bytes], "little")
            out.extend([value] * (header >> 1))
            pos += width_bytes
        if pos > len(data) and len(out) < n:
            raise ParquetStreamError("levels or indices end early")
    return out[:n]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise ParquetStreamError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


class _Limited:
    """At most ``size`` bytes of a file, read in order."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.left = f, size

    def read(self, n: int) -> bytes:
        if n > self.left:
            raise ParquetStreamError(f"page ends early: {n} bytes asked, {self.left} left")
        data = self.f.read(n)
        if len(data) != n:
            raise ParquetStreamError("file ends inside a page")
        self.left -= n
        return data

    def read_all(self) -> bytes:
        return self.read(self.left)

    def read_byte(self) -> int:
        return self.read(1)[0]

    def skip_rest(self) -> None:
        if self.left:
            self.f.seek(self.left, 1)
            self.left = 0


def _decompressed(body: _Limited, size: int, snappy: bool):
    """A reader of the page's ``size`` uncompressed bytes."""
    return _Snappy(body, size) if snappy else body


class _Snappy:
    """Snappy raw-format decompression, produced as it is read (one window kept)."""

    def __init__(self, raw: _Limited, size: int) -> None:
        self.raw, self.left = raw, size
        declared = shift = 0
        while True:
            byte = raw.read_byte()
            declared |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if declared != size:
            raise ParquetStreamError(f"Snappy page says {declared} bytes, header {size}")
        self.history = bytearray()  # the last output, for back-references
        self.ready = bytearray()  # produced, not yet read
        self.produced = 0

    def read(self, n: int) -> bytes:
        while len(self.ready) < n:
            if self.produced >= self.left:
                raise ParquetStreamError("Snappy page ends early")
            self._element()
        data = bytes(self.ready[:n])
        del self.ready[:n]
        return data

    def read_all(self) -> bytes:
        while self.produced < self.left:
            self._element()
        data = bytes(self.ready)
        self.ready.clear()
        return data

    def _element(self) -> None:
        raw = self.raw
        tag = raw.read_byte()
        kind = tag & 3
        if kind == 0:  # literal
            length = tag >> 2
            if length >= 60:
                length = _u32(raw.read(length - 59))
            out = raw.read(length + 1)
        else:
            if kind == 1:
                length = ((tag >> 2) & 7) + 4
                offset = ((tag >> 5) << 8) | raw.read_byte()
            else:
                length = (tag >> 2) + 1
                offset = _u32(raw.read(2 if kind == 2 else 4))
            if not 0 < offset <= len(self.history):
                raise ParquetStreamError(f"Snappy copy {offset} bytes back, outside the window")
            start = len(self.history) - offset
            piece = bytes(self.history[start : start + length])
            out = (piece * (length // len(piece) + 1))[:length]
        self.history += out
        if len(self.history) > 2 * SNAPPY_WINDOW:
            del self.history[:-SNAPPY_WINDOW]
        self.ready += out
        self.produced += len(out)


class _Thrift:
    """Thrift's compact protocol, as Parquet page headers use it, read from a file."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def byte(self) -> int:
        data = self.f.read(1)
        if not data:
            raise ParquetStreamError("file ends inside a page header")
        return data[0]

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def struct(self) -> dict[int, Any]:
        """A struct's fields by id (nested structs as dicts, lists as lists)."""
        fields: dict[int, Any] = {}
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return fields
            delta, kind = head >> 4, head & 0x0F
            last = last + delta if delta else self.zigzag()
            fields[last] = self.value(kind)

    def value(self, kind: int) -> Any:
        if kind in (1, 2):  # booleans live in the field header
            return kind == 1
        return self.element(kind)

    def element(self, kind: int) -> Any:
        if kind in (1, 2):  # a boolean inside a list: one byte
            return self.byte() == 1
        if kind == 3:
            return int.from_bytes(bytes([self.byte()]), "little", signed=True)
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 7:
            return self.f.read(8)
        if kind == 8:
            return self.f.read(self.varint())
        if kind in (9, 10):
            head = self.byte()
            size = head >> 4 if head >> 4 != 15 else self.varint()
            return [self.element(head & 0x0F) for _ in range(size)]
        if kind == 11:
            size = self.varint()
            types = self.byte() if size else 0
            return [(self.element(types >> 4), self.element(types & 0x0F)) for _ in range(size)]
        if kind == 12:
            return self.struct()
        raise ParquetStreamError(f"unknown Thrift type {kind} in a page header")
