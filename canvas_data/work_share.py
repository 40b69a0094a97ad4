"""Splitting long jobs across processes: a deterministic 1/K share of the work per rank."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def shard_of_work(items: Iterable[T], num_shards: int, shard_index: int) -> list[T]:
    """A deterministic 1/K share of ``items``: every item lands in exactly one of K shares."""
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard index {shard_index} is not in 0..{num_shards - 1}")
    return [it for n, it in enumerate(sorted(items)) if n % num_shards == shard_index]


def share_from_env(num_shards: int | None, shard_index: int | None) -> tuple[int, int]:
    """``(K, i)`` as given, else from ``WORLD_SIZE``/``RANK``, or (1, 0)."""
    k = num_shards or int(os.environ.get("WORLD_SIZE", 1))
    i = shard_index if shard_index is not None else int(os.environ.get("RANK", 0))
    return k, i
