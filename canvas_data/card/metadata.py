"""The dataset card's YAML header: ``configs`` (splits to tar globs, and Parquet when packed),
``dataset_info`` (ClassLabel features, split sizes) and a digest of the data files, so that
``load_dataset(DIR)`` returns labelled splits and never answers a repacked folder from its cache.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from canvas_data.card.datasheet import hub_license
from canvas_data.card.tables import split_counts
from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import Taxonomy

if TYPE_CHECKING:
    from datasets import Features


def features(taxonomy: Taxonomy) -> Features:
    """The features of a packed sample, as ``datasets`` should read them."""
    from datasets import ClassLabel, Features, Image, Json, Value

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


def features_yaml(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """``features(taxonomy)._to_yaml_list()``, the card's ``dataset_info.features``, written out
    so that packing does not import ``datasets`` (seconds); a test checks that the two agree."""

    def labels(names) -> dict[str, Any]:
        return {"class_label": {"names": {str(i): n for i, n in enumerate(names)}}}

    return [
        {"name": "__key__", "dtype": "string"},
        {"name": "jpg", "dtype": "image"},
        {"name": "style.cls", "dtype": labels(taxonomy.styles)},
        {"name": "object.cls", "dtype": labels(taxonomy.objects)},
        {"name": "txt", "dtype": "string"},
        {"name": "json", "dtype": "json"},
    ]


def card_metadata(manifest: dict[str, Any], recipe: Recipe) -> dict[str, Any]:
    """The card's YAML header: configs (splits to tar globs) and dataset_info (features)."""
    splits = list(split_counts(manifest))
    total = sum(manifest["splits"].values())
    meta = {
        "pretty_name": recipe.spec.pretty_name or "UnlearnCanvas",
        "license": hub_license(recipe),
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
            "features": features_yaml(recipe.taxonomy),
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
    if manifest_spec(manifest).parquet:
        from canvas_data.pack.parquet import add_parquet_config

        add_parquet_config(meta, manifest, recipe.taxonomy)
    for config in meta["configs"]:  # datasets keys its cache by the card, not by file contents
        config["description"] = f"data sha256 {data_digest(manifest)}"
    return meta


def data_digest(manifest: dict[str, Any]) -> str:
    """A sha256 over every data file's path and sha256 (tars and Parquet) in the manifest: it
    changes whenever one image does. The card's configs state it, so that ``load_dataset`` (whose
    cache key is the card and the file patterns, not the files' contents) never answers a
    repacked folder from the cache of an earlier build."""
    spec = manifest_spec(manifest)
    lines = sorted(f"{f.path} {f.sha256}" for f in [*spec.shards, *spec.parquet])
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < bound:
            return label
    return "100K<n<1M"
