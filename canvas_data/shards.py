"""The shards stage: pack a workspace into WebDataset tars with a manifest and a dataset card.

Layout of the output folder::

    DIR/data/{split}-{n:06d}.tar   WebDataset shards (members sorted, fixed mtime)
    DIR/manifest.json              every shard with samples, bytes, sha256; counts per cell
    DIR/README.md                  dataset card whose YAML makes ``load_dataset(DIR)`` work
    DIR/recipe.yaml                the resolved recipe the data was built with

A sample has the members ``jpg`` (the workspace's JPEG bytes, not re-encoded), ``style.cls``
and ``object.cls`` (class indices in the taxonomy's order), ``txt`` (the canonical caption) and
``json`` (style, object, idx, split, seed photo key, caption, provenance).

Shards are planned up front from the input's file list, so each shard is a unit of work: it is
written under a temporary name, renamed, and then marked done in ``DIR/.pack/``. A rerun skips
shards whose inputs have not changed.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import webdataset as wds
from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import remove_partials, temp_name, write_json, write_text
from canvas_data.recipe import Recipe, workspace_recipe
from canvas_data.taxonomy import SEED_STYLE, caption
from canvas_data.workspace import Item, image_path, photo_indices, sha256_file, sidecar_path

SPLITS = ("train", "test")
FIXED_MTIME = 1708214400  # 2024-02-18, the release date of the paper: reproducible tars
MANIFEST = "manifest.json"
DONE_DIR = ".pack"


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
    seconds: float = 0.0

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.samples.items())
        return (
            f"packed {counts} samples into {self.shards_written + self.shards_reused} shards "
            f"({self.shards_written} written, {self.shards_reused} unchanged), "
            f"{self.bytes / 1e6:.1f} MB, {len(self.missing)} missing images"
        )


def inventory(work: Path, recipe: Recipe) -> Inventory:
    """List the workspace's images for the recipe's styles and objects, with their splits.

    A cell's photo indices are those of its seed photos and of any painting of that object; the
    split follows the photo (``Recipe.split_of``), so a photo and its paintings never part.
    """
    inv = Inventory()
    styles = (SEED_STYLE, *recipe.styles)
    for obj in recipe.objects:
        indices = sorted({i for s in styles for i in photo_indices(work / s / obj)})
        for style in styles:
            for idx in indices:
                item = Item(style, obj, idx)
                path = image_path(work, item)
                if path.is_file():
                    inv.samples.append(Sample(item, path, recipe.split_of(idx, indices)))
                else:
                    inv.missing.append(item.key)
    known = set(recipe.taxonomy.styles)
    skip = {DONE_DIR, "reports"}
    inv.unknown_folders = sorted(
        p.name
        for p in work.iterdir()
        if p.is_dir() and p.name not in known and p.name not in skip and not p.name.startswith(".")
    )
    return inv


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


def sample_record(sample: Sample, recipe: Recipe) -> tuple[dict[str, Any], dict[str, Any]]:
    """The WebDataset sample (bytes per member) for one workspace image, and its metadata."""
    item, tax = sample.item, recipe.taxonomy
    side = sidecar_path(sample.path)
    provenance = json.loads(side.read_text()) if side.is_file() else None
    text = caption(item.style, item.obj)
    meta = {
        "key": item.key,
        "style": item.style,
        "object": item.obj,
        "idx": item.idx,
        "split": sample.split,
        "seed_key": item.seed_key,
        "caption": text,
        "provenance": provenance,
    }
    record = {
        "__key__": item.key,
        "jpg": sample.path.read_bytes(),
        "style.cls": str(tax.style_index(item.style)).encode(),
        "object.cls": str(tax.object_index(item.obj)).encode(),
        "txt": text.encode(),
        "json": json.dumps(meta, sort_keys=True, ensure_ascii=False).encode(),
    }
    return record, meta


def pack_shards(
    work: Path,
    out: Path,
    *,
    recipe: Recipe | None = None,
    max_samples: int | None = None,
    max_bytes: int | None = None,
    progress: bool = True,
) -> PackReport:
    """Pack the workspace into ``out``: shards, manifest, dataset card. Resumes per shard."""
    from canvas_data.card import write_card

    work, out = Path(work), Path(out)
    recipe = recipe or workspace_recipe(work)
    started = time.perf_counter()
    limits = recipe.data.get("shards", {})
    max_samples = int(max_samples or limits.get("max_samples", 1000))
    max_bytes = int(max_bytes or limits.get("max_bytes", 1_000_000_000))
    inv = inventory(work, recipe)
    if not inv.samples:
        raise FileNotFoundError(f"{work}: no images of this recipe's styles and objects to pack")
    plan = plan_shards(inv.samples, recipe.seed, max_samples, max_bytes)
    (out / "data").mkdir(parents=True, exist_ok=True)
    remove_partials(out)
    report = PackReport(out=out, missing=inv.missing, unknown_folders=inv.unknown_folders)
    entries = []
    bar = tqdm(total=len(inv.samples), desc="shards", unit="img", disable=not progress)
    for name, samples in plan.items():
        entry, reused = _pack_one(out, name, samples, recipe)
        entries.append(entry)
        report.shards_reused += reused
        report.shards_written += not reused
        bar.update(len(samples))
    bar.close()
    _remove_stale(out, set(plan))
    manifest = build_manifest(entries, recipe, inv)
    write_json(out / MANIFEST, manifest)
    write_text(out / "recipe.yaml", recipe.to_yaml())
    write_card(out, manifest, recipe)
    report.samples = dict(manifest["splits"])
    report.bytes = sum(e["bytes"] for e in entries)
    report.seconds = time.perf_counter() - started
    return report


def _fingerprint(samples: list[Sample]) -> str:
    """Changes whenever a shard's inputs (images or sidecars) change."""
    h = hashlib.sha256()
    for s in samples:
        side = sidecar_path(s.path)
        for p in (s.path, side):
            st = p.stat() if p.exists() else None
            h.update(f"{p.name}:{st and st.st_size}:{st and st.st_mtime_ns};".encode())
        h.update(f"{s.item.key}|{s.split}\n".encode())
    return h.hexdigest()


def _pack_one(out: Path, name: str, samples: list[Sample], recipe: Recipe) -> tuple[dict, bool]:
    """Write one shard unless an identical one is already done; returns (entry, reused)."""
    tar = out / "data" / f"{name}.tar"
    done = out / DONE_DIR / f"{name}.json"
    fingerprint = _fingerprint(samples) + recipe.sha256
    if done.is_file() and tar.is_file():
        entry = json.loads(done.read_text())
        if entry.get("fingerprint") == fingerprint and entry.get("bytes") == tar.stat().st_size:
            return entry, True
    tmp = temp_name(tar)
    writer = wds.TarWriter(str(tmp), encoder=False, mtime=FIXED_MTIME, user="", group="")
    counts: Counter[str] = Counter()
    backends: Counter[str] = Counter()
    for sample in sorted(samples, key=lambda s: s.item.key):
        record, meta = sample_record(sample, recipe)
        writer.write(record)
        counts[f"{sample.item.style}/{sample.item.obj}"] += 1
        if sample.item.style != SEED_STYLE:
            backends[(meta["provenance"] or {}).get("backend", "unknown")] += 1
    writer.close()
    tmp.replace(tar)
    entry = {
        "path": f"data/{name}.tar",
        "split": samples[0].split,
        "samples": len(samples),
        "bytes": tar.stat().st_size,
        "sha256": sha256_file(tar),
        "counts": dict(sorted(counts.items())),
        "backends": dict(backends),
        "fingerprint": fingerprint,
    }
    write_json(done, entry)
    return entry, False


def _remove_stale(out: Path, names: set[str]) -> None:
    """Delete shards (and their done-markers) left by an earlier, larger plan."""
    for tar in (out / "data").glob("*.tar"):
        if tar.stem not in names:
            tar.unlink()
            (out / DONE_DIR / f"{tar.stem}.json").unlink(missing_ok=True)


def build_manifest(entries: list[dict], recipe: Recipe, inv: Inventory) -> dict[str, Any]:
    """The manifest: shards with hashes, and sample counts per split, style and object."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for e in entries:
        split_counts = counts.setdefault(e["split"], {})
        for cell, n in e["counts"].items():
            style, obj = cell.split("/")
            cell_counts = split_counts.setdefault(style, {})
            cell_counts[obj] = cell_counts.get(obj, 0) + n
    splits = {s: sum(e["samples"] for e in entries if e["split"] == s) for s in SPLITS}
    backends: Counter[str] = Counter()
    for e in entries:
        backends.update(e["backends"])
    tax = recipe.taxonomy
    return {
        "name": recipe.name,
        "toolkit_version": __version__,
        "recipe_sha256": recipe.sha256,
        "taxonomy": {"styles": list(tax.styles), "objects": list(tax.objects)},
        "splits": {s: n for s, n in splits.items() if n},
        "backends": dict(backends),
        "shards": [
            {k: v for k, v in e.items() if k not in ("fingerprint", "backends")} for e in entries
        ],
        "counts": counts,
        "missing": inv.missing,
    }
