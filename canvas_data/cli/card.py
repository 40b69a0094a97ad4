"""``canvas-build preview`` and ``canvas-build card``: the contact sheet and the dataset card."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data.cli.common import (
    default_output,
    names,
    one_line_errors,
    out_file,
    styles_option,
)

FOLDER = click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))


def _image_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """An image file to write: a place that can be written (checked first, as every output
    is), with a suffix Pillow can write."""
    from canvas_data.card.preview import image_format

    value = out_file(ctx, param, value)
    if value is not None:
        try:
            image_format(value)
        except ValueError as err:
            raise click.BadParameter(str(err)) from None
    return value


@click.command()
@FOLDER
@styles_option(
    "Comma-separated styles, top to bottom, `Seed_Images` for the photo row, or `all`.",
    show_default="the photo row and seven styles that look unlike each other",
)
@click.option(
    "--objects",
    callback=names,
    show_default="up to eight, evenly spaced",
    help="Comma-separated objects, left to right, or `all`.",
)
@click.option(
    "--idx",
    type=click.IntRange(min=1),
    default=None,
    help="Photo number every column shows (default: each object's first photo).",
)
@click.option(
    "--thumb",
    type=click.IntRange(min=32, max=1024),
    default=160,
    show_default=True,
    help="Side of each thumbnail in pixels.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_image_file,
    default=None,
    show_default="FOLDER-preview.jpg beside FOLDER, if no such file is there",
    help="Image file to write, in the format its suffix names (.jpg, .png, .webp).",
)
@one_line_errors
def preview(
    folder: Path,
    styles: list[str] | None,
    objects: list[str] | None,
    idx: int | None,
    thumb: int,
    out: Path | None,
) -> None:
    """Draw a contact sheet of a packed FOLDER: styles down, objects across.

    Each column is one seed photo, the top row the photo itself, the rows below it painted in
    each style. Images are read from the shards. `canvas-build shards` already writes one as
    FOLDER/preview.jpg; this makes others.
    """
    from canvas_data.card.preview import write_preview

    if out is None:
        out = default_output(folder.absolute().parent / f"{folder.absolute().name}-preview.jpg")
    styles = ["all"] if styles == "all" else styles  # every style the folder holds
    sheet = write_preview(folder, out, styles=styles, objects=objects, idx=idx, thumb=thumb)
    width, height = sheet.image.size
    rows, columns = len(sheet.styles), len(sheet.objects)
    click.echo(
        f"wrote {out}: {rows} style{'s' * (rows != 1)} x {columns} object{'s' * (columns != 1)}, "
        f"{width} x {height} px"
    )


@click.command()
@FOLDER
@click.option(
    "--recipe",
    default=None,
    help="Recipe name or YAML path to describe the data with (default: FOLDER/recipe.yaml).",
)
@one_line_errors
def card(folder: Path, recipe: str | None) -> None:
    """Write the dataset card of a packed FOLDER again, with its preview and Croissant file.

    `canvas-build shards` writes them; run this after editing the recipe's description,
    licence or responsible_ai fields, without repacking.
    """
    from canvas_data.card.dataset_card import rewrite_card

    path = rewrite_card(folder, recipe)
    click.echo(f"wrote {path} and, beside it, preview.jpg, croissant.json, samples.csv")
