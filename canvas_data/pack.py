"""Pack a workspace into a dataset folder: the shards, then the dataset card.

``canvas_data.shards`` writes the shards, ``manifest.json`` and ``recipe.yaml`` and knows nothing
of the card; ``canvas_data.card`` reads the packed folder back. This module runs one after the
other, as ``canvas-build shards`` and the demo do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from canvas_data.card import write_card
from canvas_data.recipe import Recipe
from canvas_data.shards import PackReport, pack_shards


def finish_with_card(
    out: Path, manifest: dict[str, Any], recipe: Recipe, written: dict[str, list]
) -> None:
    """The ``finish`` hook of :func:`pack_shards` that writes ``README.md``, ``samples.csv``,
    ``preview.jpg`` and ``croissant.json`` (see :func:`canvas_data.card.write_card`)."""
    write_card(out, manifest, recipe, written=written)


def pack_dataset(work: Path, out: Path, **options: Any) -> PackReport:
    """Pack ``work`` into ``out``: shards, manifest, recipe and dataset card. Resumes per shard.

    ``options`` are those of :func:`canvas_data.shards.pack_shards` (``recipe``, ``max_samples``,
    ``max_bytes``, ``styles``, ``resolution``, ``formats``, ``check``, ``progress``); its errors.
    """
    return pack_shards(work, out, finish=finish_with_card, **options)
