"""Options and error handling shared by the commands of ``canvas-build``, ``canvas-train`` and
``canvas-eval``: one vocabulary (``--styles``, ``--workers``, ``--threads``, ``--dtype``, ...) and
one-line errors."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import click

from canvas_data.errors import DEBUG_ENV, expected_errors, one_line

# Every group: -h as --help, and every option's default shown in --help.
CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}

INTERRUPTED = 130  # the exit code of a command stopped by Ctrl-C (128 + SIGINT)

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
    Usage errors keep click's message and exit code 2; Ctrl-C exits with 130.
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
        except KeyboardInterrupt:  # Ctrl-C: the shell's code for SIGINT, no traceback
            if debugging(ctx):
                raise
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
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


# --- the shared vocabulary of canvas-build, canvas-train and canvas-eval --------------------
# One name, one meaning in the three commands: --styles (a comma list; 50, 60 and all
# understood), --workers (processes), --threads (threads), --dtype (one choice list). Older
# spellings stay as hidden aliases: the option parses them, --help shows the first name only.

DTYPES = ("auto", "float32", "float16", "bfloat16")
ALL = "all"


class Aliased(click.Option):
    """An option with older spellings: every name parses, ``--help`` shows the first only."""

    def get_help_record(self, ctx: click.Context):
        shown, self.opts = self.opts, self.opts[:1]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def parse_styles(
    value: str | None,
    *,
    seed_images: bool = True,
    heads: bool = False,
    words: tuple[str, ...] = (),
) -> str | list[str] | None:
    """A ``--styles`` value: names separated by commas, where ``50`` stands for the benchmark's
    50 styles and ``60`` for all 60 (release order), so ``50,Seed_Images`` works too.

    Returns ``None`` for no value; a word alone (``all``, one of ``words``, or ``50``/``60`` where
    ``heads``: the release's 51- or 61-way class order) as that word; else the list of names,
    each once. ``Seed_Images`` (the photos) is refused unless ``seed_images``. Raises
    ``click.BadParameter``.
    """
    from canvas_data.taxonomy import SEED_STYLE, STYLES_50, STYLES_60

    if value is None or not value.strip():
        return None
    tokens = [t.strip() for t in value.split(",") if t.strip()]
    if not tokens:
        raise click.BadParameter(f"no style named in {value!r}")
    if len(tokens) == 1:
        word = tokens[0].lower() if tokens[0].lower() == ALL else tokens[0]
        if word == ALL or word in words or (heads and word in ("50", "60")):
            return word
    keywords = (ALL, *words)
    misplaced = [t for t in tokens if t.lower() in keywords]
    if misplaced:
        raise click.BadParameter(f"{misplaced[0]!r} stands alone, not in a list: {value}")
    sets = {"50": STYLES_50, "60": STYLES_60}
    found: dict[str, None] = {}
    for token in tokens:
        for name in sets.get(token, (token,)):
            found[name] = None
    if not seed_images and SEED_STYLE in found:
        raise click.BadParameter(f"{SEED_STYLE} is the photos, not a style, here")
    return list(found)


def styles_option(
    help: str,
    *,
    default: str | None = None,
    show_default: bool | str = True,
    seed_images: bool = True,
    heads: bool = False,
    words: tuple[str, ...] = (),
    old: tuple[str, ...] = (),
    dest: str = "styles",
):
    """The ``--styles`` option (older spellings in ``old``), parsed by :func:`parse_styles`."""

    def callback(ctx, param, value):
        return parse_styles(value, seed_images=seed_images, heads=heads, words=words)

    return click.option(
        "--styles",
        *old,
        dest,
        cls=Aliased,
        default=default,
        show_default=show_default,
        callback=callback,
        help=help + " `50`: the benchmark's 50 styles, `60`: all 60, in lists too.",
    )


def objects_option(help: str, *, show_default: bool | str = True, old: tuple[str, ...] = ()):
    """The ``--objects`` option: object names separated by commas."""
    return click.option(
        "--objects", *old, cls=Aliased, callback=names, show_default=show_default, help=help
    )


def workers_option(
    what: str,
    *,
    default: int | None = None,
    show_default: bool | str = True,
    minimum: int = 1,
    old: tuple[str, ...] = (),
):
    """``--workers``: always a number of worker processes (``what`` they do)."""
    return click.option(
        "--workers",
        *old,
        "workers",
        cls=Aliased,
        type=click.IntRange(min=minimum),
        default=default,
        show_default=show_default,
        help=f"Worker processes: {what}.",
    )


def threads_option(
    what: str,
    *,
    default: int | None = None,
    show_default: bool | str = True,
    old: tuple[str, ...] = (),
):
    """``--threads``: always a number of threads in this process (``what`` they do)."""
    return click.option(
        "--threads",
        *old,
        "threads",
        cls=Aliased,
        type=click.IntRange(min=1),
        default=default,
        show_default=show_default,
        help=f"Threads: {what}.",
    )


def dtype_option(what: str, *, default: str | None = "auto", show_default: bool | str = True):
    """``--dtype``: one choice list everywhere, ``auto`` being float16 on a GPU, float32 on the
    CPU."""
    return click.option(
        "--dtype",
        type=click.Choice(DTYPES),
        default=default,
        show_default=show_default,
        help=f"{what}; auto: float16 on a GPU, float32 on the CPU.",
    )


def default_cpus(limit: int = 8) -> int:
    """``min(limit, CPUs this process may use)``: the default of thread and process counts."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(limit, cpus))


DEVICE_NAMES = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _device(ctx, param, value: str | None) -> str | None:
    if value is not None and not DEVICE_NAMES.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not auto, cpu, cuda, cuda:N or mps")
    return value


def device_option(what: str, *, default: str | None = "auto", show_default: bool | str = True):
    """``--device``: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, checked before torch is
    imported."""
    return click.option(
        "--device",
        default=default,
        show_default=show_default,
        callback=_device,
        help=f"{what}: auto, cpu, cuda, cuda:N or mps.",
    )


def default_output(path: Path, option: str = "--out") -> Path:
    """Where a command writes when ``option`` was not given: beside its input, never over a file
    that is there already (one line saying how to replace it), checked as an ``--out``."""
    if path.exists() or path.is_symlink():
        raise click.ClickException(
            f"{path}: exists; pass {option} {path} to replace it, or another {option}"
        )
    return _check_out(click.get_current_context(silent=True), path, file=True)


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
