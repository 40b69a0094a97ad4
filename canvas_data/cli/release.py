"""``canvas-build`` commands that bring the release in and give builds back: import-hub, export,
push."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data.cli.common import PROGRESS, RECIPE, WORK, names, one_line_errors, out_folder

SHOWN = 20  # problems listed one per line before the rest is summed up


def echo_problems(lines: list[str], what: str) -> None:
    """One line per problem on stderr, the first ``SHOWN`` of them, then how many more."""
    for line in lines[:SHOWN]:
        click.echo(line, err=True)
    if len(lines) > SHOWN:
        click.echo(f"... and {len(lines) - SHOWN} more {what}", err=True)


@click.command("import-hub")
@click.argument("parquet_dir", type=click.Path(exists=True, path_type=Path))
@WORK
@RECIPE
@click.option(
    "--match-photos",
    is_flag=True,
    help="Place rows without a file path: paintings at the index of the seed photo they match "
    "by structure; seed photos at the index of the paintings with a path they match, else "
    "numbered by content (sha256 order).",
)
@PROGRESS
@one_line_errors
def import_hub(
    parquet_dir: Path, work: Path, recipe: str | None, match_photos: bool, progress: bool
) -> None:
    """Import the release's Hub Parquet shards (PARQUET_DIR, or one file) into WORK.

    Reads the `image` and `text` columns a few rows at a time (one image at a time from large row
    groups), takes the style and object from the caption and the photo index from the stored path,
    and writes WORK/{Style}/{Object}/{idx}.jpg with a provenance sidecar. Rows without a path are
    held aside, and the command fails saying how many, unless --match-photos places them (each
    match's margin in its sidecar; low-confidence ones listed). Rows that cannot be placed, and
    files that are not Parquet or are damaged, are listed with file, row and reason (also in
    WORK/reports/import-hub.json). Files already imported are skipped on a rerun (a rerun with
    --match-photos places what an earlier run held aside). Then: canvas-build shards --work WORK.
    """
    from canvas_data.intake.photo_matching import LOW_MARGIN
    from canvas_data.intake.release_import import import_hub_parquet

    report = import_hub_parquet(
        parquet_dir, work, recipe=recipe, progress=progress, match_photos=match_photos
    )
    echo_problems([f"{where}: {reason}" for where, reason in report.rejected], "rejected rows")
    echo_problems([f"{where}: {reason}" for where, reason in report.unmatched], "unmatched rows")
    low = [
        f"{c['where']}: {c['image']} matches {c['match']} with a low margin ({c['margin']})"
        for c in report.low_confidence
    ]
    echo_problems(low, f"matches with a margin below {LOW_MARGIN}")
    click.echo(report.summary())
    if report.held and not match_photos:
        raise click.ClickException(
            f"{report.held} rows have no file path, so their photo index is unknown and row order "
            f"does not tell it; they are held aside in {work}/.import/pending. Rerun with "
            "--match-photos to pair each painting with its seed photo by image similarity."
        )
    if report.held:
        raise click.ClickException(
            f"{report.held} rows without a file path could not be matched (listed above); "
            f"they stay held aside in {work}/.import/pending"
        )
    if report.rejected and not report.placed and not report.files_reused:
        raise click.ClickException(
            f"{parquet_dir}: nothing imported, every row or file was rejected (listed above)"
        )


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--layout",
    type=click.Choice(["release"]),
    default="release",
    show_default=True,
    help="release: {Style}/{Object}/{idx}.jpg plus metadata.jsonl (file_name, text).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    required=True,
    help="Folder to write the export to.",
)
@click.option("--split", "splits", callback=names, help="Comma-separated splits (default: all).")
@click.option("--sidecars/--no-sidecars", default=True, help="Write provenance {idx}.json files.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Export into OUT even if it holds other files; files of the same name are replaced.",
)
@PROGRESS
@one_line_errors
def export(
    folder: Path, layout: str, out: Path, splits, sidecars: bool, overwrite: bool, progress: bool
) -> None:
    """Write a packed FOLDER back in the release's folder layout.

    The images keep their bytes; metadata.jsonl holds one {"file_name", "text"} line per image,
    which `load_dataset("imagefolder", data_dir=OUT)` and diffusers' text-to-image training
    (--train_data_dir OUT) read. `canvas-build shards --work OUT` packs it again. OUT must be
    new, empty or an earlier export (which the run resumes), unless --overwrite.
    """
    from canvas_data.pack.export import export_release

    report = export_release(
        folder,
        out,
        layout=layout,
        splits=splits,
        sidecars=sidecars,
        progress=progress,
        overwrite=overwrite,
    )
    click.echo(report.summary())


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--repo-id", required=True, help="Dataset repository on the Hub: ORG/NAME.")
@click.option("--dry-run", is_flag=True, help="List what would be uploaded; contact nothing.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", default=None, help="Branch to upload to (default: main).")
@one_line_errors
def push(folder: Path, repo_id: str, dry_run: bool, private: bool, revision: str | None) -> None:
    """Upload a packed FOLDER to the Hugging Face Hub as a dataset repository.

    Checks the card first (configs match the files, features parse, no loading script, shards
    as in the manifest) and refuses a folder with problems. The upload skips what is already
    there, so a rerun resumes. Hidden files and folders (.pack/, ...) are never uploaded.
    Authenticate with `hf auth login` or HF_TOKEN.
    """
    from canvas_data.pack.push import plan_push, push_folder

    plan = plan_push(folder)
    if plan.problems:
        echo_problems(plan.problems, "problems")
        raise click.ClickException(f"{folder}: not uploaded, {len(plan.problems)} problems")
    if dry_run:
        for rel, size in plan.files:
            click.echo(f"{size:>14,}  {rel}")
        click.echo(f"dry run: would upload {plan.summary()} to datasets/{repo_id}")
        return
    try:
        push_folder(folder, repo_id, private=private, revision=revision)
    except (ConnectionError, OSError) as err:
        raise click.ClickException(f"upload to {repo_id} failed: {err}") from err
    click.echo(f"uploaded {plan.summary()} to https://huggingface.co/datasets/{repo_id}")
