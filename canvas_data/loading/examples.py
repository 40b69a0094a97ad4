"""Making one example: fetch its images, decode each once, transform, add labels; and seeding.

Shared by the loaders over shards (``canvas_data.loading.loaders``) and over a ``datasets.Dataset``
(``canvas_data.loading.hf_views``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from webdataset.utils import pytorch_worker_info

from canvas_data.images.decode import decode_image
from canvas_data.loading.cache import DecodeCache
from canvas_data.loading.tasks import Job, Task
from canvas_data.loading.transforms import ImageTransform, worker_seed
from canvas_data.workspace import Item


def build_example(
    task: Task,
    item: Item,
    job: Job,
    read: Callable[[str], bytes],
    transform: ImageTransform,
    primary: bytes | None = None,
    cache: DecodeCache | None = None,
) -> dict[str, Any]:
    """The example ``job`` of ``item``: images by role, transformed, plus the task's fields.

    ``read(key)`` fetches a partner's bytes; ``primary``, when given, are the sample's own bytes
    (already in hand when streaming). ``cache``: decoded images kept from earlier epochs; its
    decode size must be the transform's.
    """

    def image(role: str) -> np.ndarray:
        key = job[role]

        def fetch() -> bytes:
            return primary if primary is not None and key == item.key else read(key)

        if cache is not None:
            return cache.decode(key, fetch)
        return decode_image(fetch(), min_size=transform.decode_size, name=key)

    out = transform.apply({role: image(role) for role in task.joint})
    for role in task.separate:
        out.update(transform.apply({role: image(role)}))
    out.update(task.fields(item, job))
    return out


class Seeded:
    """Seeds the transform's random choices once per (process, epoch) from (seed, epoch, rank,
    worker), so DataLoader workers and ranks do not repeat each other's crops and flips."""

    transform: ImageTransform
    seed: int | None
    epoch: int = 0
    _seeded_for: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch``: new shard order, shuffle, augmentations and style references."""
        self.epoch = int(epoch)

    def _seed_transform(self) -> tuple[int, int, int, int]:
        """Reseed if this process or epoch is new; returns (rank, world, worker, workers)."""
        info = pytorch_worker_info()
        if self._seeded_for != (os.getpid(), self.epoch):
            rank, _, worker, _ = info
            self.transform.reseed(worker_seed(self.seed, self.epoch, rank, worker))
            self._seeded_for = (os.getpid(), self.epoch)
        return info
