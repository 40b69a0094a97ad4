"""Parquet shards: the same samples as the tars, as a table the Hub's viewer and pandas can read.

``DIR/parquet/{split}-{n:06d}.parquet`` holds one row per image with clean columns:

- ``image``: a ``datasets.Image`` struct ``{bytes, path}``: the JPEG bytes and the release path
  ``{Style}/{Object}/{idx}.jpg``;
- ``style``, ``object``: ``ClassLabel`` indices in the taxonomy's orders;
- ``caption``: the canonical caption;
- ``key``, ``idx``, ``split``: ``{Style}/{Object}/{idx}``, the photo index, ``train``/``test``.

Row groups hold at most 100 rows and about 64 MB, so that the Hub's viewer can page through them
(the release's oversized row groups are why its viewer fails) and a writer never holds more than
one row group; data pages hold about 1 MB (or one image), so that a reader streams page by page.
The features (``ClassLabel`` names included) are stored in the schema metadata, so
``load_dataset(DIR, data_dir="parquet")`` returns the same labels as the tars; a Parquet-only
folder declares them as its card's default config, so ``load_dataset(DIR)`` reads them.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import ClassLabel, Features, Image, Value
from tqdm.auto import tqdm

from canvas_data.pack.manifest import (
    MANIFEST,
    UnsafeEntry,
    check_key,
    entry_path,
    manifest_taxonomy,
    shard_file,
)
from canvas_data.pack.sample_keys import KeyOwners
from canvas_data.parquet_read import ValueTooLarge, iter_rows
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import Taxonomy
from canvas_data.workspace import sha256_file

FOLDER = "parquet"
ROW_GROUP_ROWS = 100
ROW_GROUP_BYTES = 64 << 20
WRITE_BATCH = 4  # values between page-size checks (pyarrow's 1024 makes a row group one page)
_SMALL = ["image.path", "style", "object", "caption", "key", "idx", "split"]


def parquet_features(taxonomy: Taxonomy) -> Features:
    """The columns of a Parquet shard, as ``datasets`` reads them."""
    return Features(
        {
            "image": Image(),
            "style": ClassLabel(names=list(taxonomy.styles)),
            "object": ClassLabel(names=list(taxonomy.objects)),
            "caption": Value("string"),
            "key": Value("string"),
            "idx": Value("int32"),
            "split": Value("string"),
        }
    )


class ParquetShardWriter:
    """Writes packed samples to one Parquet file in small row groups; same shape as the tar one."""

    folder = FOLDER
    suffix = ".parquet"

    def __init__(
        self,
        path: Path,
        recipe: Recipe,
        *,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
    ) -> None:
        self.schema = parquet_features(recipe.taxonomy).arrow_schema
        self.row_group_rows, self.row_group_bytes = row_group_rows, row_group_bytes
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self._writer = pq.ParquetWriter(
            str(path),
            self.schema,
            compression={"image.bytes": "NONE", **{c: "ZSTD" for c in _SMALL}},
            use_dictionary=["style", "object", "caption", "split"],
            write_statistics=["style", "object", "key", "idx", "split"],
            write_batch_size=WRITE_BATCH,
        )

    def write(self, record: dict[str, Any], meta: dict[str, Any]) -> None:
        """Add one sample (the WebDataset record and its metadata)."""
        self._rows.append(
            {
                "image": {"bytes": record["jpg"], "path": f"{meta['key']}.jpg"},
                "style": int(record["style.cls"]),
                "object": int(record["object.cls"]),
                "caption": meta["caption"],
                "key": meta["key"],
                "idx": meta["idx"],
                "split": meta["split"],
            }
        )
        self._bytes += len(record["jpg"])
        if len(self._rows) >= self.row_group_rows or self._bytes >= self.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
        self._rows, self._bytes = [], 0

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def abort(self) -> None:
        """Close the file unfinished (after ``close``, nothing to do): its rows are dropped."""
        self._rows = []
        with contextlib.suppress(OSError):  # a full disk may refuse the footer too
            self._writer.close()


def add_parquet_config(meta: dict[str, Any], manifest: dict[str, Any], taxonomy: Taxonomy) -> None:
    """Declare the Parquet shards in a card's YAML header ``meta``.

    A Parquet-only folder gets them as its default config. Beside tars, the tars stay the only
    config: ``datasets`` picks one builder per folder from its first config, so a Parquet config
    next to a WebDataset one would not load; ``load_dataset(DIR, data_dir="parquet")`` reads the
    Parquet files, with the labels from their schema metadata.
    """
    tags = [t for t in meta.get("tags", []) if t != "parquet"] + ["parquet"]
    if manifest.get("shards"):
        meta["tags"] = tags
        return
    files = manifest.get("parquet") or []
    splits = [s for s in manifest["splits"] if any(f["split"] == s for f in files)]
    meta["tags"] = [t for t in tags if t != "webdataset"]
    meta["configs"] = [
        {
            "config_name": "default",
            "default": True,
            "data_files": [{"split": s, "path": f"{FOLDER}/{s}-*.parquet"} for s in splits],
        }
    ]
    meta["dataset_info"] = {
        "features": parquet_features(taxonomy)._to_yaml_list(),
        "splits": [
            {
                "name": s,
                "num_bytes": sum(f["bytes"] for f in files if f["split"] == s),
                "num_examples": sum(f["samples"] for f in files if f["split"] == s),
            }
            for s in splits
        ],
    }


def verify_parquet(out: Path, manifest: dict[str, Any], *, progress: bool = True) -> list[str]:
    """Re-hash the Parquet shards, decode every image, check labels and counts; the problems.

    A key held by two rows (of one file or two, of one split or of train and test) is a problem
    naming both files.
    """
    from canvas_data.images.jpeg import ImageError, check_image

    try:
        tax = manifest_taxonomy(manifest)
    except ValueError as err:
        return [f"{out / MANIFEST}: {err}"]
    problems: list[str] = []
    found: dict[str, Counter[tuple[str, str]]] = {}
    files = manifest.get("parquet") or []
    listed = {entry_path(f) for f in files}
    for extra in sorted((out / FOLDER).glob("*.parquet")):
        if extra.relative_to(out).as_posix() not in listed:
            problems.append(f"{extra}: Parquet shard not in the manifest")
    bar = tqdm(total=sum(f["samples"] for f in files), desc="verify parquet", disable=not progress)
    owners = KeyOwners()
    for entry in files:
        try:
            path = shard_file(out, entry, "parquet")
        except (ValueError, FileNotFoundError) as err:  # unsafe or missing: the entry is named
            problems.append(str(err))
            continue
        if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            problems.append(
                f"{path}: size or sha256 differs from the manifest (corrupt or changed)"
            )
            continue
        rows = 0
        try:
            for row in iter_rows(path):
                rows += 1
                try:
                    item = check_key(row["key"], tax)
                except UnsafeEntry as err:
                    problems.append(f"{path}: row {row['key']!r}: {err}")
                    continue
                repeat = owners.claim(row["key"], path, entry["split"])
                if repeat:
                    problems.append(repeat)
                style, obj = item.style, item.obj
                try:
                    check_image(row["image"]["bytes"], "decode", jpeg_only=False)
                except ImageError as err:
                    problems.append(f"{path}: row {row['key']}: {err}")
                    continue
                labels = (row["style"], row["object"])
                if not (0 <= labels[0] < len(tax.styles) and 0 <= labels[1] < len(tax.objects)):
                    problems.append(
                        f"{path}: row {row['key']}: labels {labels} outside the taxonomy"
                    )
                elif tax.styles[row["style"]] != style or tax.objects[row["object"]] != obj:
                    problems.append(f"{path}: row {row['key']}: labels disagree with its key")
                elif row["split"] != entry["split"]:
                    problems.append(
                        f"{path}: row {row['key']}: split {row['split']!r}"
                        f" in a {entry['split']} shard"
                    )
                else:
                    found.setdefault(entry["split"], Counter())[(style, obj)] += 1
        except ValueTooLarge as err:  # a value over its limit: refused before it is read
            problems.append(str(err))
        bar.update(rows)
        if rows != entry["samples"]:
            problems.append(f"{path}: {rows} rows, the manifest says {entry['samples']}")
    bar.close()
    for split, by_style in manifest["counts"].items():
        for style, by_object in by_style.items():
            for obj, n in by_object.items():
                got = found.get(split, Counter())[(style, obj)]
                if got != n:
                    problems.append(f"parquet {split} {style}/{obj}: {got} rows, expected {n}")
    return problems


def verify_packed(out: Path, *, progress: bool = True):
    """Verify a packed folder in every format it holds: tars (``verify_shards``) and Parquet;
    a workspace (no manifest, a build record or seed photos) against its build record."""
    from canvas_data.pack.manifest import read_manifest
    from canvas_data.pack.verify import VerifyReport, is_workspace, verify_shards, verify_workspace

    out = Path(out)
    if is_workspace(out):
        return verify_workspace(out)
    path = out / MANIFEST
    manifest = read_manifest(path) if path.is_file() else None
    if not manifest or not manifest.get("parquet"):
        return verify_shards(out, progress=progress)
    report = verify_shards(out, progress=progress) if manifest["shards"] else VerifyReport()
    report.shards += len(manifest["parquet"])
    report.samples += 0 if manifest["shards"] else sum(f["samples"] for f in manifest["parquet"])
    report.problems.extend(verify_parquet(out, manifest, progress=progress))
    return report
