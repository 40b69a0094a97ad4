"""``canvas-eval generate``: a model's answer set, one image per theme x object x seed."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data.cli.common import (
    NUM_SHARDS,
    PROGRESS,
    SHARD_INDEX,
    TORCH_THREADS,
    device_option,
    dtype_option,
    one_line_errors,
    out_folder,
    set_torch_threads,
)
from canvas_data.cli.eval_answer_set import answer_set, answer_set_options


class _BatchSize(click.ParamType):
    """A positive number of images, or ``auto``."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if value == "auto" or isinstance(value, int):
            return value
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            self.fail(f"{value!r} is neither a positive number nor auto", param, ctx)
        return number


BATCH_SIZE = _BatchSize()


@click.command()
@click.option(
    "--model", required=True, help="diffusers text-to-image checkpoint: a local folder or a Hub id."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    required=True,
    help="Answer folder to write (flat, or one folder per theme with --per-theme-folders).",
)
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit) of --model.")
@click.option(
    "--unet",
    default=None,
    help="A fine-tuned or unlearned UNet replacing the model's: a diffusers UNet folder, "
    "or a state-dict file (.safetensors, .bin, .pt, .pth, .ckpt) with diffusers keys.",
)
@answer_set_options
@click.option(
    "--steps", type=click.IntRange(min=1), default=100, show_default=True, help="Scheduler steps."
)
@click.option(
    "--guidance-scale",
    type=float,
    default=9.0,
    show_default=True,
    help="Classifier-free guidance scale.",
)
@click.option(
    "--resolution",
    type=click.IntRange(min=8),
    default=512,
    show_default=True,
    help="Image side in pixels (a multiple of 8).",
)
@click.option(
    "--scheduler",
    default="DDIMScheduler",
    show_default=True,
    help="Any diffusers scheduler class, built from the checkpoint's scheduler config.",
)
@click.option(
    "--prompt",
    default=None,
    help="Prompt: `release` (the release's unlearned-model samplers: 'A {object} image in "
    "{theme} style.', photos in 'Seed Images style.'), `release-fmn` (its FMN sampler: "
    "underscores kept, no period), `release-compvis` ('Photo style.'), `release-diffusers` "
    "('photo style', no period), or a template with {object}, {theme}, {theme_name}, "
    "{article}. Default: the canonical caption ('An Architectures image in Van Gogh style', "
    "photos in 'photo style').",
)
@click.option("--negative-prompt", default=None, help="Negative prompt for every image.")
@click.option(
    "--batch-size",
    type=BATCH_SIZE,
    default="auto",
    show_default=True,
    help="Images per pipeline call, or auto: on a GPU 32, halved after each out-of-memory "
    "error; on the CPU 4. Each image is the same whatever its batch.",
)
@click.option(
    "--compile/--no-compile",
    default=False,
    show_default=True,
    help="torch.compile the UNet; kept only if the first batch comes out the same (no pixel "
    "off by more than 2) as without it. Pays off on a GPU for a whole answer set.",
)
@device_option("Where to run; auto: this rank's GPU (LOCAL_RANK) if CUDA is available, else CPU")
@dtype_option("Weights and activations")
@click.option(
    "--jpeg-quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="JPEG quality of the written images.",
)
@click.option(
    "--safety-checker/--no-safety-checker",
    default=False,
    show_default=True,
    help="Keep the checkpoint's safety checker (flagged images are reported, not "
    "written). Off by default, as in the release's sampling.",
)
@click.option(
    "--per-theme-folders",
    is_flag=True,
    help="Write OUT/{Theme}/{Theme}_{Object}_seed{seed}.jpg instead of a flat folder.",
)
@click.option(
    "--target",
    default=None,
    help="A combination target Style:Object (Van_Gogh:Cats) whose cell --extra-seeds adds "
    "images to.",
)
@click.option(
    "--extra-seeds",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --target Style:Object: N more images of the target's cell, named "
    "{Style}_{Object}_fine_seed{seed}.jpg (seeds from 1000 up, none of the set's), that "
    "`accuracy --target Style:Object` adds to the cell's UA. The cells SC and OC read get none: "
    "they already average many cells.",
)
@TORCH_THREADS
@NUM_SHARDS
@SHARD_INDEX
@PROGRESS
@one_line_errors
def generate(
    out,
    themes,
    objects,
    seeds,
    target,
    extra_seeds,
    num_shards,
    shard_index,
    progress,
    threads,
    **settings,
):
    """Generate a model's answer set: every theme x object x seed, from its prompt.

    Defaults are the benchmark's: DDIM, 100 steps, guidance 9, 512 px, seeds 188 288 588 688
    888. Images that exist are skipped, so a killed run resumes where it stopped. Under torchrun
    or accelerate launch each rank generates its share (RANK of WORLD_SIZE) on its own GPU
    (LOCAL_RANK). With HF_HUB_OFFLINE=1 a Hub id must already be in the Hugging Face cache.
    """
    from canvas_data.metrics.answers import plan_fine_answers
    from canvas_data.metrics.finer_scale import parse_combination
    from canvas_data.metrics.generate import GenerateSettings, generate_answers
    from canvas_data.work_share import share_from_env

    chosen = answer_set(themes, objects, seeds)
    fine = []
    if target or extra_seeds:
        pair = parse_combination(target, chosen["themes"], chosen["objects"]) if target else None
        if pair is None or not extra_seeds:
            raise click.UsageError(
                "--target Style:Object and --extra-seeds N go together: N more images of that "
                "combination's cell"
            )
        fine = plan_fine_answers(*pair, extra_seeds, taken=chosen["seeds"])
    set_torch_threads(threads)  # the sampling loop is the one thing running
    share = share_from_env(num_shards, shard_index)
    report = generate_answers(
        out,
        GenerateSettings(**settings),
        **chosen,
        fine=fine,
        num_shards=share[0],
        shard_index=share[1],
        progress=progress,
    )
    for name, reason in report.failed:
        click.echo(f"failed {name}: {reason}", err=True)
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)
