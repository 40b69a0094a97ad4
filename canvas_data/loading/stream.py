"""The streaming view over a packed dataset folder: webdataset over the split's tars, with a
shuffle buffer, shard shuffling, splitting by node and by worker, and resampling for multi-GPU
epochs, each seeded per (seed, epoch, rank, worker)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import webdataset as wds
from torch.utils.data import IterableDataset

from canvas_data.errors import one_line
from canvas_data.loading.cache import DecodeCache
from canvas_data.loading.examples import Seeded, build_example
from canvas_data.loading.tasks import Pool, Selection, Task, example_rng, parse_key
from canvas_data.loading.transforms import ImageTransform, worker_seed
from canvas_data.pack.shard_index import (
    MissingSample,
    ShardIndex,
    load_manifest,
    manifest_taxonomy,
    split_shards,
)
from canvas_data.pack.tar_samples import IMAGE_EXT, tar_samples
from canvas_data.workspace import Item


class CanvasStream(Seeded, IterableDataset):
    """Streaming view: webdataset over the split's tars, each DataLoader worker and each rank
    reading its own shards (``split_by_node``, ``split_by_worker``). Each tar is opened as a file
    inside the folder and read with ``tarfile`` (``canvas_data.pack.tar_samples``); a shard entry or
    tar member outside the layout raises ``ValueError`` naming it.

    ``shuffle``: the sample shuffle buffer (0: shards and samples in order); shards are shuffled
    too, the same way on every rank, so each epoch splits them differently but exactly.
    ``resampled``: draw shards at random with replacement, endlessly, and cut each worker's
    stream at ``epoch_size / (ranks x workers)`` samples (default: the selection's size), so all
    ranks see equal epochs; use it for DDP training. Without it, one epoch reads every selected
    sample exactly once across all ranks and workers, which needs at least ranks x workers shards.
    Partners (seed photos, style references) are read by random access through a ``ShardIndex``.
    """

    def __init__(
        self,
        root: Path,
        task: Task,
        selection: Selection,
        transform: ImageTransform,
        *,
        shuffle: int = 0,
        resampled: bool = False,
        epoch_size: int | None = None,
        seed: int | None = 0,
        index: ShardIndex | None = None,
        cache: DecodeCache | None = None,
    ):
        self.root, self.task, self.selection = Path(root), task, selection
        self.transform, self.seed, self.cache = transform, seed, cache
        self.shuffle, self.resampled = int(shuffle), resampled
        manifest = load_manifest(self.root)
        self.taxonomy = manifest_taxonomy(manifest)
        counts = (manifest.get("counts") or {}).get(selection.split) or {}
        selection.check_held(
            [s for s, cells in counts.items() if any(cells.values())],
            {o for cells in counts.values() for o, n in cells.items() if n},
            str(self.root),
        )
        self.index = index
        self.pool = Pool(index.split_keys) if index is not None else None
        shards = split_shards(self.root, manifest, selection.split)
        wanted = [(e, self._selected(e)) for e in shards]
        if index is not None:  # exact: the shards that hold a selected sample
            held = {index.shard_of(k) for k in index.split_keys[selection.split] if self._has(k)}
            wanted = [(e, n) for e, n in wanted if e["file"] in held]
        self.urls = [e["file"] for e, n in wanted if n]
        self.expected = {e["file"]: e["samples"] for e, _ in wanted}
        if self.pool is not None:
            self.num_samples = self._count_jobs()
        else:
            self.num_samples = sum(n for _, n in wanted)
        self.epoch_size = int(epoch_size or self.num_samples)
        if not self.urls:
            raise ValueError(
                f"{self.root}: no samples of the {selection.split} split match {task.name}"
            )

    def _selected(self, entry: dict[str, Any]) -> int:
        """How many of a shard's samples the view may use (from the manifest's cell counts)."""
        total = 0
        for cell, n in entry.get("counts", {}).items():
            style, obj = cell.split("/")
            if self.selection.keeps_cell(style, obj) and self.task.accepts(Item(style, obj, 0)):
                total += n
        return total

    def _has(self, key: str) -> bool:
        item = parse_key(key)
        return self.selection.keeps(item) and self.task.accepts(item)

    def _count_jobs(self) -> int:
        split = self.selection.split
        total = 0
        for key in self.index.split_keys[split]:
            item = parse_key(key)
            if self.selection.keeps(item) and self.task.accepts(item):
                total += len(self.task.jobs(item, split, self.pool, example_rng(self.seed, 0, key)))
        return total

    def _keep(self, sample: dict[str, Any]) -> bool:
        return self._has(sample["__key__"])

    def _examples(self, samples: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        split = self.selection.split
        read = self.index.read if self.index is not None else _no_partners
        for sample in samples:
            key, url = sample["__key__"], sample.get("__url__", self.root)
            if "jpg" not in sample:
                raise ValueError(f"{url}: sample {key!r} has no jpg member")
            item = parse_key(key)
            rng = example_rng(self.seed, self.epoch, key)
            for job in self.task.jobs(item, split, self.pool, rng):
                try:
                    example = build_example(
                        self.task, item, job, read, self.transform, sample["jpg"], self.cache
                    )
                except (ValueError, MissingSample) as err:  # the data's fault, not a bug
                    raise ValueError(f"{url}: {one_line(err)}") from err
                yield example

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world, worker, workers = self._seed_transform()
        readers = world * workers
        if not self.resampled and len(self.urls) < readers:
            raise ValueError(
                f"{self.root}: {len(self.urls)} {self.selection.split} shards for {world} ranks x "
                f"{workers} workers; use fewer workers, smaller shards, or resampled=True"
            )
        urls = list(self.urls)
        if self.shuffle:
            random.Random(f"{self.seed}/{self.epoch}").shuffle(urls)  # same order on every rank
        # shard files are opened here as files (tar_samples), never as webdataset URLs
        stages = [
            _shard_list(urls, self.resampled, worker_seed(self.seed, self.epoch, rank, worker, 2)),
            wds.split_by_node,
            wds.split_by_worker,
        ]
        if self.shuffle:
            seed = worker_seed(self.seed, self.epoch, rank, worker)
            stages.append(wds.shuffle(len(urls), seed=seed))
        stages.append(
            partial(tar_samples, taxonomy=self.taxonomy, select=_is_image, expected=self.expected)
        )
        stages.append(wds.select(self._keep))
        if self.shuffle:
            seed = worker_seed(self.seed, self.epoch, rank, worker, 1)
            stages.append(wds.shuffle(self.shuffle, seed=seed))
        examples = self._examples(wds.DataPipeline(*stages))
        if self.resampled:
            examples = islice(examples, math.ceil(self.epoch_size / readers))
        yield from examples


def _shard_list(urls: list[str], resampled: bool, seed: int) -> Any:
    """The shard source of a stream: the list once, or draws with replacement seeded by ``seed``
    (webdataset's own resampling mixes in the time and process id, so no two runs agree)."""
    if not resampled:
        return wds.SimpleShardList(urls)
    return wds.ResampledShards(urls, seed=seed, worker_seed=lambda: 0, deterministic=True)


def _is_image(ext: str) -> bool:
    return ext == IMAGE_EXT


def _no_partners(key: str) -> bytes:
    raise KeyError(f"{key}: this view reads no partner images")
