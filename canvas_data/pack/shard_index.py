"""Random access into packed shards: the manifest, and where each sample's image lies in a tar.

Streaming reads shards front to back; random access (a map-style dataset, or the partner of a
streamed sample) reads one image by key. ``ShardIndex`` scans the tar headers once (no image data
is read) and then serves ``read(key)`` with one seek and one read.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data.errors import InputError
from canvas_data.pack.manifest import (
    MANIFEST,
    UnsafeEntry,
    load_manifest,
    manifest_taxonomy,
    shard_file,
)
from canvas_data.pack.tar_samples import IMAGE_EXT, check_member, member_error


class MissingSample(InputError, KeyError):
    """A sample key that a packed folder (or a split) does not hold: the data is at fault, not
    the code, so the command lines report it as bad input; a ``KeyError`` for lookups by key."""


IMAGE_MEMBER = IMAGE_EXT


def _sort_key(key: str) -> tuple[str, int]:
    """Natural order: ``Monet/Cats/2`` before ``Monet/Cats/10``."""
    head, _, idx = key.rpartition("/")
    return (head, int(idx)) if idx.isdigit() and len(idx) < 19 else (key, -1)


def split_shards(root: Path, manifest: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """The manifest entries of a split's shards, each with its ``file`` (``shard_file``: inside
    ``root``, existing); raises ``ValueError`` or ``FileNotFoundError`` naming a bad entry."""
    entries = []
    for entry in manifest["shards"]:
        if isinstance(entry, dict) and entry.get("split") != split:
            continue
        entries.append({**entry, "file": str(shard_file(root, entry))})
    return entries


class ShardIndex:
    """Where each sample's image lies in the shards of ``splits``; ``read(key)`` returns its bytes.

    Built by scanning tar headers only. Picklable, so DataLoader workers get a copy; each read
    opens the shard, seeks and reads (no file handle is shared between processes).
    """

    def __init__(self, root: Path, splits: tuple[str, ...] | None = None, progress: bool = False):
        self.root = Path(root)
        self.manifest = load_manifest(self.root)
        self.taxonomy = manifest_taxonomy(self.manifest)
        splits = splits or tuple(self.manifest["splits"])
        self.files: list[str] = []
        self._where: dict[str, tuple[int, int, int]] = {}  # key -> (file no, offset, size)
        self.split_keys: dict[str, list[str]] = {}
        shards = [(s, e) for s in splits for e in split_shards(self.root, self.manifest, s)]
        for split, entry in tqdm(shards, desc="index", unit="shard", disable=not progress):
            keys = self._scan(entry["file"])
            if len(keys) != entry["samples"]:
                raise ValueError(
                    f"{entry['file']}: {len(keys)} images, but {MANIFEST} says {entry['samples']}"
                )
            self.split_keys.setdefault(split, []).extend(keys)
        for split in splits:
            self.split_keys.setdefault(split, []).sort(key=_sort_key)

    def _scan(self, file: str) -> list[str]:
        number = len(self.files)
        self.files.append(file)
        keys = []
        try:
            with tarfile.open(file, mode="r:") as tar:
                for member in tar:
                    try:
                        key, ext = check_member(member, self.taxonomy)
                    except UnsafeEntry as err:
                        raise member_error(file, member, err) from None
                    if ext != IMAGE_MEMBER:
                        continue
                    if key in self._where:
                        raise ValueError(f"{file}: sample {key!r} is also in another shard")
                    self._where[key] = (number, member.offset_data, member.size)
                    keys.append(key)
        except tarfile.TarError as err:
            raise ValueError(f"{file}: not a readable tar: {err}") from err
        return keys

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def __len__(self) -> int:
        return len(self._where)

    def shard_of(self, key: str) -> str:
        return self.files[self._where[key][0]]

    def read(self, key: str) -> bytes:
        """The image bytes of a sample, as packed."""
        try:
            number, offset, size = self._where[key]
        except KeyError:
            raise MissingSample(f"{self.root}: no sample {key!r} in the indexed splits") from None
        with open(self.files[number], "rb") as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise ValueError(f"{self.files[number]}: truncated at sample {key!r}")
        return data
