"""The answer set of ``canvas-eval``: the options that name its themes, objects and seeds, and
the benchmark's defaults for what they leave out."""

from __future__ import annotations

import click

from canvas_data.cli.common import names


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
        click.option(
            "--themes",
            callback=names,
            default=None,
            help="Comma-separated themes (styles, Seed_Images). Default: the "
            "benchmark's 50 styles and Seed_Images.",
        ),
        click.option(
            "--objects",
            callback=names,
            default=None,
            help="Comma-separated objects. Default: all 20.",
        ),
        click.option(
            "--seeds",
            callback=_seeds,
            default=None,
            help="Comma-separated seeds. Default: 188,288,588,688,888 (accuracy: the seeds "
            "present).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def answer_set(themes, objects, seeds) -> dict:
    """The themes, objects and seeds chosen, each defaulting to the benchmark's."""
    from canvas_data.metrics.answers import SEEDS, THEMES
    from canvas_data.taxonomy import OBJECTS_20

    return {"themes": themes or THEMES, "objects": objects or OBJECTS_20, "seeds": seeds or SEEDS}
