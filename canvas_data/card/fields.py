"""The text of the dataset card: the value of every field of its template (``canvas_data.cards``),
from the manifest, the recipe and the index of the packed samples: what the data holds, how it
was split and built, how to load it, its licence and responsible-AI notes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from canvas_data.card.datasheet import (
    CITATION,
    PAPER_URL,
    RAI_FIELDS,
    RELEASE_URL,
    dataset_licence,
    dataset_title,
    licence_text,
    photo_source,
    responsible_ai,
    seed_photos,
)
from canvas_data.card.loading import (
    column_names,
    croissant_block,
    first_style,
    glob_note,
    parquet_block,
    tools_block,
    training_block,
    webdataset_block,
)
from canvas_data.card.provenance import (
    model_summary,
    painted_with,
    photo_credits,
    photo_licences,
    prompt_header,
    prompt_rows,
    recipe_note,
    recipe_source,
    settings_summary,
)
from canvas_data.card.tables import (
    balance,
    cell_counts,
    file_rows,
    object_rows,
    split_counts,
    split_rows,
    style_header,
    style_order_note,
    style_rows,
)
from canvas_data.escape import markdown_text
from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.pack.packed import PackedIndex
from canvas_data.pack.variants import pack_resolution
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE, caption


def card_fields(
    manifest: dict[str, Any],
    recipe: Recipe,
    index: PackedIndex,
    load_path: str,
    preview: tuple[list[str], list[str]] | None,
) -> dict[str, Any]:
    """Every ``$name`` of the card template, by name: the card's text for this packed folder.
    ``preview`` is the (styles, objects) the contact sheet shows, None without one."""
    tax = recipe.taxonomy
    counts = cell_counts(manifest)
    total = sum(manifest["splits"].values())
    objects = recipe.objects
    example_style = next(
        (s for s in ("Van_Gogh", *recipe.styles) if s in recipe.styles), SEED_STYLE
    )
    example_object = objects[0] if objects else tax.objects[0]
    return {
        "title": markdown_text(dataset_title(recipe)),
        "description": markdown_text(recipe.spec.description or ""),
        "paper_url": PAPER_URL,
        "release_url": RELEASE_URL,
        "preview_block": _preview_block(preview, recipe),
        **column_names(manifest),
        "first_style": first_style(index, manifest),
        "loaders": "\n".join(
            block.rstrip("\n") + "\n"
            for block in (
                glob_note(),
                webdataset_block(manifest, load_path),
                parquet_block(manifest, load_path),
                training_block(manifest, load_path),
                tools_block(manifest, load_path, example_style, example_object),
                croissant_block(manifest, load_path),
            )
            if block
        ).rstrip("\n"),
        "total_images": f"{total:,}",
        "split_summary": ", ".join(f"{n:,} {s}" for s, n in split_counts(manifest).items()),
        "n_styles": len(recipe.styles),
        "n_style_classes": len(tax.styles),
        "n_objects": len(objects),
        "n_object_classes": len(tax.objects),
        "photo_summary": _photo_summary(manifest),
        "image_size": _image_size(index, recipe),
        "image_bytes": _image_bytes(index),
        "disk_summary": _disk_summary(manifest),
        "backends": _backends(manifest),
        "licence": _licence_summary(recipe),
        "load_path": load_path,
        "example_style": example_style,
        "example_object": example_object,
        "split_rows": split_rows(manifest),
        "split_rule": split_rule(manifest),
        "split_rule_short": split_rule(manifest, short=True),
        "split_caveat": (
            " Here, though, several photos of an object are crops of one picture (see "
            "[Seed photos](#seed-photos)), so train and test can show the same scene."
            if recipe.spec.photos.source == "bundled"
            else ""
        ),
        "balance": balance(counts, recipe, manifest),
        "jpg_note": _jpg_note(recipe),
        "file_rows": file_rows(manifest),
        "caption_example": caption(example_style, example_object),
        "seed_caption_example": caption(SEED_STYLE, example_object),
        "style_order_note": style_order_note(tax),
        "style_header": style_header(tax),
        "style_rows": style_rows(tax, counts),
        "object_rows": object_rows(tax, counts, manifest),
        "recipe_name": recipe.name,
        "recipe_source": recipe_source(recipe),
        "recipe_sha": recipe.sha256[:16],
        "toolkit_version": manifest_spec(manifest).toolkit_version,
        "painted_with": painted_with(index, manifest),
        "models": model_summary(index, manifest),
        "settings": settings_summary(index),
        "recipe_seed": recipe.seed,
        "resolution": recipe.resolution,
        "jpeg_quality": recipe.jpeg_quality,
        "photos_per_object": recipe.photos_per_object,
        "min_photo_side": recipe.min_photo_side,
        "max_samples": recipe.spec.shards.max_samples,
        "max_mb": f"{recipe.spec.shards.max_bytes / 1e6:,.0f}",
        "recipe_note": recipe_note(index, recipe),
        "prompt_header": prompt_header(manifest),
        "prompt_rows": prompt_rows(recipe, manifest),
        "photo_source": photo_source(recipe),
        "photo_licence": licence_text(recipe),
        "photo_credits": photo_credits(recipe, index),
        "photo_licences": photo_licences(index, recipe),
        "this_content": (
            f"{len(recipe.styles)} styles x {len(objects)} objects x up to "
            f"{recipe.photos_per_object} photos, {recipe.resolution} px: {total:,} images with "
            "the photos"
        ),
        "this_stylizer": _backends(manifest) + "; recipe, seeds and provenance kept",
        "rai_rows": _rai_rows(responsible_ai(recipe, manifest, index)),
        "citation": CITATION,
    }


def _preview_block(preview: tuple[list[str], list[str]] | None, recipe: Recipe) -> str:
    if not preview:
        return "*No preview: this copy has no WebDataset shards to draw one from.*\n"
    styles, objects = preview
    painted = [s for s in styles if s != SEED_STYLE]
    return (
        "![Contact sheet: one photo per object (top row) and its paintings](preview.jpg)\n\n"
        f"<sub>Top row: one seed photo of each of {len(objects)} objects; below it, the same "
        f"photo painted in {len(painted)} of the {len(recipe.styles)} styles "
        f"({', '.join(painted)}). Make other sheets with `canvas-build preview`.</sub>\n"
    )


def _photo_summary(manifest: dict[str, Any]) -> str:
    per_object = seed_photos(manifest)
    if not per_object:
        return "no seed photos in this copy"
    low, high = min(per_object.values()), max(per_object.values())
    each = f"{low}" if low == high else f"{low} to {high}"
    return f"{sum(per_object.values()):,} seed photos, {each} per object"


def _image_size(index: PackedIndex, recipe: Recipe) -> str:
    sizes = Counter((r.width, r.height) for r in index.rows)
    if not sizes:
        return f"{recipe.resolution} x {recipe.resolution} px JPEG (the recipe's size)"
    if len(sizes) == 1:
        (w, h), _ = sizes.most_common(1)[0]
        return f"{w} x {h} px JPEG"
    common = ", ".join(f"{w} x {h} px ({n:,})" for (w, h), n in sizes.most_common(3))
    return f"JPEG in {len(sizes)} sizes, most common {common}"


def _image_bytes(index: PackedIndex) -> str:
    sizes = sorted(r.bytes for r in index.rows)
    if not sizes:
        return "sizes not indexed (no tars)"
    mean = sum(sizes) / len(sizes)
    return (
        f"{mean / 1e3:,.1f} KB per image on average ({sizes[0] / 1e3:,.1f} to "
        f"{sizes[-1] / 1e3:,.1f} KB), {sum(sizes) / 1e6:,.1f} MB of image bytes in all"
    )


def _disk_summary(manifest: dict[str, Any]) -> str:
    parts = []
    spec = manifest_spec(manifest)
    for files, kind in ((spec.shards, "tar"), (spec.parquet, "Parquet")):
        if files:
            mb = sum(f.bytes or 0 for f in files) / 1e6
            parts.append(
                f"{mb:,.1f} MB in {len(files)} {kind} file{'s' if len(files) != 1 else ''}"
            )
    return " + ".join(parts) or "nothing"


def _backends(manifest: dict[str, Any]) -> str:
    used = manifest_spec(manifest).backends
    if not used:
        return "none (photos only)"
    ranked = sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"`{b}` ({n:,} paintings)" for b, n in ranked)


def _licence_summary(recipe: Recipe) -> str:
    if recipe.spec.license:
        return dataset_licence(recipe)
    return (
        "none of its own: each image follows the licence of its seed photo "
        "([Seed photos](#seed-photos))"
    )


def split_rule(manifest: dict[str, Any], *, short: bool = False) -> str:
    """The split as made, from the manifest's counts of seed photos per object and split (of
    the first style packed when no seed photo is): the same rule for every object, or each
    object's test and total photos where they differ (an object short of photos)."""
    counts = manifest.get("counts") or {}
    styles = [s for split in counts.values() for s in split]
    style = SEED_STYLE if SEED_STYLE in styles else next(iter(styles), None)
    per_object: dict[str, list[int]] = {}  # object -> [test, total]
    for split, by_style in counts.items():
        for obj, n in (by_style.get(style) or {}).items():
            cell = per_object.setdefault(obj, [0, 0])
            cell[0] += n if split == "test" else 0
            cell[1] += n
    if not any(test for test, _ in per_object.values()):
        return (
            "all photos and their paintings are `train`; there is no `test` split."
            if not short
            else "all `train`, no `test` split"
        )
    tests = {test for test, _ in per_object.values()}
    if len(tests) == 1:
        n = tests.pop()
        last = "the last photo" if n == 1 else f"the last {n} photos"
        head, their = f"{last} of every object (highest idx)", "its" if n == 1 else "their"
    else:
        order = list((manifest.get("taxonomy") or {}).get("objects") or [])
        ranked = sorted(per_object, key=lambda o: (order.index(o) if o in order else len(order), o))
        each = ", ".join(f"{o} {per_object[o][0]} of {per_object[o][1]}" for o in ranked)
        head, their = f"the last photos of every object (highest idx; {each})", "their"
    if short:
        return head
    return f"{head} and all {their} paintings are `test`, the other photos `train`."


def _jpg_note(recipe: Recipe) -> str:
    resized = pack_resolution(recipe)
    if resized:
        return f"JPEG re-encoded at {resized} x {resized} px when packed (a size variant)"
    return "JPEG bytes exactly as painted, never re-encoded"


def _rai_rows(rai: dict[str, str]) -> str:
    return "\n".join(f"- **{RAI_FIELDS[k]}.** {text}" for k, text in rai.items())
