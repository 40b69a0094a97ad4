"""Stylizers by name: the built-in backends, and any a plugin adds with ``register``."""

from __future__ import annotations

from typing import Any

from canvas_data.recipe import Recipe
from canvas_data.stylizers.base import Stylizer

REGISTRY: dict[str, type[Stylizer]] = {}


def register(cls: type[Stylizer]) -> type[Stylizer]:
    """Class decorator adding a stylizer (a :class:`Stylizer` subclass from a plugin) to the
    registry under its ``name``. The built-in backends are added on first lookup."""
    REGISTRY[cls.name] = cls
    return cls


def stylizer_class(name: str) -> type[Stylizer]:
    """The stylizer class registered as ``name``."""
    _load_builtins()
    if name not in REGISTRY:
        raise ValueError(f"unknown stylizer backend {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def get_stylizer(name: str, recipe: Recipe, **options: Any) -> Stylizer:
    """Instantiate the stylizer registered as ``name``."""
    return stylizer_class(name)(recipe, **options)


def _load_builtins() -> None:
    """Add the built-in backends (imported here, on first use: ``diffusers`` is heavy)."""
    from canvas_data.stylizers.adain_backend import AdaINStylizer
    from canvas_data.stylizers.diffusers_backend import DiffusersStylizer
    from canvas_data.stylizers.procedural import ProceduralStylizer

    for cls in (ProceduralStylizer, DiffusersStylizer, AdaINStylizer):
        REGISTRY.setdefault(cls.name, cls)
