"""The shards stage: pack a workspace into WebDataset tars (or Parquet files) with a manifest.

Layout of the output folder::

    DIR/data/{split}-{n:06d}.tar         WebDataset shards (members sorted, fixed mtime)
    DIR/parquet/{split}-{n:06d}.parquet  the same samples as Parquet (``formats`` with "parquet")
    DIR/manifest.json                    every shard with samples, bytes, sha256; counts per cell
    DIR/README.md                        dataset card (written by ``canvas_data.pipeline``, not
    here) DIR/recipe.yaml                      the resolved recipe the data was built with

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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data import __version__, atomic
from canvas_data.atomic import remove_partials, write_json, write_text, writing
from canvas_data.images.decode import image_size
from canvas_data.images.jpeg import CHECKS, STORE_RULES, ImageError, check_image, for_shard
from canvas_data.locks import exclusive
from canvas_data.out_paths import refuse_inside
from canvas_data.pack.manifest import DONE_DIR, LOCK, MANIFEST, SHARD_FILES
from canvas_data.pack.variants import pack_resolution, variant_recipe
from canvas_data.pack.wds_tar import TarWriter
from canvas_data.recipe import Recipe, workspace_recipe
from canvas_data.taxonomy import SEED_STYLE, STYLES_61, caption
from canvas_data.workspace import Item, image_path, photo_indices, sha256_file, sidecar_path

SPLITS = ("train", "test")
FIXED_MTIME = 1708214400  # 2024-02-18, the release date of the paper: reproducible tars
FORMATS = ("webdataset", "parquet")
WRITE_BUFFER = 4 << 20  # bytes buffered before each write to a shard file
# What runs once a pack is written: (out, manifest, recipe, sample index of the tars written now).
Finish = Callable[[Path, dict[str, Any], Recipe, dict[str, list]], None]
_MEMBER = re.compile(r"^[1-9][0-9]*\.(jpg|json)$")  # an image of a cell, or its sidecar


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
                    if not f.name.startswith(".") and not (f.is_file() and _MEMBER.match(f.name))
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


def sample_record(
    sample: Sample, recipe: Recipe, *, check: str = "header"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The WebDataset sample (bytes per member) for one workspace image, and its metadata.

    The image is checked at ``check`` level and stored as ``jpeg.for_shard`` says: as it is, less
    bytes after its end marker, or re-encoded when EXIF-rotated, not sRGB or (a variant) at
    another resolution; raises ``ImageError`` (or ``OSError``) for an image that cannot be used.
    """
    item, tax = sample.item, recipe.taxonomy
    data = sample.path.read_bytes()
    data = for_shard(data, check_image(data, check), pack_resolution(recipe), recipe.jpeg_quality)
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
        "jpg": data,
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
    styles: str | Sequence[str] | None = None,
    resolution: int | None = None,
    formats: Sequence[str] = ("webdataset",),
    check: str = "header",
    progress: bool = True,
    finish: Finish | None = None,
) -> PackReport:
    """Pack the workspace into ``out``: shards, ``manifest.json``, ``recipe.yaml``. Resumes per
    shard.

    ``styles`` (``"50"``, ``"60"`` or names) and ``resolution`` pack a variant
    (``canvas_data.pack.variants``); ``formats`` picks WebDataset tars, Parquet files or both;
    ``check`` is how closely each image is checked (``header``, ``decode`` or ``none``).
    ``finish(out, manifest, recipe, written)`` runs last, while the folder is still locked:
    ``written`` is the sample index of the tars written now
    (``canvas_data.pack.packed.read_index``).
    :func:`canvas_data.pipeline.pack_dataset` passes the dataset card's writer.
    """
    work, out = Path(work), Path(out)
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown formats {unknown}; choose from {', '.join(FORMATS)}")
    if check not in CHECKS:
        raise ValueError(f"unknown image check {check!r}; choose from {', '.join(CHECKS)}")
    recipe = variant_recipe(recipe or workspace_recipe(work), styles=styles, resolution=resolution)
    started = time.perf_counter()
    limits = recipe.data.get("shards", {})
    max_samples = int(max_samples or limits.get("max_samples", 1000))
    max_bytes = int(max_bytes or limits.get("max_bytes", 1_000_000_000))
    inv = inventory(work, recipe)
    if not inv.samples:
        raise FileNotFoundError(f"{work}: no images of this recipe's styles and objects to pack")
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
                done, reused = _pack_one(
                    out, name, samples, recipe, formats, check, bar.update, written
                )
                for fmt, entry in done.items():
                    entries[fmt].append(entry)
                report.shards_reused += reused
                report.shards_written += not reused
        finally:
            bar.close()
        _remove_stale(out, set(plan), formats)
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


class HashingFile:
    """A file opened for writing that hashes what goes through it (``sha256`` once closed)."""

    def __init__(self, path: Path, buffering: int = WRITE_BUFFER) -> None:
        self._file = atomic.open_file(path, buffering)
        self._hash = hashlib.sha256()
        self.sha256: str | None = None

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        self.sha256 = self._hash.hexdigest()

    def abort(self) -> None:
        """Close the file without finishing it (a failed write: it is being removed)."""
        with contextlib.suppress(OSError):  # its buffer may not fit on a full disk either
            self._file.close()


class TarShardWriter:
    """Writes packed samples to one WebDataset tar: members sorted, fixed mtime and owner.

    The tar is hashed as it is written, through a large buffer: a shard is neither written in
    small pieces nor read back to hash it. ``rows`` keeps each sample's ``json`` member (bytes,
    compact) and where its image lies, for the card's sample index (``canvas_data.pack.packed``)
    without reading the tar again.
    """

    folder = "data"
    suffix = ".tar"

    def __init__(self, path: Path, recipe: Recipe) -> None:
        self._file = HashingFile(path)
        self._writer = TarWriter(self._file, mtime=FIXED_MTIME)
        self.sha256: str | None = None
        # None once an image's size cannot be read (packed with ``check="none"``): the card
        # then reads this shard back and reports it, as it does any shard it cannot index.
        self.rows: list[tuple[bytes, dict[str, int]]] | None = []

    def write(self, record: dict[str, Any], meta: dict[str, Any]) -> None:
        offset, size = self._writer.write(record)["jpg"]
        if self.rows is None:
            return
        try:
            width, height = image_size(record["jpg"], name=record["__key__"])
        except ValueError:
            self.rows = None
            return
        self.rows.append(
            (record["json"], {"width": width, "height": height, "bytes": size, "offset": offset})
        )

    def close(self) -> None:
        self._writer.close()
        self._file.close()
        self.sha256 = self._file.sha256

    def abort(self) -> None:
        """Close the file unfinished (after ``close``, nothing to do): the tar is discarded."""
        self._file.abort()


def _writer_class(fmt: str):
    """The shard writer of a format; every writer has ``write(record, meta)``, ``close()`` and
    ``abort()`` (close unfinished, after a failure; nothing to do once closed)."""
    if fmt == "parquet":
        from canvas_data.pack.parquet import ParquetShardWriter

        return ParquetShardWriter
    return TarShardWriter


def _shard_path(out: Path, fmt: str, name: str) -> Path:
    folder, suffix = SHARD_FILES[fmt]
    return out / folder / f"{name}{suffix}"


def _done_path(out: Path, fmt: str, name: str) -> Path:
    return out / DONE_DIR / (f"{name}.json" if fmt == "webdataset" else f"{name}.{fmt}.json")


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


def _done_entry(out: Path, fmt: str, name: str, fingerprint: str) -> dict | None:
    """The entry of a shard already written from the same inputs, if there is one."""
    path, done = _shard_path(out, fmt, name), _done_path(out, fmt, name)
    if not (done.is_file() and path.is_file()):
        return None
    entry = json.loads(done.read_text())
    if entry.get("fingerprint") == fingerprint and entry.get("bytes") == path.stat().st_size:
        return entry
    return None


def _pack_one(
    out: Path,
    name: str,
    samples: list[Sample],
    recipe: Recipe,
    formats: Sequence[str],
    check: str,
    advance: Callable[[int], Any],
    index: dict[str, list] | None = None,
) -> tuple[dict[str, dict], bool]:
    """Write one shard in every format that lacks an identical one; returns (entries, reused).

    Each image is read once and streamed into every format's writer. ``index`` receives, per
    tar written, its samples' ``json`` members and image offsets (``TarShardWriter.rows``).
    """
    fingerprint = f"{_fingerprint(samples)}{recipe.sha256}{check}{STORE_RULES}"
    entries = {fmt: e for fmt in formats if (e := _done_entry(out, fmt, name, fingerprint))}
    todo = [fmt for fmt in formats if fmt not in entries]
    if not todo:
        advance(len(samples))
        return entries, True
    paths = {fmt: _shard_path(out, fmt, name) for fmt in todo}
    writers = {}
    counts: Counter[str] = Counter()
    backends: Counter[str] = Counter()
    rejected = []
    # Each shard file is written under a temporary name and renamed when the block ends; an
    # error (disk full, Ctrl-C) closes the writers unfinished and removes their files.
    with contextlib.ExitStack() as stack:
        for fmt, path in paths.items():
            writers[fmt] = _writer_class(fmt)(stack.enter_context(writing(path)), recipe)
            stack.callback(writers[fmt].abort)
        for sample in sorted(samples, key=lambda s: s.item.key):
            advance(1)
            try:
                record, meta = sample_record(sample, recipe, check=check)
            except (ImageError, OSError) as err:
                rejected.append({"key": sample.item.key, "reason": str(err)})
                continue
            for writer in writers.values():
                writer.write(record, meta)
            counts[f"{sample.item.style}/{sample.item.obj}"] += 1
            if sample.item.style != SEED_STYLE:
                backends[(meta["provenance"] or {}).get("backend", "unknown")] += 1
        for writer in writers.values():
            writer.close()
    for fmt, writer in writers.items():
        if index is not None and getattr(writer, "rows", None) is not None:
            index[paths[fmt].relative_to(out).as_posix()] = writer.rows
        entries[fmt] = {
            "path": paths[fmt].relative_to(out).as_posix(),
            "split": samples[0].split,
            "samples": sum(counts.values()),
            "bytes": paths[fmt].stat().st_size,
            "sha256": getattr(writer, "sha256", None) or sha256_file(paths[fmt]),
            "counts": dict(sorted(counts.items())),
            "backends": dict(backends),
            "rejected": rejected,
            "fingerprint": fingerprint,
        }
        write_json(_done_path(out, fmt, name), entries[fmt])
    return entries, False


def _remove_stale(out: Path, names: set[str], formats: Sequence[str]) -> None:
    """Delete shards (and their done-markers) of an earlier, larger plan or a dropped format."""
    for fmt in FORMATS:
        folder, suffix = SHARD_FILES[fmt]
        for path in (out / folder).glob(f"*{suffix}"):
            if fmt not in formats or path.stem not in names:
                path.unlink()
                _done_path(out, fmt, path.stem).unlink(missing_ok=True)


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
