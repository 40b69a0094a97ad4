"""The dataset card's build facts: recipe, models, stylizer settings and prompts, and the credits
and licences of the seed photos, all read from the samples' provenance."""

from __future__ import annotations

from typing import Any

from canvas_data.escape import markdown_cell
from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.pack.packed import PackedIndex
from canvas_data.recipe import Recipe


def recipe_source(recipe: Recipe) -> str:
    """Where the recipe came from: a built-in's name, never a local path."""
    if recipe.source.startswith("builders/"):
        return f" (built-in `{recipe.source}`)"
    return ""


def painted_with(index: PackedIndex, manifest: dict[str, Any]) -> str:
    versions = index.provenance.toolkit_versions
    if not versions or set(versions) == {manifest_spec(manifest).toolkit_version}:
        return ""
    listed = ", ".join(f"{v} ({n:,})" for v, n in versions.most_common())
    return f" (packing); paintings made by canvas_data {listed}"


def model_summary(index: PackedIndex, manifest: dict[str, Any]) -> str:
    models = index.provenance.model_ids()
    if models:
        return "; ".join(f"`{m}`" for m in models)
    if set(manifest_spec(manifest).backends) <= {"procedural"}:
        return "none: the `procedural` stylizer paints with image filters, no model weights"
    return "none recorded in the provenance"


def settings_summary(index: PackedIndex) -> str:
    parts = []
    for backend, settings in index.provenance.settings.items():
        for name, values in sorted(settings.items()):
            shown = [v for v in values if v not in ("{}", "[]", "null", "")]
            if shown and not any(w in name.lower() for w in ("model", "adapter", "controlnet")):
                parts.append(f"{backend} `{name}`: " + ", ".join(f"`{v}`" for v in shown))
    if parts:
        return "; ".join(parts)
    return "the recipe's defaults (`stylizers` in `recipe.yaml`)"


def recipe_note(index: PackedIndex, recipe: Recipe) -> str:
    other = {h: n for h, n in index.provenance.recipe_hashes.items() if h != recipe.sha256}
    if not other:
        return ""
    n = sum(other.values())
    return (
        f"Note: {n:,} paintings record a different recipe sha256 "
        f"({', '.join(h[:16] for h in other)}): they were painted before the recipe last "
        "changed (a description edit changes the hash too). Their provenance has the details."
    )


def prompt_header(manifest: dict[str, Any]) -> str:
    if "procedural" in manifest_spec(manifest).backends:
        return "| style | prompt (diffusion stylizers) | `procedural` filter chain |\n|---|---|---|"
    return "| style | prompt | negative prompt |\n|---|---|---|"


def prompt_rows(recipe: Recipe, manifest: dict[str, Any]) -> str:
    procedural = "procedural" in manifest_spec(manifest).backends
    rows = []
    for style in recipe.styles:
        spec = recipe.style(style)
        third = (
            " > ".join(str(step.get("op", "?")) for step in spec.procedural)
            if procedural
            else (spec.negative_prompt or "")
        )
        rows.append(f"| {style} | {_cell(spec.prompt)} | {_cell(third)} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return markdown_cell(text)


def photo_credits(recipe: Recipe, index: PackedIndex) -> str:
    """The bundled photos' credits, one row per source image, with the photos made from it."""
    if recipe.spec.photos.source != "bundled":
        return ""
    from canvas_data.intake.bundled_photos import bundled_credits

    by_file: dict[str, list[dict[str, Any]]] = {}
    for credit in bundled_credits():
        by_file.setdefault(str(credit["file"]), []).append(credit)
    rows = [
        "Each source image is used whole and as crops (other positions and scales, each still",
        "showing the object), so that every object has several photos.",
        "",
        "| source image | object | shows | photos (`Seed_Images/{Object}/{idx}`) | credit "
        "| licence |",
        "|---|---|---|---|---|---|",
    ]
    idx_of = {
        (key.split("/")[1], name): key.rsplit("/", 1)[1]
        for key, name in index.provenance.photo_files.items()
    }
    for file, credits in by_file.items():
        first = credits[0]
        photos = ", ".join(
            _photo_name(idx_of, str(c["object"]), str(c["photo"]), bool(c["crop"])) for c in credits
        )
        rows.append(
            f"| `{file}` ({first['package']}) | {first['object']} | {_cell(str(first['shows']))} "
            f"| {photos} | {_cell(str(first['credit']))} | {_cell(str(first['licence']))} |"
        )
    return "\n".join(rows)


def _photo_name(idx_of: dict[tuple[str, str], str], obj: str, photo: str, crop: bool) -> str:
    """``idx 3 (crop)``: the dataset's name of a bundled photo, its file name if it is absent."""
    name = photo.split("/")[-1]
    idx = idx_of.get((obj, name))
    shown = f"idx {idx}" if idx else f"`{name}` (not in this copy)"
    return f"{shown} (crop)" if crop else f"{shown} (whole)"


def photo_licences(index: PackedIndex, recipe: Recipe) -> str:
    if recipe.spec.photos.source == "bundled":
        return ""  # the credits table above says it, photo by photo
    prov = index.provenance
    recorded = {k: n for k, n in prov.photo_licences.items() if k != "not recorded"}
    if not recorded:
        return (
            "The photos' own provenance records no per-photo licence; the recipe's declaration "
            "above is all there is."
        )
    rows = ["Licences recorded per photo (from each photo's provenance):", ""]
    rows += ["| licence | photos |", "|---|---:|"]
    rows += [f"| {_cell(k)} | {n:,} |" for k, n in prov.photo_licences.most_common()]
    authors = len(prov.photo_authors)
    if authors:
        rows += ["", f"{authors:,} distinct authors are credited in the photos' provenance."]
    return "\n".join(rows + _web_credits(prov))


def _web_credits(prov) -> list[str]:
    """Photos downloaded from a URL manifest: the unlicensed count and a credits table."""
    credits = prov.photo_credits
    if not credits:
        return []
    unlicensed = sum(1 for c in credits.values() if not c["licence"])
    rows = ["", f"{len(credits):,} photos were downloaded from the URLs of a manifest."]
    if unlicensed:
        rows.append(
            f"**{unlicensed:,} of them have no declared licence**: they were accepted only "
            "because the build asked for it (`canvas-build sources --allow-unlicensed`)."
        )
    rows += ["", "<details><summary>Credits, photo by photo</summary>", ""]
    rows += ["| photo | author | licence | source |", "|---|---|---|---|"]
    for key, c in sorted(credits.items()):
        source = c["source_page"] or c["source_url"]
        rows.append(
            f"| `{key}` | {_cell(c['author']) or '-'} | {_cell(c['licence']) or '**none**'} "
            f"| {_cell(source)} |"
        )
    return rows + ["", "</details>"]
