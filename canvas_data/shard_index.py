"""Random access into packed shards: the manifest, and where each sample's image lies in a tar.

Streaming reads shards front to back; random access (a map-style dataset, or the partner of a
streamed sample) reads one image by key. ``ShardIndex`` scans the tar headers once (no image data
is read) and then serves ``read(key)`` with one seek and one read.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data.taxonomy import Taxonomy

MANIFEST = "manifest.json"
IMAGE_MEMBER = "jpg"
_MEMBER = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # webdataset's key/extension split


def _sort_key(key: str) -> tuple[str, int]:
    """Natural order: ``Monet/Cats/2`` before ``Monet/Cats/10``."""
    head, _, idx = key.rpartition("/")
    return (head, int(idx)) if idx.isdigit() else (key, -1)


def load_manifest(root: Path) -> dict[str, Any]:
    """The manifest of a packed dataset folder; one-line errors for a missing or bad one."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no manifest; expected a dataset folder written by `canvas-build shards`"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or "shards" not in manifest:
        raise ValueError(f"{path}: not a canvas_data manifest (no 'shards' list)")
    return manifest


def manifest_taxonomy(manifest: dict[str, Any]) -> Taxonomy:
    """The class orders the shards' ``style.cls`` and ``object.cls`` were written in."""
    tax = manifest.get("taxonomy") or {}
    return Taxonomy.from_spec(tax.get("styles", "release-61"), tax.get("objects", "release-20"))


def split_shards(root: Path, manifest: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """The manifest entries of a split's shards, each with its absolute ``file``; all must exist."""
    entries = []
    for entry in manifest["shards"]:
        if entry.get("split") != split or not str(entry.get("path", "")).endswith(".tar"):
            continue
        file = Path(root) / entry["path"]
        if not file.is_file():
            raise FileNotFoundError(f"{file}: shard listed in {MANIFEST} is missing")
        entries.append({**entry, "file": str(file)})
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
        splits = splits or tuple(self.manifest.get("splits", {}))
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
                    match = _MEMBER.match(member.name)
                    if not member.isfile() or not match or match[2] != IMAGE_MEMBER:
                        continue
                    key = match[1]
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
            raise KeyError(f"{self.root}: no sample {key!r} in the indexed splits") from None
        with open(self.files[number], "rb") as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise ValueError(f"{self.files[number]}: truncated at sample {key!r}")
        return data
