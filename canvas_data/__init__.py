"""canvas_data: build, pack, load and evaluate with UnlearnCanvas."""

__version__ = "0.1.0"

from canvas_data.taxonomy import (  # noqa: E402
    OBJECTS_20,
    SEED_STYLE,
    STYLES_50,
    STYLES_51,
    STYLES_60,
    STYLES_61,
    Taxonomy,
    caption,
    parse_caption,
)

__all__ = [
    "OBJECTS_20",
    "SEED_STYLE",
    "STYLES_50",
    "STYLES_51",
    "STYLES_60",
    "STYLES_61",
    "Taxonomy",
    "__version__",
    "caption",
    "parse_caption",
]

# Names imported on first use, so that `import canvas_data` stays light (the loaders pull in
# torch, webdataset and albumentations).
_LAZY = {
    **dict.fromkeys(
        (
            "load",
            "style_classification",
            "object_classification",
            "text_to_image",
            "edit_pairs",
            "style_transfer",
            "CanvasDataset",
        ),
        "canvas_data.loading.loaders",
    ),
    "CanvasStream": "canvas_data.loading.stream",
    **dict.fromkeys(
        ("train_transform", "classifier_eval_transform", "make_transform", "ImageTransform"),
        "canvas_data.loading.transforms",
    ),
    "decode_image": "canvas_data.images.decode",
    "ShardIndex": "canvas_data.pack.shard_index",
    **dict.fromkeys(("load_classifier", "Classifier"), "canvas_data.classify.classifier"),
}
__all__ += sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'canvas_data' has no attribute {name!r}")
