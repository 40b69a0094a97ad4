"""What to pack and in which shards: the workspace's images for a recipe, and the shard plan.

``inventory`` lists the images of the recipe's styles and objects with their splits, and what
the workspace lacks (missing images), holds beside the layout (``extra``) or outside the
taxonomy (unknown folders). ``plan_shards`` groups the samples into named shards per split, up
front from the file list, so that each shard is a unit of work.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from canvas_data.pack.manifest import DONE_DIR
from canvas_data.pack.manifest_schema import SPLITS
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE, STYLES_61
from canvas_data.workspace import Item, image_path, photo_indices

_MEMBER = re.compile(r"^[1-9][0-9]{0,8}\.(jpg|json)$")  # an image of a cell, or its sidecar


@dataclass(frozen=True)
class Sample:
    """One image of the workspace to pack, with its split."""

    item: Item
    path: Path
    split: str


@dataclass
class Inventory:
    """What the workspace holds for a recipe, and what it lacks."""

    samples: list[Sample] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unknown_folders: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def inventory(
    work: Path, recipe: Recipe, cells: dict[str, tuple[str, ...]] | None = None
) -> Inventory:
    """List the workspace's images for the recipe's styles and objects, with their splits.

    ``cells`` (style -> objects, ``Seed_Images`` included), when given, are what the build
    asked for (``BuildRecord.asked``): only those are packed, and only their absence is
    missing. A cell's photo indices are those of its seed photos and of any painting of that
    object; the split follows the photo (``Recipe.split_of``), so a photo and its paintings
    never part.
    """
    inv = Inventory()
    if cells is None:
        cells = {s: recipe.objects for s in (SEED_STYLE, *recipe.styles)}
    styles = tuple(cells)
    for obj in recipe.objects:
        indices = sorted({i for s in styles for i in photo_indices(work / s / obj)})
        for style in (s for s in styles if obj in cells[s]):
            for idx in indices:
                item = Item(style, obj, idx)
                path = image_path(work, item)
                if path.is_file():
                    inv.samples.append(Sample(item, path, recipe.split_of(idx, indices)))
                else:
                    inv.missing.append(item.key)
    known = set(recipe.taxonomy.styles) | set(STYLES_61)  # release styles left out are no strays
    skip = {DONE_DIR, "reports"}
    inv.unknown_folders = sorted(
        p.name
        for p in work.iterdir()
        if p.is_dir() and p.name not in known and p.name not in skip and not p.name.startswith(".")
    )
    inv.extra = _extra_files(work, styles, recipe)
    return inv


def _extra_files(work: Path, styles: Sequence[str], recipe: Recipe) -> list[str]:
    """Files and folders inside the packed styles that are not part of the layout."""
    objects, wanted = set(recipe.taxonomy.objects), set(recipe.objects)
    extra = []
    for style in styles:
        folder = work / style
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            if sub.name.startswith("."):
                continue
            if not (sub.is_dir() and sub.name in objects):
                extra.append(f"{style}/{sub.name}")
            elif sub.name in wanted:
                extra.extend(
                    f"{style}/{sub.name}/{f.name}"
                    for f in sorted(sub.iterdir())
                    if not f.name.startswith(".")
                    and not (f.is_file() and _MEMBER.fullmatch(f.name))
                )
    return extra


def plan_shards(
    samples: list[Sample], seed: int, max_samples: int, max_bytes: int
) -> dict[str, list[Sample]]:
    """Group samples into named shards: per split, in a seeded shuffle, within both bounds."""
    shards: dict[str, list[Sample]] = {}
    for split in SPLITS:
        chosen = sorted((s for s in samples if s.split == split), key=lambda s: s.item)
        random.Random(f"{seed}/{split}").shuffle(chosen)
        groups: list[list[Sample]] = []
        size = 0
        for sample in chosen:
            nbytes = sample.path.stat().st_size
            if not groups or len(groups[-1]) >= max_samples or size + nbytes > max_bytes:
                groups.append([])
                size = 0
            groups[-1].append(sample)
            size += nbytes
        shards.update({f"{split}-{i:06d}": group for i, group in enumerate(groups)})
    return shards
