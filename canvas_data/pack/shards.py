"""The shards stage: pack a workspace into WebDataset tars (or Parquet files) with a manifest.

Layout of the output folder::

    DIR/data/{split}-{n:06d}.tar         WebDataset shards (members sorted, fixed mtime)
    DIR/parquet/{split}-{n:06d}.parquet  the same samples as Parquet (``formats`` with "parquet")
    DIR/manifest.json                    every shard with samples, bytes, sha256; counts per cell
    DIR/README.md                        dataset card (written by ``canvas_data.pipeline``)
    DIR/recipe.yaml                      the resolved recipe the data was built with

A sample has the members ``jpg`` (the workspace's JPEG bytes, not re-encoded unless a variant asks
for another resolution), ``style.cls`` and ``object.cls`` (class indices in the taxonomy's order),
``txt`` (the canonical caption) and ``json`` (style, object, idx, split, seed photo key, caption,
provenance).

Any folder in the release's layout packs, a downloaded copy of the release included. Images are
read one at a time and streamed into the shard, so memory stays flat however large the input is.
Each image is checked on the way (``canvas_data.images.jpeg``: a header check by default, a full
decode on request); one that fails is reported by name with the reason and left out, and the rest
goes on. Missing images (a cell's photo index without its file), files that do not belong to the
layout (``extra``) and folders outside the taxonomy are reported too.

Shards are planned up front from the input's file list, so each shard is a unit of work: it is
written under a temporary name, renamed, and then marked done in ``DIR/.pack/``. A rerun skips
shards whose inputs have not changed.

Here the stage runs and writes the manifest; ``shard_plan`` lists and plans the samples,
``shard_formats`` makes each sample's members and writes them per format, ``shard_resume``
writes one shard or skips it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import remove_partials, write_json, write_text
from canvas_data.build_record import (
    check_recipe,
    read_record,
    stale_line,
    stale_paintings,
)
from canvas_data.errors import InputError
from canvas_data.images.jpeg import CHECKS
from canvas_data.locks import exclusive
from canvas_data.out_paths import refuse_inside
from canvas_data.pack.manifest import DONE_DIR, LOCK, MANIFEST, SHARD_FILES
from canvas_data.pack.shard_formats import FORMATS
from canvas_data.pack.shard_plan import SPLITS, Inventory, inventory, plan_shards
from canvas_data.pack.shard_resume import pack_one, remove_stale
from canvas_data.pack.variants import variant_recipe
from canvas_data.recipe import Recipe, workspace_recipe

# What runs once a pack is written: (out, manifest, recipe, sample index of the tars written now).
Finish = Callable[[Path, dict[str, Any], Recipe, dict[str, list]], None]


@dataclass
class PackReport:
    """What a pack run did."""

    out: Path
    samples: dict[str, int] = field(default_factory=dict)
    shards_written: int = 0
    shards_reused: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)
    unknown_folders: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    formats: tuple[str, ...] = ("webdataset",)
    seconds: float = 0.0

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.samples.items())
        return (
            f"packed {counts} samples into {self.shards_written + self.shards_reused} shards "
            f"({self.shards_written} written, {self.shards_reused} unchanged; "
            f"{' + '.join(self.formats)}), {self.bytes / 1e6:.1f} MB, "
            f"{len(self.missing)} missing, {len(self.unreadable)} unreadable, "
            f"{len(self.extra)} extra files"
        )


@dataclass(frozen=True)
class PackOptions:
    """How a workspace is packed, checked when made (``ValueError`` for an unknown format or
    image check).

    ``max_samples`` and ``max_bytes`` (image bytes) bound a shard, default: the recipe's
    ``shards`` section; ``styles`` (``"50"``, ``"60"`` or names) and ``resolution`` (pixels, a
    square) pack a variant (``canvas_data.pack.variants``); ``formats`` picks WebDataset tars,
    Parquet files or both; ``check`` is how closely each image is checked (``header``,
    ``decode`` or ``none``, ``canvas_data.images.jpeg``).
    """

    max_samples: int | None = None
    max_bytes: int | None = None
    styles: str | tuple[str, ...] | None = None
    resolution: int | None = None
    formats: tuple[str, ...] = ("webdataset",)
    check: str = "header"

    def __post_init__(self) -> None:
        formats = tuple(dict.fromkeys(self.formats))
        unknown = [f for f in formats if f not in FORMATS]
        if unknown or not formats:
            raise ValueError(f"unknown formats {unknown}; choose from {', '.join(FORMATS)}")
        if self.check not in CHECKS:
            raise ValueError(f"unknown image check {self.check!r}; choose from {', '.join(CHECKS)}")
        object.__setattr__(self, "formats", formats)
        if self.styles is not None and not isinstance(self.styles, str):
            object.__setattr__(self, "styles", tuple(self.styles))


def pack_shards(
    work: Path,
    out: Path,
    options: PackOptions | None = None,
    *,
    recipe: Recipe | None = None,
    progress: bool = True,
    finish: Finish | None = None,
) -> PackReport:
    """Pack the workspace into ``out``: shards, ``manifest.json``, ``recipe.yaml``, as
    ``options`` say (default: :class:`PackOptions`). Resumes per shard.

    ``finish(out, manifest, recipe, written)`` runs last, while the folder is still locked:
    ``written`` is the sample index of the tars written now
    (``canvas_data.pack.packed.read_index``).
    :func:`canvas_data.pipeline.pack_dataset` passes the dataset card's writer.
    """
    work, out = Path(work), Path(out)
    options = options or PackOptions()
    formats, check = options.formats, options.check
    base = recipe or workspace_recipe(work)
    record = read_record(work)
    check_recipe(work, record, base, "shards")
    recipe = variant_recipe(base, styles=options.styles, resolution=options.resolution)
    started = time.perf_counter()
    max_samples = options.max_samples or recipe.spec.shards.max_samples
    max_bytes = options.max_bytes or recipe.spec.shards.max_bytes
    # what the build asked for, unless --styles names the styles to pack
    cells = record.asked(recipe) if record is not None and options.styles is None else None
    # (None: the recipe's styles and objects, as for a copy of the release)
    inv = inventory(work, recipe, cells)
    if not inv.samples:
        raise FileNotFoundError(f"{work}: no images of this recipe's styles and objects to pack")
    painted = [s.item for s in inv.samples]
    stale = stale_paintings(work, base, record, painted)
    if stale:
        raise InputError(f"{work}: shards refused: {stale_line(stale, work)}")
    plan = plan_shards(inv.samples, recipe.seed, max_samples, max_bytes)
    refuse_inside(out, work, "--out", "--work")
    out.mkdir(parents=True, exist_ok=True)
    with exclusive(out / DONE_DIR / LOCK, out, "shards", "--out"):
        # no other writer of these folders while the lock is held; only the folders this stage
        # writes, never what else lives under OUT (a workspace being painted, say)
        folders = [out / folder for folder, _ in SHARD_FILES.values()]
        for folder in (out, *folders, out / DONE_DIR):
            remove_partials(folder, everyone=True, recursive=False)
        report = PackReport(
            out=out,
            missing=inv.missing,
            unknown_folders=inv.unknown_folders,
            extra=inv.extra,
            formats=formats,
        )
        entries: dict[str, list[dict]] = {fmt: [] for fmt in formats}
        written: dict[str, list] = {}  # the card's sample index of the tars written now
        bar = tqdm(total=len(inv.samples), desc="shards", unit="img", disable=not progress)
        try:
            for name, samples in plan.items():
                done, reused = pack_one(
                    out, name, samples, recipe, formats, check, bar.update, written
                )
                for fmt, entry in done.items():
                    entries[fmt].append(entry)
                report.shards_reused += reused
                report.shards_written += not reused
        finally:
            bar.close()
        remove_stale(out, set(plan), formats)
        manifest = build_manifest(entries, recipe, inv)
        write_json(out / MANIFEST, manifest)
        write_text(out / "recipe.yaml", recipe.to_yaml())
        if finish is not None:
            finish(out, manifest, recipe, written)
        report.samples = dict(manifest["splits"])
        report.bytes = sum(e["bytes"] for fmt_entries in entries.values() for e in fmt_entries)
        report.unreadable = [
            (work / f"{u['key']}.jpg", u["reason"]) for u in manifest["unreadable"]
        ]
        report.seconds = time.perf_counter() - started
        return report


def build_manifest(
    entries: dict[str, list[dict]], recipe: Recipe, inv: Inventory
) -> dict[str, Any]:
    """The manifest: shards with hashes, and sample counts per split, style and object.

    ``entries`` holds each format's shard entries; every format holds the same samples, so
    counts come from the first one.
    """
    primary = next(iter(entries.values()))
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for e in primary:
        split_counts = counts.setdefault(e["split"], {})
        for cell, n in e["counts"].items():
            style, obj = cell.split("/")
            cell_counts = split_counts.setdefault(style, {})
            cell_counts[obj] = cell_counts.get(obj, 0) + n
    splits = {s: sum(e["samples"] for e in primary if e["split"] == s) for s in SPLITS}
    backends: Counter[str] = Counter()
    for e in primary:
        backends.update(e["backends"])
    tax = recipe.taxonomy
    internal = ("fingerprint", "backends", "rejected")
    manifest = {
        "name": recipe.name,
        "toolkit_version": __version__,
        "recipe_sha256": recipe.sha256,
        "taxonomy": {"styles": list(tax.styles), "objects": list(tax.objects)},
        "formats": list(entries),
        "splits": {s: n for s, n in splits.items() if n},
        "backends": dict(backends),
        "shards": [
            {k: v for k, v in e.items() if k not in internal} for e in entries.get("webdataset", [])
        ],
        "counts": counts,
        "missing": inv.missing,
        "unreadable": sorted(
            (r for e in primary for r in e.get("rejected", [])), key=lambda r: r["key"]
        ),
        "extra": inv.extra,
    }
    if "parquet" in entries:
        manifest["parquet"] = [
            {k: v for k, v in e.items() if k not in internal} for e in entries["parquet"]
        ]
    return manifest
