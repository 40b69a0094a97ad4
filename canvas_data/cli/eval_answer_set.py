"""The answer set of ``canvas-eval``: the options that name its styles (themes), objects and
seeds, and the benchmark's defaults for what they leave out."""

from __future__ import annotations

import click

from canvas_data.cli.common import objects_option, styles_option


def _seeds(ctx, param, value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"seeds must be integers separated by commas: {value}") from None


def answer_set_options(fn):
    """The options that say which answers make the set."""
    options = [
        styles_option(
            "Comma-separated styles of the answer set (Seed_Images: the photo class), or `all`.",
            show_default="the benchmark's 50 styles and Seed_Images",
            old=("--themes",),
            dest="themes",
        ),
        objects_option("Comma-separated objects.", show_default="all 20"),
        click.option(
            "--seeds",
            callback=_seeds,
            default=None,
            show_default="188,288,588,688,888 (accuracy: the seeds present)",
            help="Comma-separated seeds.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def answer_set(themes, objects, seeds) -> dict:
    """The themes, objects and seeds chosen, each defaulting to the benchmark's."""
    from canvas_data.metrics.answers import SEEDS, THEMES
    from canvas_data.taxonomy import OBJECTS_20

    themes = None if themes == "all" else themes
    return {"themes": themes or THEMES, "objects": objects or OBJECTS_20, "seeds": seeds or SEEDS}
