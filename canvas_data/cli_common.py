"""Options and error handling shared by the command modules of ``canvas-build``."""

from __future__ import annotations

import functools
from pathlib import Path

import click

EXPECTED_ERRORS = (FileNotFoundError, NotADirectoryError, ValueError, KeyError)


def one_line_errors(fn):
    """Turn expected failures (bad paths, bad recipes, bad names) into a one-line error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EXPECTED_ERRORS as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise click.ClickException(str(message)) from err

    return wrapper


def names(ctx, param, value: str | None) -> list[str] | None:
    """Parse a comma-separated list of names."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


WORK = click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Workspace folder, in the release's layout: {Style}/{Object}/{idx}.jpg.",
)
RECIPE = click.option(
    "--recipe",
    default=None,
    help="Built-in recipe name (see `canvas-build recipes`) or a YAML path. "
    "Default: the recipe kept in the workspace, else `unlearncanvas`.",
)
PROGRESS = click.option("--progress/--no-progress", default=True, help="Show progress bars.")


NUM_SHARDS = click.option(
    "--num-shards",
    type=click.IntRange(min=1),
    default=None,
    help="Split the work into K deterministic shares (default: WORLD_SIZE or 1).",
)
SHARD_INDEX = click.option(
    "--shard-index",
    type=click.IntRange(min=0),
    default=None,
    help="Which share this process does (default: RANK or 0).",
)
