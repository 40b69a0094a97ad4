"""WebDataset tars with the standard library alone: a writer and a sample reader.

``webdataset`` imports PyTorch when it is imported, which costs seconds; packing and verifying
need neither. The writer writes what ``webdataset.TarWriter(f, encoder=False, mtime=...,
user="", group="")`` writes, byte for byte: each sample's members sorted by name, mode 0444, a
fixed mtime, headers made by ``tarfile`` (PAX format, as its ``w|`` stream writes them), the end
padded to a 10 KiB record. Each member goes out as three writes (header, data, padding) rather
than through ``tarfile``'s copy loop in 10 KiB pieces. The reader groups a tar's
members into samples the way ``webdataset`` does: a member ``dir/key.ext.more`` belongs to the
sample ``dir/key`` under the name ``ext.more`` (lower-cased), and consecutive members with one
key make a sample.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import Any, BinaryIO

MODE = 0o444


class TarWriter:
    """Writes samples (``{"__key__": key, ext: bytes, ...}``) to an open binary file.

    ``write`` returns each member's data offset in the file, so that an index of where every
    image lies needs no second pass over the tar.
    """

    def __init__(self, fileobj: BinaryIO, *, mtime: float) -> None:
        self._file = fileobj
        self._mtime = mtime
        self._offset = 0

    def write(self, sample: dict[str, Any]) -> dict[str, tuple[int, int]]:
        """Add one sample's members, sorted by name; returns ``{ext: (data offset, size)}``.

        Raises ``ValueError`` when the key is missing or a member is not bytes.
        """
        key = sample.get("__key__")
        if not isinstance(key, str):
            raise ValueError("a sample needs a '__key__' string")
        members = {ext: v for ext, v in sorted(sample.items()) if not ext.startswith("_")}
        for ext, value in members.items():  # all checked before anything is written
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise ValueError(f"{key}.{ext}: not bytes ({type(value).__name__})")
        where = {}
        for ext, value in members.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(value), self._mtime, MODE
            info.uname = info.gname = ""
            header = info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
            pad = -info.size % tarfile.BLOCKSIZE
            self._file.write(header)
            self._file.write(value)
            self._file.write(bytes(pad))
            where[ext] = (self._offset + len(header), info.size)
            self._offset += len(header) + info.size + pad
        return where

    def close(self) -> None:
        """Write the end-of-archive blocks and pad to a whole record (the file stays open)."""
        end = self._offset + 2 * tarfile.BLOCKSIZE
        self._file.write(bytes(2 * tarfile.BLOCKSIZE + -end % tarfile.RECORDSIZE))


def samples(path) -> Iterator[dict[str, Any]]:
    """The samples of a tar, in file order: ``{"__key__": key, ext: bytes, ...}``.

    Raises ``tarfile.TarError`` or ``OSError`` for a broken tar and ``ValueError`` when a sample
    holds one member name twice.
    """
    current: dict[str, Any] | None = None
    with tarfile.open(path, "r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            folder, _, name = member.name.rpartition("/")
            stem, dot, ext = name.partition(".")
            ext = ext.lower()  # as webdataset's grouping does
            if not dot or not stem:
                continue  # webdataset skips names without a key or an extension too
            key = f"{folder}/{stem}" if folder else stem
            data = tar.extractfile(member).read()
            if current is not None and current["__key__"] == key:
                if ext in current:
                    raise ValueError(f"{path}: sample {key} has two {ext!r} members")
                current[ext] = data
                continue
            if current is not None:
                yield current
            current = {"__key__": key, ext: data}
    if current is not None:
        yield current
