"""Stylizers paint a seed photo in a style. They share one interface and are chosen by name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from PIL import Image

from canvas_data.recipe import Recipe, StyleSpec

REGISTRY: dict[str, type[Stylizer]] = {}


class Stylizer(ABC):
    """Base class: ``stylize`` one RGB photo in one style, deterministically for a given seed."""

    name: ClassVar[str]

    def __init__(self, recipe: Recipe, **options: Any) -> None:
        self.recipe = recipe
        self.options = {**recipe.stylizer_options(self.name), **options}

    @abstractmethod
    def stylize(self, photo: Image.Image, style: StyleSpec, seed: int) -> Image.Image:
        """Return ``photo`` painted in ``style``, the same size, RGB."""

    def describe(self, style: StyleSpec) -> dict[str, Any]:
        """What a provenance sidecar records about how ``style`` was made by this stylizer."""
        return {"backend": self.name, "options": self.options}


def register(cls: type[Stylizer]) -> type[Stylizer]:
    """Class decorator adding a stylizer to the registry under its ``name``."""
    REGISTRY[cls.name] = cls
    return cls


def get_stylizer(name: str, recipe: Recipe, **options: Any) -> Stylizer:
    """Instantiate the stylizer registered as ``name``."""
    _load_builtins()
    if name not in REGISTRY:
        raise ValueError(f"unknown stylizer backend {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](recipe, **options)


def _load_builtins() -> None:
    from canvas_data.stylizers import procedural  # noqa: F401
