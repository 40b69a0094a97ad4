"""WebDataset tars with the standard library alone: the writer (``tar_samples`` reads them).

``webdataset`` imports PyTorch when it is imported, which costs seconds; packing and verifying
need neither. The writer writes what ``webdataset.TarWriter(f, encoder=False, mtime=...,
user="", group="")`` writes, byte for byte: each sample's members sorted by name, mode 0444, a
fixed mtime, headers made by ``tarfile`` (PAX format, as its ``w|`` stream writes them), the end
padded to a 10 KiB record. Each member goes out as three writes (header, data, padding) rather
than through ``tarfile``'s copy loop in 10 KiB pieces.
"""

from __future__ import annotations

import tarfile
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
