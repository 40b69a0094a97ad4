"""The dataset card: ``README.md`` whose YAML makes ``load_dataset(DIR)`` return labelled splits,
and whose text says what the data is for, what it holds, how it was built and how to load it.

``write_card`` runs at the end of ``canvas-build shards``. It reads the packed shards back (an
index of every sample, see ``packed.py``) and writes, beside the shards, ``samples.csv``, the
contact sheet ``preview.jpg``, ``croissant.json`` and ``README.md``, all from that one reading.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml
from datasets import ClassLabel, Features, Image, Json, Value
from tqdm.auto import tqdm

from canvas_data.atomic import write_text
from canvas_data.datasheet import (
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
from canvas_data.packed import SAMPLES_CSV, PackedIndex, read_index, write_samples_csv
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE, STYLES_51, STYLES_61, Taxonomy, caption

TEMPLATE = "unlearncanvas.md"
README = "README.md"


def features(taxonomy: Taxonomy) -> Features:
    """The features of a packed sample, as ``datasets`` should read them."""
    return Features(
        {
            "__key__": Value("string"),
            "jpg": Image(),
            "style.cls": ClassLabel(names=list(taxonomy.styles)),
            "object.cls": ClassLabel(names=list(taxonomy.objects)),
            "txt": Value("string"),
            "json": Json(),
        }
    )


def card_metadata(manifest: dict[str, Any], recipe: Recipe) -> dict[str, Any]:
    """The card's YAML header: configs (splits to tar globs) and dataset_info (features)."""
    splits = list(split_counts(manifest))
    total = sum(manifest["splits"].values())
    meta = {
        "pretty_name": recipe.data.get("pretty_name", "UnlearnCanvas"),
        "license": "other",
        "task_categories": ["text-to-image", "image-classification", "image-to-image"],
        "tags": ["unlearncanvas", "machine-unlearning", "style-transfer", "webdataset"],
        "size_categories": [_size_category(total)],
        "configs": [
            {
                "config_name": "default",
                "default": True,
                "data_files": [{"split": s, "path": f"data/{s}-*.tar"} for s in splits],
            }
        ],
        "dataset_info": {
            "features": features(recipe.taxonomy)._to_yaml_list(),
            "splits": [
                {
                    "name": s,
                    "num_bytes": sum(x["bytes"] for x in manifest["shards"] if x["split"] == s),
                    "num_examples": manifest["splits"][s],
                }
                for s in splits
            ],
        },
    }
    if manifest.get("parquet"):
        from canvas_data.parquet_shards import add_parquet_config

        add_parquet_config(meta, manifest, recipe.taxonomy)
    return meta


def split_counts(manifest: dict[str, Any]) -> dict[str, int]:
    """Images per split, train first then test (whatever order the manifest file keeps)."""
    order = {"train": 0, "validation": 1, "test": 2}
    return dict(sorted(manifest["splits"].items(), key=lambda kv: (order.get(kv[0], 3), kv[0])))


def _size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < bound:
            return label
    return "100K<n<1M"


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
    body = template.substitute(_fields(manifest, recipe, index, load_path, preview))
    return f"---\n{header}---\n\n{body}"


def write_card(out: Path, manifest: dict[str, Any], recipe: Recipe) -> Path:
    """Write ``out/README.md`` with ``samples.csv``, ``preview.jpg`` and ``croissant.json``."""
    from canvas_data.croissant import write_croissant
    from canvas_data.preview import PREVIEW, write_preview

    out = Path(out)
    index = read_index(out, manifest)
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
    from canvas_data.recipe import load_recipe
    from canvas_data.shards import MANIFEST

    out = Path(out)
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path}: missing, {out} is not a packed folder")
    kept = out / "recipe.yaml"
    if recipe is None and not kept.is_file():
        raise FileNotFoundError(f"{kept}: missing; name the recipe with --recipe")
    resolved = load_recipe(recipe if recipe is not None else kept)
    return write_card(out, json.loads(manifest_path.read_text()), resolved)


def _fields(
    manifest: dict[str, Any],
    recipe: Recipe,
    index: PackedIndex,
    load_path: str,
    preview: tuple[list[str], list[str]] | None,
) -> dict[str, Any]:
    tax = recipe.taxonomy
    counts = _counts(manifest)
    total = sum(manifest["splits"].values())
    objects = recipe.objects
    example_style = next(
        (s for s in ("Van_Gogh", *recipe.styles) if s in recipe.styles), SEED_STYLE
    )
    example_object = objects[0] if objects else tax.objects[0]
    limits = recipe.data.get("shards", {})
    return {
        "title": dataset_title(recipe),
        "description": " ".join(recipe.data.get("description", "").split()),
        "paper_url": PAPER_URL,
        "release_url": RELEASE_URL,
        "preview_block": _preview_block(preview, recipe),
        **_columns(manifest),
        "first_style": _first_style(index, manifest),
        "loaders": "\n".join(
            block.rstrip("\n") + "\n"
            for block in (
                _webdataset_block(manifest, load_path),
                _parquet_load(manifest, load_path),
                _tools_block(manifest, load_path, example_style, example_object),
                _croissant_block(manifest, load_path),
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
        "split_rows": _split_rows(manifest),
        "split_rule": _split_rule(recipe),
        "split_rule_short": _split_rule(recipe).split(",")[0],
        "split_caveat": (
            " Here, though, several photos of an object are crops of one picture (see "
            "[Seed photos](#seed-photos)), so train and test can show the same scene."
            if recipe.data.get("photos", {}).get("source") == "bundled"
            else ""
        ),
        "balance": _balance(counts, recipe, manifest),
        "jpg_note": _jpg_note(recipe),
        "file_rows": _file_rows(manifest),
        "caption_example": caption(example_style, example_object),
        "seed_caption_example": caption(SEED_STYLE, example_object),
        "style_order_note": _style_order_note(tax),
        "style_header": _style_header(tax),
        "style_rows": _style_rows(tax, counts),
        "object_rows": _object_rows(tax, counts, manifest),
        "recipe_name": recipe.name,
        "recipe_source": _recipe_source(recipe),
        "recipe_sha": recipe.sha256[:16],
        "toolkit_version": manifest["toolkit_version"],
        "painted_with": _painted_with(index, manifest),
        "models": _models(index, manifest),
        "settings": _settings(index),
        "recipe_seed": recipe.seed,
        "resolution": recipe.resolution,
        "jpeg_quality": recipe.jpeg_quality,
        "photos_per_object": recipe.photos_per_object,
        "min_photo_side": recipe.min_photo_side,
        "max_samples": int(limits.get("max_samples", 1000)),
        "max_mb": f"{int(limits.get('max_bytes', 1_000_000_000)) / 1e6:,.0f}",
        "recipe_note": _recipe_note(index, recipe),
        "prompt_header": _prompt_header(manifest),
        "prompt_rows": _prompt_rows(recipe, manifest),
        "photo_source": photo_source(recipe),
        "photo_licence": licence_text(recipe),
        "photo_credits": _photo_credits(recipe, index),
        "photo_licences": _photo_licences(index, recipe),
        "this_content": (
            f"{len(recipe.styles)} styles x {len(objects)} objects x up to "
            f"{recipe.photos_per_object} photos, {recipe.resolution} px: {total:,} images with "
            "the photos"
        ),
        "this_stylizer": _backends(manifest) + "; recipe, seeds and provenance kept",
        "rai_rows": _rai_rows(responsible_ai(recipe, manifest, index)),
        "citation": CITATION,
    }


def _counts(manifest: dict[str, Any]) -> dict[str, Counter[tuple[str, str]]]:
    """Images per split, keyed by (style, object)."""
    return {
        split: Counter(
            {(style, obj): n for style, objs in per_style.items() for obj, n in objs.items()}
        )
        for split, per_style in manifest["counts"].items()
    }


def _split_counts(counts, name: str, *, style: bool) -> tuple[int, int]:
    def total(split: str) -> int:
        return sum(n for (s, o), n in counts.get(split, {}).items() if (s if style else o) == name)

    return total("train"), total("test")


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


def _webdataset_block(manifest: dict[str, Any], load_path: str) -> str:
    train = [s["path"] for s in manifest["shards"] if s["split"] == "train"]
    if not train:
        return ""
    urls = f"{load_path}/data/train-{{{_shard_no(train[0])}..{_shard_no(train[-1])}}}.tar"
    return f"""With [webdataset](https://github.com/webdataset/webdataset), streaming the tars:

```python
import webdataset as wds

urls = "{urls}"
for sample in wds.WebDataset(urls, shardshuffle=False).decode("pil"):
    image, style, obj = sample["jpg"], sample["style.cls"], sample["object.cls"]
    meta = sample["json"]   # key, style, object, idx, split, seed_key, caption, provenance
```
"""


def _first_style(index: PackedIndex, manifest: dict[str, Any]) -> str:
    """The style of the first training sample ``load_dataset`` returns (first key of the first
    train shard), as the comment of the loading example."""
    train = sorted(s["path"] for s in manifest["shards"] if s["split"] == "train")
    keys = [r for r in index.rows if train and r.shard == train[0]]
    if not keys:
        return "the style's name"
    return f'"{min(keys, key=lambda r: r.key).style}"'


def _columns(manifest: dict[str, Any]) -> dict[str, str]:
    """The column names ``load_dataset`` gives: WebDataset members, or the Parquet columns."""
    names = ("jpg", "style.cls", "object.cls", "txt")
    if not manifest["shards"]:
        names = ("image", "style", "object", "caption")
    return dict(zip(("col_image", "col_style", "col_object", "col_caption"), names, strict=True))


def _tools_block(manifest: dict[str, Any], load_path: str, style: str, obj: str) -> str:
    parse = f"parse_caption(\"{caption(style, obj)}\")   # ('{style}', '{obj}')"
    if not manifest["shards"]:
        return f"""With `canvas_data`, the class orders and captions:

```python
from canvas_data import STYLES_61, parse_caption

{parse}
```

Check a copy against its manifest with `canvas-build verify {load_path}`.
"""
    return f"""With `canvas_data` and pandas, to find images by label without reading them:

```python
import pandas as pd
from canvas_data import STYLES_61, parse_caption

index = pd.read_csv("{load_path}/samples.csv")   # one line per image
index[(index["split"] == "test") & (index["style"] == "{style}")][["key", "shard"]]
{parse}
```

Check a copy (re-hash every shard, decode every image) and draw other contact sheets:

```bash
canvas-build verify {load_path}
canvas-build preview {load_path} --styles {style} --objects all --out sheet.jpg
```
"""


def _croissant_block(manifest: dict[str, Any], load_path: str) -> str:
    if not manifest["shards"]:
        return (
            "[mlcroissant](https://github.com/mlcommons/croissant) reads `croissant.json`: the "
            "files with their sha256 and the class lists (`styles`, `objects`, `splits`).\n"
        )
    return f"""With [mlcroissant](https://github.com/mlcommons/croissant), from `croissant.json`:

```python
import mlcroissant as mlc

ds = mlc.Dataset(jsonld="{load_path}/croissant.json")
for record in ds.records("samples"):   # image from the tars + labels from samples.csv
    record["samples/image"], record["samples/style"], record["samples/split"]
    break
```

mlcroissant extracts every tar into its cache (`~/.cache/croissant`, or `$CROISSANT_CACHE`) keyed
by the tar's relative path; clear it before reading a rebuilt copy.
"""


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
    for files, kind in ((manifest["shards"], "tar"), (manifest.get("parquet") or [], "Parquet")):
        if files:
            mb = sum(f["bytes"] for f in files) / 1e6
            parts.append(
                f"{mb:,.1f} MB in {len(files)} {kind} file{'s' if len(files) != 1 else ''}"
            )
    return " + ".join(parts) or "nothing"


def _backends(manifest: dict[str, Any]) -> str:
    used = manifest.get("backends", {})
    if not used:
        return "none (photos only)"
    ranked = sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"`{b}` ({n:,} paintings)" for b, n in ranked)


def _licence_summary(recipe: Recipe) -> str:
    if recipe.data.get("license"):
        return dataset_licence(recipe)
    return (
        "none of its own: each image follows the licence of its seed photo "
        "([Seed photos](#seed-photos))"
    )


def _split_rows(manifest: dict[str, Any]) -> str:
    rows = []
    for split, n in split_counts(manifest).items():
        files = manifest["shards"] or manifest.get("parquet") or []
        shards = [s for s in files if s["split"] == split]
        photos = sum(seed_photos(manifest, split).values())
        mb = sum(s["bytes"] for s in shards) / 1e6
        rows.append(f"| {split} | {n:,} | {photos:,} | {len(shards)} | {mb:,.1f} |")
    return "\n".join(rows)


def _split_rule(recipe: Recipe) -> str:
    n = recipe.test_per_object
    last = "the last photo" if n == 1 else f"the last {n} photos"
    return (
        f"{last} of every object (highest idx) and all {'its' if n == 1 else 'their'} "
        "paintings are `test`, the other photos `train`."
    )


def _balance(counts, recipe: Recipe, manifest: dict[str, Any]) -> str:
    """One sentence on how full the (style, object) grid is, naming the cells that fall short."""
    per_cell: Counter[tuple[str, str]] = Counter()
    for split_counts in counts.values():
        per_cell.update(split_counts)
    cells = [(s, o) for s in (SEED_STYLE, *recipe.styles) for o in recipe.objects]
    values = Counter(per_cell[c] for c in cells)
    missing = manifest.get("missing", [])
    gap = f" {len(missing):,} expected images are missing." if missing else ""
    if len(values) == 1:
        n = next(iter(values))
        train = sum(counts.get("train", {})[c] for c in cells) // max(len(cells), 1)
        return (
            f"The grid is full and balanced: each of the {len(cells):,} (style, object) cells "
            f"(photos included) holds {n} images, {train} train and {n - train} test.{gap}"
        )
    usual = values.most_common(1)[0][0]
    short = [f"`{s}/{o}` ({per_cell[(s, o)]})" for s, o in cells if per_cell[(s, o)] < usual]
    shown = ", ".join(short[:12]) + (f" and {len(short) - 12} more" if len(short) > 12 else "")
    return (
        f"Most of the {len(cells):,} (style, object) cells hold {usual} images; "
        f"{len(short)} hold fewer: {shown}.{gap}"
    )


def _jpg_note(recipe: Recipe) -> str:
    resized = (recipe.data.get("pack") or {}).get("resolution")
    if resized:
        return f"JPEG re-encoded at {resized} x {resized} px when packed (a size variant)"
    return "JPEG bytes exactly as painted, never re-encoded"


def _file_rows(manifest: dict[str, Any]) -> str:
    rows = []
    if manifest["shards"]:
        rows.append("| `data/{split}-{n}.tar` | the WebDataset shards |")
    if manifest.get("parquet"):
        rows.append("| `parquet/{split}-{n}.parquet` | the same samples as Parquet tables |")
    rows.append(
        "| `manifest.json` | every shard with its samples, bytes and sha256; counts per "
        "(split, style, object) |"
    )
    if manifest["shards"]:
        rows.append(
            "| `samples.csv` | one line per image: key, split, shard, labels and indices, "
            "caption, size |"
        )
    rows += [
        "| `croissant.json` | [Croissant](https://mlcommons.org/croissant/) metadata, "
        "responsible-AI fields included |",
        "| `recipe.yaml` | the resolved recipe this copy was built from |",
    ]
    if manifest["shards"]:
        rows.append("| `preview.jpg` | the contact sheet above |")
    return "\n".join(rows)


def _parquet_load(manifest: dict[str, Any], load_path: str) -> str:
    if not manifest.get("parquet"):
        return ""
    call = f'"{load_path}", data_dir="parquet"' if manifest["shards"] else f'"{load_path}"'
    return (
        "The same samples as Parquet (columns `image`, `style`, `object`, `caption`, `key`, "
        f"`idx`, `split`): `load_dataset({call})`.\n"
    )


def _other_order(tax: Taxonomy) -> tuple[str, tuple[str, ...]] | None:
    if tax.styles == STYLES_61:
        return "51-way index", STYLES_51
    if tax.styles == STYLES_51:
        return "61-way index", STYLES_61
    return None


def _style_order_note(tax: Taxonomy) -> str:
    n = len(tax.styles)
    if tax.styles == STYLES_61:
        return (
            f"The release's {n}-way style head: alphabetical except `Palette_Knife` at 30 and "
            "`Seed_Images` at 47. Released classifier checkpoints index classes by position. "
            "The 51-way column is the head of the benchmark's 50-style subset (`STYLES_51`), "
            "blank for the 10 styles it leaves out."
        )
    if tax.styles == STYLES_51:
        return (
            "The 51-way head of the benchmark's 50-style subset (`Seed_Images` at 38); the "
            "61-way column is the full release's order."
        )
    return f"This build's own {n}-way order (from its recipe)."


def _style_header(tax: Taxonomy) -> str:
    other = _other_order(tax)
    if other:
        return (
            f"| index | style | {other[0]} | train | test | images |\n"
            "|---:|---|---:|---:|---:|---:|"
        )
    return "| index | style | train | test | images |\n|---:|---|---:|---:|---:|"


def _style_rows(tax: Taxonomy, counts) -> str:
    other = _other_order(tax)
    rows = []
    for i, style in enumerate(tax.styles):
        train, test = _split_counts(counts, style, style=True)
        extra = ""
        if other:
            extra = f" {other[1].index(style) if style in other[1] else ''} |"
        rows.append(f"| {i} | {style} |{extra} {_n(train)} | {_n(test)} | {_n(train + test)} |")
    return "\n".join(rows)


def _object_rows(tax: Taxonomy, counts, manifest: dict[str, Any]) -> str:
    photos = seed_photos(manifest)
    rows = []
    for i, obj in enumerate(tax.objects):
        train, test = _split_counts(counts, obj, style=False)
        rows.append(
            f"| {i} | {obj} | {_n(photos[obj])} | {_n(train)} | {_n(test)} | {_n(train + test)} |"
        )
    return "\n".join(rows)


def _n(value: int) -> str:
    """A count, or a dash for none (a class this build does not make)."""
    return f"{value:,}" if value else "-"


def _recipe_source(recipe: Recipe) -> str:
    """Where the recipe came from: a built-in's name, never a local path."""
    if recipe.source.startswith("builders/"):
        return f" (built-in `{recipe.source}`)"
    return ""


def _painted_with(index: PackedIndex, manifest: dict[str, Any]) -> str:
    versions = index.provenance.toolkit_versions
    if not versions or set(versions) == {manifest["toolkit_version"]}:
        return ""
    listed = ", ".join(f"{v} ({n:,})" for v, n in versions.most_common())
    return f" (packing); paintings made by canvas_data {listed}"


def _models(index: PackedIndex, manifest: dict[str, Any]) -> str:
    models = index.provenance.model_ids()
    if models:
        return "; ".join(f"`{m}`" for m in models)
    if set(manifest.get("backends", {})) <= {"procedural"}:
        return "none: the `procedural` stylizer paints with image filters, no model weights"
    return "none recorded in the provenance"


def _settings(index: PackedIndex) -> str:
    parts = []
    for backend, settings in index.provenance.settings.items():
        for name, values in sorted(settings.items()):
            shown = [v for v in values if v not in ("{}", "[]", "null", "")]
            if shown and not any(w in name.lower() for w in ("model", "adapter", "controlnet")):
                parts.append(f"{backend} `{name}`: " + ", ".join(f"`{v}`" for v in shown))
    if parts:
        return "; ".join(parts)
    return "the recipe's defaults (`stylizers` in `recipe.yaml`)"


def _recipe_note(index: PackedIndex, recipe: Recipe) -> str:
    other = {h: n for h, n in index.provenance.recipe_hashes.items() if h != recipe.sha256}
    if not other:
        return ""
    n = sum(other.values())
    return (
        f"Note: {n:,} paintings record a different recipe sha256 "
        f"({', '.join(h[:16] for h in other)}): they were painted before the recipe last "
        "changed (a description edit changes the hash too). Their provenance has the details."
    )


def _prompt_header(manifest: dict[str, Any]) -> str:
    if "procedural" in manifest.get("backends", {}):
        return "| style | prompt (diffusion stylizers) | `procedural` filter chain |\n|---|---|---|"
    return "| style | prompt | negative prompt |\n|---|---|---|"


def _prompt_rows(recipe: Recipe, manifest: dict[str, Any]) -> str:
    procedural = "procedural" in manifest.get("backends", {})
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
    return " ".join(str(text).split()).replace("|", "\\|")


def _photo_credits(recipe: Recipe, index: PackedIndex) -> str:
    """The bundled photos' credits, one row per source image, with the photos made from it."""
    if recipe.data.get("photos", {}).get("source") != "bundled":
        return ""
    from canvas_data.bundled_photos import bundled_credits

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


def _photo_licences(index: PackedIndex, recipe: Recipe) -> str:
    if recipe.data.get("photos", {}).get("source") == "bundled":
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


def _rai_rows(rai: dict[str, str]) -> str:
    return "\n".join(f"- **{RAI_FIELDS[k]}.** {text}" for k, text in rai.items())


def _shard_no(path: str) -> str:
    return path.rsplit("-", 1)[-1].removesuffix(".tar")
