"""The dataset card's tables: images per split, per style and per object (in the class orders),
the files of the copy, and how full the (style, object) grid is."""

from __future__ import annotations

from collections import Counter
from typing import Any

from canvas_data.card.datasheet import seed_photos
from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE, STYLES_51, STYLES_61, Taxonomy


def split_counts(manifest: dict[str, Any]) -> dict[str, int]:
    """Images per split, train first then test (whatever order the manifest file keeps)."""
    order = {"train": 0, "validation": 1, "test": 2}
    return dict(sorted(manifest["splits"].items(), key=lambda kv: (order.get(kv[0], 3), kv[0])))


def cell_counts(manifest: dict[str, Any]) -> dict[str, Counter[tuple[str, str]]]:
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


def split_rows(manifest: dict[str, Any]) -> str:
    rows, spec = [], manifest_spec(manifest)
    for split, n in split_counts(manifest).items():
        files = spec.shards or spec.parquet
        shards = [s for s in files if s.split == split]
        photos = sum(seed_photos(manifest, split).values())
        mb = sum(s.bytes or 0 for s in shards) / 1e6
        rows.append(f"| {split} | {n:,} | {photos:,} | {len(shards)} | {mb:,.1f} |")
    return "\n".join(rows)


def file_rows(manifest: dict[str, Any]) -> str:
    rows = []
    if manifest["shards"]:
        rows.append("| `data/{split}-{n}.tar` | the WebDataset shards |")
    if manifest_spec(manifest).parquet:
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


def balance(counts, recipe: Recipe, manifest: dict[str, Any]) -> str:
    """One sentence on how full the (style, object) grid is, naming the cells that fall short."""
    per_cell: Counter[tuple[str, str]] = Counter()
    for split_counts in counts.values():
        per_cell.update(split_counts)
    cells = [(s, o) for s in (SEED_STYLE, *recipe.styles) for o in recipe.objects]
    values = Counter(per_cell[c] for c in cells)
    missing = manifest_spec(manifest).missing
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


def _other_order(tax: Taxonomy) -> tuple[str, tuple[str, ...]] | None:
    if tax.styles == STYLES_61:
        return "51-way index", STYLES_51
    if tax.styles == STYLES_51:
        return "61-way index", STYLES_61
    return None


def style_order_note(tax: Taxonomy) -> str:
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


def style_header(tax: Taxonomy) -> str:
    other = _other_order(tax)
    if other:
        return (
            f"| index | style | {other[0]} | train | test | images |\n"
            "|---:|---|---:|---:|---:|---:|"
        )
    return "| index | style | train | test | images |\n|---:|---|---:|---:|---:|"


def style_rows(tax: Taxonomy, counts) -> str:
    other = _other_order(tax)
    rows = []
    for i, style in enumerate(tax.styles):
        train, test = _split_counts(counts, style, style=True)
        extra = ""
        if other:
            extra = f" {other[1].index(style) if style in other[1] else ''} |"
        rows.append(f"| {i} | {style} |{extra} {_n(train)} | {_n(test)} | {_n(train + test)} |")
    return "\n".join(rows)


def object_rows(tax: Taxonomy, counts, manifest: dict[str, Any]) -> str:
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
