"""The workspace is the release's own folder layout: ``{Style}/{Object}/{idx}.jpg``.

Seed photos live under ``Seed_Images/{Object}/{idx}.jpg``; each image may have a provenance
sidecar ``{idx}.json`` beside it. A downloaded copy of the release is therefore a workspace too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from canvas_data.taxonomy import SEED_STYLE

_IDX = re.compile(r"^([1-9][0-9]{0,8})\.jpg$")  # an idx of at most 9 digits


@dataclass(frozen=True, order=True)
class Item:
    """One image of the dataset: a style (or ``Seed_Images``), an object and a photo index."""

    style: str
    obj: str
    idx: int

    @property
    def key(self) -> str:
        """The sample key, dot-free and unique: ``Van_Gogh/Cats/3``."""
        return f"{self.style}/{self.obj}/{self.idx}"

    @property
    def seed_key(self) -> str:
        """The key of the seed photo this image was painted from."""
        return f"{SEED_STYLE}/{self.obj}/{self.idx}"


def image_path(work: Path, item: Item) -> Path:
    return work / item.style / item.obj / f"{item.idx}.jpg"


def seed_photo_path(work: Path, obj: str, idx: int) -> Path:
    return work / SEED_STYLE / obj / f"{idx}.jpg"


def sidecar_path(image: Path) -> Path:
    """The provenance file beside an image."""
    return image.with_suffix(".json")


def photo_indices(folder: Path) -> list[int]:
    """Sorted indices of the ``{idx}.jpg`` files in a cell folder (none if it is missing)."""
    if not folder.is_dir():
        return []
    return sorted(int(m[1]) for p in folder.iterdir() if (m := _IDX.fullmatch(p.name)))


def seed_photos(work: Path, objects: Iterable[str]) -> dict[str, list[int]]:
    """The seed photo indices present in the workspace, per object."""
    return {obj: photo_indices(work / SEED_STYLE / obj) for obj in objects}


def item_seed(base_seed: int, item: Item) -> int:
    """A per-item random seed from (recipe seed, style, object, idx), independent of work order."""
    digest = hashlib.sha256(f"{base_seed}/{item.key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
