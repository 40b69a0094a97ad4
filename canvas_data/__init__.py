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
