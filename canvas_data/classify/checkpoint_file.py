"""What a file given as a PyTorch checkpoint is, told before ``torch.load`` reads it.

``torch.save`` writes a zip archive holding ``{name}/data.pkl`` (since PyTorch 1.6), or, in the
legacy format, a run of pickles whose first is the number ``torch.serialization.MAGIC_NUMBER``.
Anything else (an empty file, text, another pickle or zip, a safetensors file, a FIFO or device
that ``torch.load`` would block on or read forever) is refused here with a one-line reason that
says what the file is not, without executing any of it (pickle opcodes are only listed, with
``pickletools``).
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import stat
import struct
import zipfile
from pathlib import Path

from canvas_data.errors import InputError

ZIP = "zip"
LEGACY = "legacy"
_HEAD = 4096  # torch's magic-number pickle is 20 bytes
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, an empty archive's end
_DATA_PKL = re.compile(r"^[^/]+/data\.pkl$")
_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
NOT_CHECKPOINT = "not a PyTorch checkpoint"


def checkpoint_format(path: Path) -> str:
    """``"zip"`` or ``"legacy"``: the ``torch.save`` format of the file at ``path``.

    Raises ``FileNotFoundError`` when nothing is there, and ``InputError("path: reason")`` when
    it is not a regular file (``not a regular file (a FIFO)``) or not one ``torch.save`` wrote
    (``not a PyTorch checkpoint: empty file``, ``... (neither a zip archive nor a pickle)``).
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # follows links; opens nothing, so a FIFO cannot block
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such checkpoint file") from None
    for test, kind in _NOT_REGULAR:
        if test(mode):
            raise InputError(f"{path}: not a regular file ({kind})")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file")
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    if not head:
        raise InputError(f"{path}: {NOT_CHECKPOINT}: empty file")
    if head.startswith(_ZIP_MAGIC):
        _check_zip(path)
        return ZIP
    values = _first_pickle(head)
    if values == [_magic_number()]:
        return LEGACY
    raise InputError(f"{path}: {NOT_CHECKPOINT} ({_what_else(head, values is not None)})")


def _check_zip(path: Path) -> None:
    """``InputError`` unless ``path`` is a whole zip archive holding ``{name}/data.pkl``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise InputError(
            f"{path}: {NOT_CHECKPOINT} (a damaged or cut-short zip archive: {err})"
        ) from None
    if not any(_DATA_PKL.fullmatch(name) for name in names):
        raise InputError(
            f"{path}: {NOT_CHECKPOINT} (a zip archive without the data.pkl torch.save writes)"
        )


def _magic_number() -> int:
    from torch.serialization import MAGIC_NUMBER

    return MAGIC_NUMBER


def _first_pickle(head: bytes) -> list | None:
    """The values of the first pickle in ``head`` (its opcodes listed, none run), or ``None``
    when ``head`` does not start with a whole pickle."""
    values = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(head)):  # stops at the first STOP
            if opcode.name not in ("PROTO", "FRAME", "STOP"):
                values.append(arg)
    except ValueError:  # not opcodes, or the first pickle does not end within the head
        return None
    return values


def _what_else(head: bytes, pickled: bool) -> str:
    """What a file that is in neither of ``torch.save``'s formats is, judged by its start."""
    proto = len(head) > 1 and head[:1] == pickle.PROTO and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL
    if pickled or proto:
        return "a pickle, but not one that torch.save wrote"
    if len(head) >= 10 and head[8:10] in (b'{"', b"{}"):
        size = struct.unpack("<Q", head[:8])[0]
        if size < 100_000_000:
            return "a safetensors file, not a torch.save file"
    return "neither a zip archive nor a pickle"
