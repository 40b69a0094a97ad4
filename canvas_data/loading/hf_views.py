"""Task views over a ``datasets.Dataset`` from ``load_dataset``, applied with ``with_transform``.

``hf_view(ds, task, ...)`` keeps the rows the view uses (``Dataset.select``, no copy), stops
``datasets`` from decoding the ``jpg`` column itself (so the fast decode of
``canvas_data.images.decode`` does it, once) and sets a transform that turns each row into the
task's example. Partners (seed photos, style references) are read from the same split by key.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Dataset
from datasets import Image as HFImage

from canvas_data.loading.examples import Seeded, build_example
from canvas_data.loading.tasks import Pool, Selection, StyleTransfer, Task, example_rng, parse_key
from canvas_data.loading.transforms import ImageTransform
from canvas_data.pack.shard_index import MissingSample
from canvas_data.taxonomy import RELEASE, Taxonomy

NEEDED = ("__key__", "jpg")


def _image_bytes(cell: dict[str, Any], key: str) -> bytes:
    if cell.get("bytes"):
        return cell["bytes"]
    if cell.get("path"):
        return Path(cell["path"]).read_bytes()
    raise ValueError(f"{key}: the jpg column holds neither bytes nor a path")


class KeyStore:
    """Image bytes by sample key, from a split whose ``jpg`` column is not decoded."""

    def __init__(self, ds: Dataset, keys: list[str]):
        self.ds = ds.select_columns(list(NEEDED))
        self.row = {key: i for i, key in enumerate(keys)}

    def read(self, key: str) -> bytes:
        if key not in self.row:
            raise MissingSample(f"no sample {key!r} in this split")
        return _image_bytes(self.ds[self.row[key]]["jpg"], key)


class RowTransform(Seeded):
    """The ``with_transform`` function: a batch of rows in, a batch of examples out."""

    def __init__(
        self,
        task: Task,
        split: str,
        store: KeyStore | None,
        pool: Pool | None,
        transform: ImageTransform,
        seed: int | None,
    ):
        self.task, self.split, self.store, self.pool = task, split, store, pool
        self.transform, self.seed = transform, seed

    def _read(self, key: str) -> bytes:
        if self.store is None:
            raise KeyError(f"{key}: this view reads no partner images")
        return self.store.read(key)

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        self._seed_transform()
        examples = []
        for key, cell in zip(batch["__key__"], batch["jpg"], strict=True):
            item = parse_key(key)
            rng = example_rng(self.seed, self.epoch, key)
            job = self.task.jobs(item, self.split, self.pool, rng)[0]
            primary = _image_bytes(cell, key)
            examples.append(
                build_example(self.task, item, job, self._read, self.transform, primary)
            )
        return {name: [e[name] for e in examples] for name in examples[0]} if examples else {}


def dataset_taxonomy(ds: Dataset) -> Taxonomy:
    """The class orders declared by the dataset card (``style.cls``/``object.cls`` ClassLabels)."""
    styles, objects = ds.features.get("style.cls"), ds.features.get("object.cls")
    if isinstance(styles, ClassLabel) and isinstance(objects, ClassLabel):
        return Taxonomy(tuple(styles.names), tuple(objects.names))
    return RELEASE


def hf_view(
    ds: Dataset,
    task: Task,
    selection: Selection,
    transform: ImageTransform,
    *,
    split: str | None = None,
    seed: int | None = 0,
) -> Dataset:
    """``ds`` (one split) restricted to the view's rows, with the task as its transform."""
    missing = [c for c in NEEDED if c not in ds.column_names]
    if missing:
        raise ValueError(f"dataset has no {missing} column: load a folder written by canvas-build")
    held = str(ds.split) if ds.split is not None else None
    if split and held and split != held:
        raise ValueError(f"split={split!r}, but this dataset holds the {held!r} split")
    name = held or split or "train"
    if isinstance(task, StyleTransfer):
        if task.reference_split not in (None, name):
            raise ValueError("a datasets.Dataset holds one split: references come from it")
        if task.all_references:
            raise ValueError("all_references makes several examples per row: use the folder")
    selection = replace(selection, split=name)
    selection.check(dataset_taxonomy(ds), [name])
    keys = list(ds["__key__"])
    items = [parse_key(key) for key in keys]
    selection.check_held({i.style for i in items}, {i.obj for i in items}, "dataset")
    pool = Pool({name: keys}) if task.needs_partners else None

    def usable(key: str) -> bool:
        item = parse_key(key)
        if not (selection.keeps(item) and task.accepts(item)):
            return False
        rng = example_rng(seed, 0, key)
        return not task.needs_partners or bool(task.jobs(item, name, pool, rng))

    rows = [i for i, key in enumerate(keys) if usable(key)]
    if selection.idx is not None and not rows:
        raise ValueError(f"no {name} rows of {task.name} with idx in {list(selection.idx)}")
    raw = ds.cast_column("jpg", HFImage(decode=False))
    store = KeyStore(raw, keys) if task.needs_partners else None
    view = raw.select(rows)
    return view.with_transform(RowTransform(task, name, store, pool, transform, seed))
