"""Exports of a packed folder, for tools that expect the release's own layout.

``export_release`` writes ``OUT/{Style}/{Object}/{idx}.jpg`` (the image bytes as packed, not
re-encoded), a provenance sidecar ``{idx}.json`` where the sample has one, the recipe the data
was packed with (``recipe.yaml``) and ``OUT/metadata.jsonl`` with one ``{"file_name", "text"}``
line per image: the layout the release's scripts read, and the metadata file that
``load_dataset("imagefolder", data_dir=OUT)`` (and so diffusers' text-to-image training with
``--train_data_dir OUT``) turns into ``image`` and ``text`` columns. Packing the export again gives
the same samples.

Shards are read one sample at a time (tars with ``tarfile``, else the Parquet files), each shard
is marked done in ``OUT/.export/`` and skipped on a rerun. A packed folder is untrusted input:
shard paths must stay inside it and sample keys must be ``{Style}/{Object}/{idx}`` of its
taxonomy (``canvas_data.pack.manifest``), so nothing is written outside ``OUT``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data.atomic import remove_partials, write_bytes, write_json, write_text
from canvas_data.images.jpeg import ImageError, check_image
from canvas_data.out_paths import refuse_inside
from canvas_data.pack.manifest import (
    MANIFEST,
    UnsafeEntry,
    check_key,
    manifest_taxonomy,
    read_manifest,
    shard_file,
)
from canvas_data.pack.sample_keys import KeyOwners
from canvas_data.pack.tar_samples import count_error, iter_samples
from canvas_data.taxonomy import Taxonomy

LAYOUTS = ("release",)
STATE_DIR = ".export"
METADATA = "metadata.jsonl"


@dataclass
class ExportReport:
    """What an export run wrote."""

    out: Path
    images: int = 0
    shards: int = 0
    shards_reused: int = 0

    def summary(self) -> str:
        return (
            f"exported {self.images} images from {self.shards} shards "
            f"({self.shards_reused} already done) to {self.out}/ with {METADATA}"
        )


def export_release(
    packed: Path,
    out: Path,
    *,
    layout: str = "release",
    splits: Sequence[str] | None = None,
    sidecars: bool = True,
    progress: bool = True,
    overwrite: bool = False,
) -> ExportReport:
    """Write the packed folder ``packed`` back in the release's folder layout under ``out``.

    ``out`` must be missing, empty or an earlier export (which the run resumes) unless
    ``overwrite``: ``ValueError`` naming what it holds, before anything is written.
    """
    packed, out = Path(packed), Path(out)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    refuse_inside(out, packed, "--out", "the packed folder")  # even with --overwrite
    if not overwrite:
        _check_target(out)
    manifest_path = packed / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: missing, not a packed folder")
    manifest = read_manifest(manifest_path)
    fmt, shards = ("webdataset", manifest["shards"])
    if not shards and manifest.get("parquet"):
        fmt, shards = ("parquet", manifest["parquet"])
    unknown = sorted(set(splits or ()) - set(manifest["splits"]))
    if unknown:
        raise ValueError(f"{packed}: no split {unknown}; it has {list(manifest['splits'])}")
    shards = [s for s in shards if not splits or s["split"] in splits]
    kind = "shards" if fmt == "webdataset" else "parquet"
    files = [shard_file(packed, s, kind) for s in shards]  # all checked before writing anything
    taxonomy = manifest_taxonomy(manifest)
    out.mkdir(parents=True, exist_ok=True)
    remove_partials(out)
    report = ExportReport(out=out, shards=len(shards))
    lines: list[dict[str, str]] = []
    owners = KeyOwners()  # a key written by two shards would overwrite one image
    bar = tqdm(total=sum(s["samples"] for s in shards), desc="export", disable=not progress)
    for shard, file in zip(shards, files, strict=True):
        marker = out / STATE_DIR / f"{Path(shard['path']).name}.json"
        done = _read_marker(marker)
        if done.get("sha256") == shard["sha256"] and done.get("sidecars") == sidecars:
            report.shards_reused += 1
            for line in done["lines"]:
                _claim(owners, line["file_name"].removesuffix(".jpg"), file, shard["split"])
        else:
            done = {"sha256": shard["sha256"], "sidecars": sidecars, "lines": []}
            for key, data, text, provenance in _samples(file, fmt, taxonomy, shard["samples"]):
                try:  # what a `.jpg` of the release's layout must be: a whole JPEG
                    check_image(data, "header")
                except ImageError as err:
                    raise UnsafeEntry(f"{file}: sample {key!r}: image: {err}") from None
                _claim(owners, key, file, shard["split"])
                write_bytes(out / f"{key}.jpg", data)
                if sidecars and provenance is not None:
                    write_json(out / f"{key}.json", provenance)
                done["lines"].append({"file_name": f"{key}.jpg", "text": text})
            write_json(marker, done)
        lines += done["lines"]
        bar.update(shard["samples"])
    bar.close()
    lines.sort(key=lambda line: line["file_name"])
    write_text(
        out / METADATA, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    )
    recipe = (packed / "recipe.yaml").resolve()
    if recipe.is_file() and recipe.is_relative_to(packed.resolve()):
        shutil.copyfile(recipe, out / "recipe.yaml")
    report.images = len(lines)
    return report


def _samples(
    path: Path, fmt: str, taxonomy: Taxonomy, expected: int
) -> Iterator[tuple[str, bytes, str, Any]]:
    """``(key, jpeg bytes, caption, provenance)`` of each sample of one shard, one at a time.

    A shard that holds another number of samples than ``expected`` (its manifest's count)
    raises ``ValueError`` naming it, after its last sample.

    Keys are checked against the layout (``check_key``): a tar member or Parquet row whose key is
    not ``{Style}/{Object}/{idx}`` of the taxonomy, or a member that is not a regular file, raises
    ``ValueError`` naming the shard and the member or row.
    """
    if fmt == "parquet":
        from canvas_data.parquet_read import iter_rows

        rows = 0
        for row in iter_rows(path, columns=["image", "caption", "key"]):
            rows += 1
            try:
                check_key(row["key"], taxonomy)
            except UnsafeEntry as err:
                raise UnsafeEntry(f"{path}: row {row['key']!r}: {err}") from None
            image = row["image"] or {}
            if not isinstance(image.get("bytes"), bytes):
                raise ValueError(f"{path}: row {row['key']!r}: no image bytes")
            yield row["key"], image["bytes"], row["caption"], None
        if rows != expected:
            raise ValueError(count_error(path, rows, expected))
        return
    for sample in iter_samples(path, taxonomy, expected=expected):
        missing = [m for m in ("jpg", "json", "txt") if m not in sample]
        if missing:
            raise ValueError(f"{path}: sample {sample['__key__']!r} has no {missing} members")
        try:
            meta = json.loads(sample["json"])
            text = sample["txt"].decode("utf-8")
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError both are
            raise ValueError(f"{path}: sample {sample['__key__']!r}: {err}") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{path}: sample {sample['__key__']!r}: its json is not an object")
        yield sample["__key__"], sample["jpg"], text, meta.get("provenance")


def _claim(owners: KeyOwners, key: str, shard: Path, split: str) -> None:
    """Record that ``shard`` writes ``key``; ``ValueError`` when another shard wrote it."""
    problem = owners.claim(key, shard, split)
    if problem:
        raise ValueError(problem)


def _read_marker(path: Path) -> dict[str, Any]:
    """What an earlier export wrote from one shard (``{}`` when unknown or unreadable)."""
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    lines = done.get("lines") if isinstance(done, dict) else None
    ok = isinstance(lines, list) and all(
        isinstance(x, dict) and isinstance(x.get("file_name"), str) for x in lines
    )
    return done if ok else {}


def _check_target(out: Path) -> None:
    """Refuse an ``out`` that holds files other than an earlier export's (one with ``.export/``)."""
    if not out.is_dir() or (out / STATE_DIR).is_dir():
        return
    names = sorted(p.name for p in out.iterdir())
    if names:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise ValueError(
            f"{out} holds other files ({shown}), not an earlier export; choose another --out "
            "or pass --overwrite (files of the same name are replaced)"
        )
