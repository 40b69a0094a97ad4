"""Options and error handling shared by the command modules of ``canvas-build``."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from canvas_data.errors import DEBUG_ENV, expected_errors, one_line

# Not errors: click's own ways of ending a command (usage errors exit with 2).
_PASS_THROUGH = (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit)


def debugging(ctx: click.Context | None = None) -> bool:
    """Whether a traceback was asked for: the group's ``--debug`` or ``CANVAS_DEBUG=1``."""
    if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
        return True
    ctx = ctx or click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get("canvas_debug"))


def as_click_error(err: Exception, ctx: click.Context | None = None) -> click.ClickException:
    """The one-line error printed for ``err``; a bug of the toolkit says how to see more."""
    if isinstance(err, expected_errors()):
        return click.ClickException(one_line(err))
    return click.ClickException(
        f"internal error ({type(err).__name__}: {one_line(err)}); "
        "rerun with --debug for the traceback"
    )


def one_line_errors(fn):
    """Turn failures of one command into a one-line error (the command groups do this too)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except Exception as err:
            if debugging():
                raise
            raise as_click_error(err) from err

    return wrapper


def _set_debug(ctx: click.Context, param, value: bool) -> None:
    if value:
        ctx.meta["canvas_debug"] = True


class CanvasGroup(click.Group):
    """A command group whose every command fails with one line, ``Error: <path>: <reason>``.

    Adds the group option ``--debug`` (or ``CANVAS_DEBUG=1``) to show the traceback instead.
    Usage errors keep click's message and exit code 2.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(
            click.Option(
                ["--debug"],
                is_flag=True,
                expose_value=False,
                callback=_set_debug,
                help=f"Show the Python traceback of an error (or set {DEBUG_ENV}=1).",
            )
        )

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except Exception as err:
            if debugging(ctx):
                raise
            raise as_click_error(err, ctx) from err


CanvasGroup.group_class = type  # sub-groups are CanvasGroups too


def out_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Option callback: refuse an output folder that cannot be written, before any work
    (``canvas_data.out_paths.check_out``), in one line naming the path that blocks."""
    return _check_out(ctx, value, file=False)


def out_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Option callback: as :func:`out_folder`, for an output file."""
    return _check_out(ctx, value, file=True)


def _check_out(ctx: click.Context, value: Path | None, file: bool) -> Path | None:
    from canvas_data.out_paths import check_out

    if value is not None:
        try:
            check_out(value, file=file)
        except (OSError, ValueError) as err:
            if debugging(ctx):
                raise
            raise click.ClickException(one_line(err)) from err
    return value


def names(ctx, param, value: str | None) -> list[str] | None:
    """Parse a comma-separated list of names."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


WORK = click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    callback=out_folder,
    help="Workspace folder, in the release's layout: {Style}/{Object}/{idx}.jpg.",
)
RECIPE = click.option(
    "--recipe",
    default=None,
    help="Built-in recipe name (see `canvas-build recipes`) or a YAML path. "
    "Default: the recipe kept in the workspace, else `unlearncanvas`.",
)
READ_WORK = click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Workspace folder, in the release's layout: {Style}/{Object}/{idx}.jpg.",
)  # the workspace of a command that only reads it: it need not be writable
REPAINT_STALE = click.option(
    "--repaint-stale",
    is_flag=True,
    help="Go on where the workspace's build record (WORK/build.json) disagrees, and repaint "
    "the paintings whose seed photo or settings have changed since.",
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
TORCH_THREADS = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    show_default="usable cores less --workers, at least 1",
    help="Threads of torch's CPU kernels. Default: the cores this process may use (affinity "
    "mask, cgroup quota) less the workers the command starts beside torch.",
)


def set_torch_threads(threads: int | None, workers: int = 0):
    """Torch's CPU threads for a command (``canvas_data.threads``): ``--threads``, else the
    usable cores less the command's ``workers``; a busy machine is warned about on stderr."""
    from canvas_data.threads import use_torch_threads

    choice = use_torch_threads(threads, workers)
    if choice.busy:
        click.echo(f"warning: {choice.busy}", err=True)
    return choice
