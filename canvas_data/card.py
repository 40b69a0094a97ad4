"""The dataset card: ``README.md`` whose YAML makes ``load_dataset(DIR)`` return labelled splits."""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml
from datasets import ClassLabel, Features, Image, Json, Value

from canvas_data.atomic import write_text
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE, Taxonomy, caption

TEMPLATE = "unlearncanvas.md"


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
    splits = list(manifest["splits"])
    total = sum(manifest["splits"].values())
    return {
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


def _size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < bound:
            return label
    return "100K<n<1M"


def render_card(manifest: dict[str, Any], recipe: Recipe, load_path: str = ".") -> str:
    """The whole card: YAML header and the filled template."""
    header = yaml.safe_dump(card_metadata(manifest, recipe), sort_keys=False, allow_unicode=True)
    template = Template(resources.files("canvas_data.cards").joinpath(TEMPLATE).read_text())
    body = template.substitute(_fields(manifest, recipe, load_path))
    return f"---\n{header}---\n\n{body}"


def write_card(out: Path, manifest: dict[str, Any], recipe: Recipe) -> Path:
    """Write ``out/README.md``."""
    path = Path(out) / "README.md"
    write_text(path, render_card(manifest, recipe, load_path=Path(out).name))
    return path


def _fields(manifest: dict[str, Any], recipe: Recipe, load_path: str) -> dict[str, Any]:
    tax = recipe.taxonomy
    per_style: Counter[str] = Counter()
    per_object: Counter[str] = Counter()
    for split_counts in manifest["counts"].values():
        for style, objs in split_counts.items():
            for obj, n in objs.items():
                per_style[style] += n
                per_object[obj] += n
    shards = manifest["shards"]
    train = [s["path"] for s in shards if s["split"] == "train"]
    objects = recipe.objects
    return {
        "title": recipe.data.get("pretty_name", f"UnlearnCanvas ({recipe.name})"),
        "description": recipe.data.get("description", "").strip(),
        "n_objects": len(objects),
        "n_styles": len(recipe.styles),
        "n_style_classes": len(tax.styles),
        "load_path": load_path,
        "first_train": _shard_no(train[0]) if train else "000000",
        "last_train": _shard_no(train[-1]) if train else "000000",
        "split_rows": "\n".join(
            f"| {s} | {n:,} | {sum(1 for x in shards if x['split'] == s)} |"
            for s, n in manifest["splits"].items()
        ),
        "resolution": recipe.resolution,
        "total_mb": f"{sum(s['bytes'] for s in shards) / 1e6:,.1f}",
        "caption_example": caption("Van_Gogh", objects[0]),
        "seed_caption_example": caption(SEED_STYLE, objects[0]),
        "split_rule": _split_rule(recipe),
        "recipe_name": recipe.name,
        "recipe_sha": recipe.sha256[:16],
        "backends": ", ".join(f"`{b}` ({n:,} images)" for b, n in manifest["backends"].items())
        or "none (photos only)",
        "toolkit_version": manifest["toolkit_version"],
        "photo_source": _photo_source(recipe),
        "photo_credits": _photo_credits(recipe),
        "style_rows": "\n".join(
            f"| {i} | {s} | {per_style[s]:,} |" for i, s in enumerate(tax.styles)
        ),
        "object_rows": "\n".join(
            f"| {i} | {o} | {per_object[o]:,} |" for i, o in enumerate(tax.objects)
        ),
    }


def _shard_no(path: str) -> str:
    return path.rsplit("-", 1)[-1].removesuffix(".tar")


def _split_rule(recipe: Recipe) -> str:
    n = recipe.test_per_object
    return (
        f"the last {n} photo{'s' if n != 1 else ''} of every object (by idx) and all of "
        f"their paintings are `test`, the other photos `train`."
    )


def _photo_source(recipe: Recipe) -> str:
    photos = recipe.data.get("photos", {})
    source = photos.get("source", "folder")
    licence = " ".join(str(photos.get("licence", "not declared")).split())
    if source == "bundled":
        return f"real photographs bundled with installed Python packages; licences: {licence}"
    return f"a folder of photos; licence: {licence}"


def _photo_credits(recipe: Recipe) -> str:
    if recipe.data.get("photos", {}).get("source") != "bundled":
        return ""
    from canvas_data.bundled_photos import bundled_credits

    rows = [
        "The demo's seed photos are sample images shipped inside scikit-image and scikit-learn,",
        "mapped to the official object they show; crops of a photo serve as extra photos.",
        "",
        "| photo | object | shows | credit | licence |",
        "|---|---|---|---|---|",
    ]
    for c in bundled_credits():
        rows.append(
            f"| `{c['photo']}` (`{c['file']}`, {c['package']}) | {c['object']} | {c['shows']} "
            f"| {c['credit']} | {c['licence']} |"
        )
    return "\n".join(rows)
