"""Which shard holds each sample key of a packed folder: a key is used once in the whole folder.

A key held by two shards would be two images at one release path (``export`` would overwrite
one with the other), and a key held by a train shard and a test shard leaks test images into
training. ``export`` and ``verify`` both claim every key they read through :class:`KeyOwners`.
"""

from __future__ import annotations

from pathlib import Path


class KeyOwners:
    """The first shard (and its split) that held each sample key read so far."""

    def __init__(self) -> None:
        self._owners: dict[str, tuple[Path, str | None]] = {}

    def claim(self, key: str, shard: Path, split: str | None = None) -> str | None:
        """Record that ``shard`` (of ``split``) holds ``key``.

        Returns ``None``, or, when a shard already held ``key``, the one-line problem naming
        ``shard``, the key and the first shard (and both splits when they differ).
        """
        first = self._owners.get(key)
        if first is None:
            self._owners[key] = (Path(shard), split)
            return None
        first_shard, first_split = first
        if first_shard == Path(shard):
            return f"{shard}: sample {key!r} is twice in this shard"
        leak = ""
        if split is not None and first_split is not None and split != first_split:
            leak = f" (both the {first_split} and the {split} split hold it)"
        return f"{shard}: sample {key!r} is also in {first_shard}{leak}"
