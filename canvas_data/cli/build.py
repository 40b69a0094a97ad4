"""``canvas-build``: a thin command line over the stage functions of canvas_data."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data import __version__
from canvas_data.cli.common import (
    CONTEXT,
    NUM_SHARDS,
    PROGRESS,
    READ_WORK,
    RECIPE,
    REPAINT_STALE,
    SHARD_INDEX,
    WORK,
    CanvasGroup,
    objects_option,
    one_line_errors,
    out_folder,
    styles_option,
    threads_option,
    workers_option,
)
from canvas_data.cli.diffusers_options import backend_options, diffusers_options

STYLE_ORDERS = {"release-51": "50", "release-61": "60"}  # the class orders' names of 50 and 60


@click.group(cls=CanvasGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="canvas-build")
def main() -> None:
    """Build, pack and check UnlearnCanvas datasets.

    \b
    Stages, in order:
      sources   seed photos into WORK/Seed_Images/{Object}/{idx}.jpg
      stylize   paint them: WORK/{Style}/{Object}/{idx}.jpg
      shards    pack WORK into WebDataset tars + a dataset card
      verify    check a packed folder against its manifest
    `canvas-build demo` runs all four offline on bundled photos.
    """


@main.command()
@click.option(
    "--photos",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with one sub-folder of photos per object, named like the object (e.g. Cats/).",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV, TSV, JSONL or Parquet file of photo URLs: url, object, author, licence, "
    "source_page.",
)
@WORK
@RECIPE
@REPAINT_STALE
@click.option(
    "--per-object",
    type=click.IntRange(min=1),
    help="[manifest] Photos per object; stop there (default: the recipe's photos_per_object).",
)
@click.option(
    "--allow-unlicensed", is_flag=True, help="[manifest] Accept rows that name no licence."
)
@click.option(
    "--keep-duplicates", is_flag=True, help="[manifest] Keep near-duplicate photos (reported)."
)
@threads_option("[manifest] concurrent downloads", default=8, old=("--workers",))
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="[manifest] Seconds to connect and for each read.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="[manifest] Retries of a failed download, with exponential back-off.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=20_000_000,
    show_default=True,
    help="[manifest] Largest download accepted, in bytes.",
)
@PROGRESS
@one_line_errors
def sources(photos, manifest, work, recipe, repaint_stale, progress, **web) -> None:
    """Take seed photos from a folder (--photos) or from the web (--manifest) into the workspace.

    Applies EXIF orientation, converts to RGB, crops the centre square and resizes to the recipe's
    resolution. Unusable files are named with the reason and skipped; the input is never modified,
    and a rerun changes nothing. With --manifest, photos are downloaded with retries, checked,
    de-duplicated by perceptual hash and credited (author, licence) in their sidecars; a rerun
    downloads only what is missing and retries what failed. Report: WORK/reports/sources.json.
    Another recipe than the workspace's is refused unless --repaint-stale.
    """
    from canvas_data.recipe import workspace_recipe

    if (photos is None) == (manifest is None):
        raise click.UsageError("give exactly one of --photos FOLDER or --manifest FILE")
    ctx = click.get_current_context()
    if photos is not None:
        given = [n for n in web if ctx.get_parameter_source(n).name != "DEFAULT"]
        if given:
            flags = ", ".join("--" + n.replace("_", "-") for n in given)
            raise click.UsageError(f"{flags} only apply with --manifest")
        from canvas_data.intake.photos import intake_photos

        report = intake_photos(
            photos,
            work,
            workspace_recipe(work, recipe),
            progress=progress,
            repaint_stale=repaint_stale,
        )
    else:
        from canvas_data.intake.download import FetchOptions
        from canvas_data.intake.web_sources import fetch_sources

        fetch = FetchOptions(web["timeout"], web["retries"], max_bytes=web["max_bytes"])
        report = fetch_sources(
            manifest,
            work,
            workspace_recipe(work, recipe),
            per_object=web["per_object"],
            allow_unlicensed=web["allow_unlicensed"],
            keep_duplicates=web["keep_duplicates"],
            workers=web["threads"],
            options=fetch,
            progress=progress,
            repaint_stale=repaint_stale,
        )
    click.echo(report.summary())
    if not sum(report.accepted.values()):
        where = photos if photos is not None else manifest
        hint = "; ".join(f"{k}/ -> {v}?" for k, v in getattr(report, "near_misses", {}).items())
        raise click.ClickException(
            f"no usable photo in {where} for {', '.join(workspace_recipe(work, recipe).objects)}"
            + (f" (folders that look like objects: {hint})" if hint else "")
        )


@main.command()
@WORK
@click.option(
    "--backend",
    default="procedural",
    show_default=True,
    help="Stylizer: `procedural` (built-in, CPU), `diffusers` (Stable Diffusion img2img, "
    "GPU; needs --model and the [diffusers] extra) or `adain` (from reference paintings; "
    "needs --vgg, --decoder and --references).",
)
@RECIPE
@styles_option(
    "Comma-separated styles to paint, or `all`.", show_default="the recipe's", seed_images=False
)
@objects_option("Comma-separated objects.", show_default="the recipe's")
@workers_option("each paints seed photos with a CPU stylizer", show_default="CPUs")
@NUM_SHARDS
@SHARD_INDEX
@REPAINT_STALE
@diffusers_options
@PROGRESS
@one_line_errors
def stylize(
    work,
    backend,
    recipe,
    styles,
    objects,
    workers,
    num_shards,
    shard_index,
    repaint_stale,
    progress,
    **diffusion,
):
    """Paint every seed photo of WORK in every style of the recipe.

    Finished images are skipped, so a killed run resumes where it stopped. Each image gets a
    provenance sidecar ({idx}.json) and a per-item seed from (recipe seed, style, object, idx).
    Under torchrun or accelerate launch, each rank builds its share (RANK of WORLD_SIZE) on its
    own GPU (LOCAL_RANK). [diffusers] options default to the recipe's stylizers.diffusers values;
    with HF_HUB_OFFLINE=1 a Hub id must already be in the Hugging Face cache. The styles and
    objects asked and the stylizer settings are kept in WORK/build.json: other settings for a
    painted style are refused unless --repaint-stale, which also repaints paintings whose seed
    photo or settings changed since.
    """
    from canvas_data.recipe import workspace_recipe
    from canvas_data.stylizers.runner import StylizeOptions, stylize_workspace
    from canvas_data.work_share import share_from_env

    stylizer = backend_options(backend, diffusion)
    share = share_from_env(num_shards, shard_index)
    options = StylizeOptions(
        backend=backend,
        styles=None if styles == "all" else styles,
        objects=objects,
        workers=workers,
        num_shards=share[0],
        shard_index=share[1],
        stylizer=stylizer,
    )
    resolved = workspace_recipe(work, recipe)
    report = stylize_workspace(
        work, options, recipe=resolved, progress=progress, repaint_stale=repaint_stale
    )
    for key, reason in report.failed:
        click.echo(f"failed {key}: {reason}", err=True)
    if report.stale_left:
        from canvas_data.build_record import stale_line

        click.echo(f"warning: {stale_line(report.stale_left, work)}", err=True)
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)


@main.command()
@READ_WORK
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    required=True,
    help="Output folder: data/*.tar, manifest.json, README.md (the dataset card).",
)
@RECIPE
@click.option("--max-samples", type=click.IntRange(min=1), help="Samples per shard at most.")
@click.option("--max-bytes", type=click.IntRange(min=1), help="Image bytes per shard at most.")
@click.option(
    "--resolution",
    type=click.IntRange(min=8),
    help="Re-encode images at N x N (e.g. 512, a quick variant); default: bytes as they are.",
)
@styles_option(
    "Styles to pack: alone, 50 (the benchmark's subset, 51-way class order) or 60 (61-way); "
    "else comma-separated style names, or `all`.",
    show_default="the recipe's",
    seed_images=False,
    heads=True,
    words=tuple(STYLE_ORDERS),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["webdataset", "parquet", "both"]),
    default="webdataset",
    show_default=True,
    help="WebDataset tars under data/, Parquet files under parquet/, or both.",
)
@click.option(
    "--check",
    type=click.Choice(["header", "decode", "none"]),
    default="header",
    show_default=True,
    help="How each image is checked: header and end marker (fast), a full decode, or not.",
)
@PROGRESS
@one_line_errors
def shards(work, out, recipe, max_samples, max_bytes, resolution, styles, fmt, check, progress):
    """Pack WORK into WebDataset shards with train/test splits by seed photo.

    Image bytes are copied as they are (no re-encoding unless --resolution asks). The dataset
    card makes `load_dataset(OUT)` return labelled splits; manifest.json lists every shard with
    its sha256. Missing, unreadable and extra files are reported by name. Shards whose inputs
    did not change are kept on a rerun. WORK may be a copy of the release's folder. Without
    --styles, the styles and objects `stylize` was asked for (WORK/build.json) are packed;
    paintings whose seed photo or settings changed since they were made stop the run.
    """
    from canvas_data.pack.shards import PackOptions
    from canvas_data.pipeline import pack_dataset
    from canvas_data.recipe import workspace_recipe

    options = PackOptions(
        max_samples=max_samples,
        max_bytes=max_bytes,
        styles=_pack_styles(styles),
        resolution=resolution,
        formats=("webdataset", "parquet") if fmt == "both" else (fmt,),
        check=check,
    )
    resolved = workspace_recipe(work, recipe)
    report = pack_dataset(work, out, options, recipe=resolved, progress=progress)
    if report.missing:
        shown = ", ".join(report.missing[:10]) + (" ..." if len(report.missing) > 10 else "")
        click.echo(f"missing {len(report.missing)} images: {shown}", err=True)
    for path, reason in report.unreadable:
        click.echo(f"{path}: {reason}", err=True)
    if report.extra:
        shown = ", ".join(report.extra[:10]) + (" ..." if len(report.extra) > 10 else "")
        click.echo(f"extra files not packed ({len(report.extra)}): {shown}", err=True)
    if report.unknown_folders:
        click.echo(f"ignored folders outside the taxonomy: {report.unknown_folders}", err=True)
    _warn_load_path(out)
    click.echo(report.summary())


def _warn_load_path(folder: Path) -> None:
    from canvas_data.card.loading import load_path_warning

    warning = load_path_warning(folder)
    if warning:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@PROGRESS
def verify(folder: Path, progress: bool) -> None:
    """Check a packed FOLDER: re-hash shards, decode samples, compare counts.

    Exits non-zero and names the offending shard when anything differs from manifest.json.
    Tars and Parquet shards are both checked. A workspace (WORK/build.json or Seed_Images, no
    manifest) is checked against its build record: stale paintings and missing images the build
    asked for are named.
    """
    from canvas_data.pack.parquet import verify_packed

    report = verify_packed(folder, progress=progress)
    for problem in report.problems:
        click.echo(problem, err=True)
    _warn_load_path(folder)
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    default=Path("unlearncanvas"),
    show_default=True,
    help="Where the packed dataset goes.",
)
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    default=None,
    help="Workspace folder (default: OUT-work beside OUT).",
)
@click.option("--recipe", default="demo", show_default=True, help="Recipe name or YAML path.")
@workers_option("each paints seed photos", show_default="CPUs")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Build into OUT (and the workspace) even if they hold other files; files of the same "
    "name are replaced.",
)
@PROGRESS
@one_line_errors
def demo(out, work, recipe, workers, overwrite, progress):
    """Build a small UnlearnCanvas offline on a CPU and check it.

    All 60 styles over bundled real photos, 512 px: sources, stylize, shards, verify. OUT and the
    workspace must be new, empty or an earlier demo output, unless --overwrite.
    """
    from canvas_data.pipeline import run_demo

    result = run_demo(
        out,
        work=work,
        recipe=recipe,
        workers=workers,
        progress=progress,
        overwrite=overwrite,
        echo=click.echo,
    )
    if not result.ok:
        raise SystemExit(1)
    load_from = "" if result.out.resolve().parent == Path.cwd() else f"cd {result.out.parent} && "
    click.echo(f"\nBuilt {result.out}/ (workspace in {result.work}/). Load it with:")
    click.echo(
        f'  {load_from}python -c "from datasets import load_dataset; '
        f"print(load_dataset('{result.out.name}'))\""
    )


@main.command()
@one_line_errors
def recipes() -> None:
    """List the built-in recipes."""
    from canvas_data.recipe import builtin_recipes, load_recipe

    for name in builtin_recipes():
        r = load_recipe(name)
        click.echo(
            f"{name:15s} {len(r.styles)} styles x {len(r.objects)} objects x "
            f"{r.photos_per_object} photos at {r.resolution} px"
        )


# Commands defined in other modules (which import from cli.common, never from here) register
# below: `from canvas_data.cli.x import command` then `main.add_command(command)`.
# --- registered commands ---
from canvas_data.cli.release import export, import_hub, push  # noqa: E402

main.add_command(import_hub)
main.add_command(export)
main.add_command(push)
from canvas_data.cli.card import card, preview  # noqa: E402

main.add_command(preview)
main.add_command(card)


if __name__ == "__main__":
    main()


def _pack_styles(styles: str | list[str] | None) -> str | list[str] | None:
    """``--styles`` of ``shards``: a list of names, a class order's name (``release-51`` is
    ``50``), or ``all`` (``None``: what the build holds)."""
    if isinstance(styles, str):
        return None if styles == "all" else STYLE_ORDERS.get(styles, styles)
    return styles
