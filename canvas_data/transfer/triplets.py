"""The style-transfer benchmark's triplets in a packed folder, and the release's output names.

The release (``style_transfer/*/unlearn_canvas_batch_test.py``) paints every test photo
``Seed_Images/{Object}/{19,20}.jpg`` in every style from each training painting of that style and
object ``{Style}/{Object}/{1..18}.jpg``, and writes ``OUT/{Style}/{Object}_test{t}_ref{k}.jpg``;
the ground truth is ``{Style}/{Object}/{t}.jpg``. 60 styles x 20 objects x 2 x 18 = 43,200.

The triplets come from ``canvas_data.loading.tasks.StyleTransfer`` (test split, references from
the train split, same object, every reference), so a build with other test photos (the demo's
last photo per object) gets the same grid over its own indices.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from canvas_data.loading.tasks import Pool, Selection, StyleTransfer, parse_key
from canvas_data.pack.shard_index import ShardIndex
from canvas_data.taxonomy import SEED_STYLE, STYLES_50, STYLES_60

STYLE_SETS = {"50": STYLES_50, "60": STYLES_60}
CONTENT_SPLIT, REFERENCE_SPLIT = "test", "train"


@dataclass(frozen=True, order=True)
class Triplet:
    """One output of the benchmark: its name, and the sample keys it is made from."""

    name: str  # "{Style}/{Object}_test{t}_ref{k}.jpg", relative to the output folder
    style: str
    obj: str
    content: str  # "Seed_Images/{Object}/{t}"
    reference: str  # "{Style}/{Object}/{k}"
    target: str  # "{Style}/{Object}/{t}": the ground truth

    def seed(self, base: int = 0) -> int:
        """The pair's seed: the same on every rank and in any batch (CRC32 of base and name)."""
        return zlib.crc32(f"{base}/{self.name}".encode())


def output_name(style: str, obj: str, test_idx: int, ref_idx: int) -> str:
    """The release's file name of one output, relative to the output folder."""
    return f"{style}/{obj}_test{test_idx}_ref{ref_idx}.jpg"


def resolve_styles(spec: Sequence[str] | None, available: Sequence[str]) -> list[str] | None:
    """``--styles`` as names: ``None`` or ``all`` for every painted style of the dataset,
    ``50``/``60`` for the release's sets, else the names given."""
    if not spec or list(spec) == ["all"]:
        return None
    if len(spec) == 1 and spec[0] in STYLE_SETS:
        return [s for s in STYLE_SETS[spec[0]] if s in available] or list(STYLE_SETS[spec[0]])
    return list(spec)


def index_for(data: Path) -> ShardIndex:
    """The shard index of a packed folder's test and train splits; ``ValueError`` naming the
    folder when either is missing."""
    from canvas_data.pack.shard_index import load_manifest

    splits = load_manifest(Path(data)).get("splits", {})
    missing = [s for s in (CONTENT_SPLIT, REFERENCE_SPLIT) if s not in splits]
    if missing:
        raise ValueError(
            f"{data}: no {' or '.join(missing)} split; the style-transfer "
            "benchmark needs test photos and train references"
        )
    return ShardIndex(Path(data), (CONTENT_SPLIT, REFERENCE_SPLIT))


def plan_triplets(
    index: ShardIndex, styles: Sequence[str] | None = None, objects: Sequence[str] | None = None
) -> list[Triplet]:
    """Every triplet of the packed folder behind ``index`` (or of ``styles`` x ``objects``),
    sorted by name. Unknown names fail with the valid ones listed."""
    styles = resolve_styles(styles, index.taxonomy.styles)
    selection = Selection.of(CONTENT_SPLIT, styles, objects)
    selection.check(index.taxonomy, index.split_keys)
    task = StyleTransfer("same-object", all_references=True, reference_split=REFERENCE_SPLIT)
    pool = Pool(index.split_keys)
    rng = random.Random(0)  # unused: every reference is taken
    found = []
    for key in index.split_keys[CONTENT_SPLIT]:
        item = parse_key(key)
        if item.style == SEED_STYLE or not selection.keeps(item) or not task.accepts(item):
            continue
        for job in task.jobs(item, CONTENT_SPLIT, pool, rng):
            ref = parse_key(job["reference"])
            name = output_name(item.style, item.obj, item.idx, ref.idx)
            found.append(Triplet(name, item.style, item.obj, job["content"], ref.key, item.key))
    return sorted(found)
