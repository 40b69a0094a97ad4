"""The interface every stylizer shares: paint one photo in one style, deterministically."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from PIL import Image

from canvas_data.recipe import Recipe, StyleSpec


class Stylizer(ABC):
    """Base class: ``stylize`` one RGB photo in one style, deterministically for a given seed.

    A stylizer that sets ``batched`` runs in the driver's own process (it holds a model) and is
    given up to ``max_batch`` items of one style at a time through ``stylize_batch``.
    """

    name: ClassVar[str]
    batched: ClassVar[bool] = False
    max_batch: int = 1

    def __init__(self, recipe: Recipe, **options: Any) -> None:
        self.recipe = recipe
        self.options = {**recipe.stylizer_options(self.name), **options}

    @abstractmethod
    def stylize(self, photo: Image.Image, style: StyleSpec, seed: int) -> Image.Image:
        """Return ``photo`` painted in ``style``, the same size, RGB."""

    def stylize_batch(
        self, photos: list[Image.Image], style: StyleSpec, seeds: list[int]
    ) -> list[Image.Image | Exception]:
        """Paint ``photos[i]`` with ``seeds[i]``; an item that failed is its exception."""
        return [self.stylize(photo, style, seed) for photo, seed in zip(photos, seeds, strict=True)]

    def check_styles(self, styles: Sequence[str]) -> None:
        """Raise, before any item is painted, when one of ``styles`` cannot be painted (a
        style's reference images missing, say). Nothing to check by default."""
        return None

    def describe_item(self, style: StyleSpec, seed: int) -> dict[str, Any]:
        """What a provenance sidecar records about one item beyond ``describe`` (nothing by
        default; the ``adain`` backend names the reference the item was painted from)."""
        return {}

    def describe(self, style: StyleSpec) -> dict[str, Any]:
        """What a provenance sidecar records about how ``style`` was made by this stylizer."""
        return {"backend": self.name, "options": self.options}
