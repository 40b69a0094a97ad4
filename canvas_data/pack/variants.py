"""Pack-time variants of a recipe: another style head (50 or 60 styles), another image size.

A variant is a recipe too: the packed folder keeps it as ``recipe.yaml``, its card and manifest
show its taxonomy, and a rerun or a repack of an export builds the same thing. What was asked is
recorded under the recipe's ``pack`` key.

- ``styles="50"``: the benchmark's 50-style subset with the release's 51-way class order
  (``Seed_Images`` at 38); style indices are those of that head.
- ``styles="60"``: the full 61-way head (``Seed_Images`` at 47).
- ``styles=[...]``: only these styles, in the recipe's own class order.
- ``resolution=N``: images are re-encoded at N x N (centre square crop, LANCZOS), except those
  already at that size, which pass through unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from canvas_data.recipe import Recipe
from canvas_data.suggest import unknown_names
from canvas_data.taxonomy import STYLES_50, STYLES_60

HEADS = {"50": ("release-51", STYLES_50), "60": ("release-61", STYLES_60)}


def variant_recipe(
    recipe: Recipe,
    *,
    styles: str | Sequence[str] | None = None,
    resolution: int | None = None,
) -> Recipe:
    """The recipe to pack with: ``recipe`` with another style head, style subset or image size."""
    if styles is None and resolution is None:
        return recipe
    data = copy.deepcopy(recipe.data)
    pack = dict(data.get("pack") or {})
    pack.setdefault("base", recipe.name)
    if isinstance(styles, str) and styles in HEADS:
        order, head = HEADS[styles]
        _section(data, "taxonomy")["styles"] = order
        _section(data, "build")["styles"] = [s for s in recipe.styles if s in head]
        pack["styles"] = styles
    elif styles is not None:
        names = [styles] if isinstance(styles, str) else list(styles)
        unknown = [s for s in names if s not in recipe.taxonomy.painted_styles]
        if unknown:
            heads = " or ".join(HEADS)
            valid = recipe.taxonomy.painted_styles
            raise ValueError(f"{unknown_names('style', unknown, valid)} (or {heads})")
        _section(data, "build")["styles"] = [
            s for s in recipe.taxonomy.painted_styles if s in set(names)
        ]
        pack["styles"] = sorted(set(names))
    if resolution is not None:
        if resolution < 8:
            raise ValueError(f"resolution {resolution} is too small (8 px at least)")
        _section(data, "build")["resolution"] = int(resolution)
        pack["resolution"] = int(resolution)
    data["pack"] = pack
    data["name"] = _variant_name(pack)
    return Recipe(name=data["name"], data=data, source=recipe.source)


def _section(data: dict, key: str) -> dict:
    """``data[key]``, made a mapping of its own when the recipe leaves it out or empty."""
    data[key] = dict(data.get(key) or {})
    return data[key]


def _variant_name(pack: dict) -> str:
    """``unlearncanvas-50styles-512px``: the base recipe's name and what the variant changes."""
    parts = [pack["base"]]
    styles = pack.get("styles")
    if styles is not None:
        parts.append(f"{styles if isinstance(styles, str) else len(styles)}styles")
    if pack.get("resolution"):
        parts.append(f"{pack['resolution']}px")
    return "-".join(parts)


def pack_resolution(recipe: Recipe) -> int | None:
    """The size images are re-encoded to when packing with ``recipe``, or None to keep bytes."""
    return recipe.spec.pack.resolution if recipe.spec.pack is not None else None
