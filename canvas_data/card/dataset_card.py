"""The dataset card: ``README.md`` whose YAML makes ``load_dataset(DIR)`` return labelled splits,
and whose text says what the data is for, what it holds, how it was built and how to load it.

``write_card`` runs at the end of ``canvas-build shards``. It reads the packed shards back (an
index of every sample, see ``canvas_data.pack.packed``) and writes, beside the shards,
``samples.csv``, the contact sheet ``preview.jpg``, ``croissant.json`` and ``README.md``, all from
that one reading. The YAML header comes from ``card_metadata``, the text from ``card_fields``.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml
from tqdm.auto import tqdm

from canvas_data.atomic import write_text
from canvas_data.card.fields import card_fields
from canvas_data.card.metadata import card_metadata
from canvas_data.pack.manifest import MANIFEST
from canvas_data.pack.packed import SAMPLES_CSV, PackedIndex, read_index, write_samples_csv
from canvas_data.recipe import Recipe

TEMPLATE = "unlearncanvas.md"
README = "README.md"


def render_card(
    manifest: dict[str, Any],
    recipe: Recipe,
    index: PackedIndex,
    load_path: str = ".",
    preview: tuple[list[str], list[str]] | None = None,
) -> str:
    """The whole card: YAML header and the filled template. ``preview`` is the (styles, objects)
    the contact sheet shows."""
    header = yaml.safe_dump(card_metadata(manifest, recipe), sort_keys=False, allow_unicode=True)
    template = Template(resources.files("canvas_data.cards").joinpath(TEMPLATE).read_text())
    body = template.substitute(card_fields(manifest, recipe, index, load_path, preview))
    return f"---\n{header}---\n\n{body}"


def write_card(
    out: Path,
    manifest: dict[str, Any],
    recipe: Recipe,
    index: PackedIndex | None = None,
    *,
    written: dict | None = None,
) -> Path:
    """Write ``out/README.md`` with ``samples.csv``, ``preview.jpg`` and ``croissant.json``.

    ``index``: the shards' index when the caller has read it; else it is read here, taking
    ``written`` (the sample index of tars just written, see ``read_index``) instead of reading
    those tars again.
    """
    from canvas_data.card.croissant import write_croissant
    from canvas_data.card.preview import PREVIEW, write_preview

    out = Path(out)
    index = index if index is not None else read_index(out, manifest, written=written)
    for problem in index.problems:
        tqdm.write(f"warning: {problem}", file=sys.stderr)
    sheet = None
    if index.rows:
        write_samples_csv(out, index)
        sheet = write_preview(out, index=index)
    else:  # no tars (a Parquet-only copy): nothing to index or draw, and nothing stale left
        (out / SAMPLES_CSV).unlink(missing_ok=True)
        (out / PREVIEW).unlink(missing_ok=True)
    write_croissant(out, manifest, recipe, index)
    shown = (sheet.styles, sheet.objects) if sheet else None
    path = out / README
    write_text(path, render_card(manifest, recipe, index, out.name, shown))
    return path


def rewrite_card(out: Path, recipe: str | Path | None = None) -> Path:
    """Write the card, preview, Croissant file and sample index of a packed folder again, from
    its ``manifest.json`` and its ``recipe.yaml`` (or ``recipe``): after editing a description."""
    from canvas_data.errors import InputError
    from canvas_data.pack.manifest import read_manifest
    from canvas_data.recipe import load_recipe

    out = Path(out)
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: missing, {out} is not a packed folder")
    kept = out / "recipe.yaml"
    if recipe is None and not kept.is_file():
        raise FileNotFoundError(f"{kept}: missing; name the recipe with --recipe")
    resolved = load_recipe(recipe if recipe is not None else kept)
    manifest = read_manifest(manifest_path)
    index = read_index(out, manifest)
    if index.problems:  # a card over part of the data would misstate it: leave the old one
        more = f" (and {len(index.problems) - 1} more)" if len(index.problems) > 1 else ""
        raise InputError(f"{index.problems[0]}{more}; card not written")
    return write_card(out, manifest, resolved, index)
