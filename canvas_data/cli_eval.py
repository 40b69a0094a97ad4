"""``canvas-eval``: the unlearning metrics, from a model's answer set to the benchmark's table."""

from __future__ import annotations

import os
from pathlib import Path

import click

from canvas_data import __version__
from canvas_data.cli_common import NUM_SHARDS, PROGRESS, SHARD_INDEX, names, one_line_errors

SHOWN = 20  # missing, extra or unreadable files printed before "... and N more"

DECODE_WORKERS = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=min(8, os.cpu_count() or 1),
    show_default="min(8, CPUs)",
    help="Threads that decode images.",
)
DEVICE = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA if available), cpu, cuda, cuda:N.",
)


def _seeds(ctx, param, value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"seeds must be integers separated by commas: {value}") from None


def _list(title: str, entries: list[str]) -> None:
    if not entries:
        return
    click.echo(f"{title} ({len(entries)}):", err=True)
    for entry in entries[:SHOWN]:
        click.echo(f"  {entry}", err=True)
    if len(entries) > SHOWN:
        click.echo(f"  ... and {len(entries) - SHOWN} more (all in the result file)", err=True)


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
            help="Comma-separated seeds. Default: 188,288,588,688,888.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _set(themes, objects, seeds) -> dict:
    from canvas_data.answers import SEEDS, THEMES
    from canvas_data.taxonomy import OBJECTS_20

    return {"themes": themes or THEMES, "objects": objects or OBJECTS_20, "seeds": seeds or SEEDS}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="canvas-eval")
def main() -> None:
    """Score (unlearned) text-to-image models on UnlearnCanvas.

    \b
    Stages, in order:
      generate   a model's answer set: {Theme}_{Object}_seed{seed}.jpg
      accuracy   classify it: per-concept accuracy, UA, IRA, CRA for the target
      summarize  many results into the benchmark's table (+ heat maps)
      fid        standard FID of an answer set against reference images
    """


@main.command()
@click.option(
    "--model", required=True, help="diffusers text-to-image checkpoint: a local folder or a Hub id."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
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
    help="Prompt template: `release` (the release's sampling prompt, 'A {object} image "
    "in {theme} style.'), or a string with {object}, {theme}, {article}. Default: the "
    "canonical caption ('An Architectures image in Van Gogh style', photos in "
    "'photo style').",
)
@click.option("--negative-prompt", default=None, help="Negative prompt for every image.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Images per pipeline call. Default: 8 on a GPU, 1 on the CPU.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (this rank's GPU, LOCAL_RANK, if CUDA is available, else the CPU), cuda, "
    "cuda:N, mps, cpu.",
)
@click.option(
    "--dtype",
    default="auto",
    show_default=True,
    help="auto (float16 on a GPU, float32 on the CPU), float32, float16, bfloat16.",
)
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
@NUM_SHARDS
@SHARD_INDEX
@PROGRESS
@one_line_errors
def generate(out, themes, objects, seeds, num_shards, shard_index, progress, **settings):
    """Generate a model's answer set: every theme x object x seed, from its prompt.

    Defaults are the benchmark's: DDIM, 100 steps, guidance 9, 512 px, seeds 188 288 588 688
    888. Images that exist are skipped, so a killed run resumes where it stopped. Under torchrun
    or accelerate launch each rank generates its share (RANK of WORLD_SIZE) on its own GPU
    (LOCAL_RANK). With HF_HUB_OFFLINE=1 a Hub id must already be in the Hugging Face cache.
    """
    from canvas_data.generate_answers import GenerateSettings, generate_answers
    from canvas_data.work_share import share_from_env

    share = share_from_env(num_shards, shard_index)
    report = generate_answers(
        out,
        GenerateSettings(**settings),
        **_set(themes, objects, seeds),
        num_shards=share[0],
        shard_index=share[1],
        progress=progress,
    )
    for name, reason in report.failed:
        click.echo(f"failed {name}: {reason}", err=True)
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)


@main.command()
@click.option(
    "--answers",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Answer folder: {Theme}_{Object}_seed{seed}.jpg, flat or in one folder per theme.",
)
@click.option(
    "--style-classifier",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Run folder of the style classifier (`canvas-train style` or "
    "`canvas-train import-release`).",
)
@click.option(
    "--object-classifier",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Run folder of the object classifier.",
)
@click.option(
    "--target",
    default=None,
    help="The theme or object the model was made to forget: UA, IRA and CRA are "
    "computed for it. Leave out for a model before unlearning.",
)
@click.option(
    "--method",
    default=None,
    help="The unlearning method, a row of the summary table. Default: the name of "
    "the folder the result file is in.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Result file (JSON). Default: ANSWERS/accuracy.json.",
)
@answer_set_options
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images per classifier call.",
)
@DECODE_WORKERS
@DEVICE
@click.option(
    "--dtype",
    default="auto",
    show_default=True,
    help="auto (float16 on a GPU, float32 on the CPU), float32, float16, bfloat16.",
)
@PROGRESS
@one_line_errors
def accuracy(
    answers,
    style_classifier,
    object_classifier,
    target,
    method,
    out,
    themes,
    objects,
    seeds,
    batch_size,
    workers,
    device,
    dtype,
    progress,
):
    """Classify an answer set and score it: per-concept accuracy, UA, IRA and CRA.

    Missing files, extra files (names outside the answer set, second copies, images in the
    wrong theme folder) and unreadable images are listed; the rest is scored.
    """
    from canvas_data.accuracy import evaluate_answers
    from canvas_data.atomic import write_json
    from canvas_data.classifier import load_classifier

    _quiet_transformers()
    sources, loaded = {}, {}
    for task, run in (("style", style_classifier), ("object", object_classifier)):
        loaded[task] = load_classifier(run, device=device, dtype=dtype)
        sources[task] = {"run": str(run), "classes": loaded[task].classes}
    result = evaluate_answers(
        answers,
        loaded["style"],
        loaded["object"],
        target=target,
        method=method,
        **_set(themes, objects, seeds),
        batch_size=batch_size,
        workers=workers,
        progress=progress,
        sources=sources,
    )
    out = out or answers / "accuracy.json"
    write_json(out, result)
    _list("missing", result["missing"])
    _list("extra", [f"{e['path']}: {e['reason']}" for e in result["extra"]])
    _list("unreadable", [e["reason"] for e in result["unreadable"]])
    _report_accuracy(result)
    click.echo(f"wrote {out}")


def _quiet_transformers() -> None:
    """No per-tensor loading bars from transformers: one bar per stage is enough."""
    try:
        import transformers
    except ImportError:
        return
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _report_accuracy(result: dict) -> None:
    images = result["images"]
    click.echo(
        f"{images['classified']} of {images['expected']} answer images classified "
        f"({images['missing']} missing, {images['extra']} extra, "
        f"{images['unreadable']} unreadable)"
    )
    for task in ("style", "object"):
        table = result[f"{task}_accuracy"]
        values = [v["accuracy"] for v in table.values() if v["accuracy"] is not None]
        mean = f"{100 * sum(values) / len(values):.2f}%" if values else "—"
        click.echo(f"{task} accuracy, mean over {len(values)} concepts: {mean}")
    if result["scores"]:
        cells = [
            f"{k} {'—' if v is None else f'{100 * v:.2f}%'}" for k, v in result["scores"].items()
        ]
        click.echo(f"target {result['target']} ({result['domain']}): " + ", ".join(cells))


@main.command()
@click.argument(
    "results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for table.md, table.csv, table.json and heatmap-{method}.png.",
)
@one_line_errors
def summarize(results, out):
    """Turn many results into the benchmark's table.

    RESULTS are files written by `canvas-eval accuracy` (one per unlearned model and target) and,
    optionally, by `canvas-eval fid`. Rows are methods (each result's --method, else the name of
    its folder); UA, IRA and CRA are averaged over style targets and, apart, over object targets;
    FID is the mean of the method's FID results.
    """
    from canvas_data.summarize import summarize as write_summary

    written = write_summary(list(results), out)
    click.echo(written["markdown"].read_text(), nl=False)
    for path in written.values():
        click.echo(f"wrote {path}")


@main.command()
@click.option(
    "--answers",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Folder of generated images (searched at any depth).",
)
@click.option(
    "--reference",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="Folder of reference images (any depth; e.g. a copy of the dataset), or an "
    ".npz file written by --save-reference-stats.",
)
@click.option(
    "--inception",
    default=None,
    help="Inception file: pytorch-fid's weights-only pt_inception-2015-12-05-6726825d.pth "
    "(preferred: read with torch.load(weights_only=True), no code runs), or NVIDIA's TorchScript "
    "inception-2015-12-05.pt (a program, not just weights: loading it runs its code, so use "
    "only a copy from NVIDIA's URL). Default: $CANVAS_INCEPTION, else the first of these two "
    "in ~/.cache/canvas_data/.",
)
@click.option(
    "--save-reference-stats",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also keep the reference statistics in this .npz file, to pass "
    "as --reference for the next models.",
)
@click.option("--method", default=None, help="The unlearning method (the row in the summary).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Result file (JSON). Default: ANSWERS/fid.json.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=2),
    default=50,
    show_default=True,
    help="Images per Inception call.",
)
@DECODE_WORKERS
@DEVICE
@PROGRESS
@one_line_errors
def fid(
    answers,
    reference,
    inception,
    save_reference_stats,
    method,
    out,
    batch_size,
    workers,
    device,
    progress,
):
    """Standard FID of an answer set against reference images.

    torchmetrics' FrechetInceptionDistance on the 2048-d features of the FID Inception network,
    read from a local file (nothing is downloaded); every image is resized to 299 x 299 with
    Pillow's bicubic filter. Not comparable with the release's FID (see the README).

    The TorchScript file is a program: torch.jit.load runs the code it holds, so load only a
    file you trust (its sha256 is in the result). The pytorch-fid state dict is weights only.
    """
    from canvas_data.atomic import write_json
    from canvas_data.fid import compute_fid

    result = compute_fid(
        answers,
        reference,
        weights=inception,
        device=device,
        batch_size=batch_size,
        workers=workers,
        save_reference=save_reference_stats,
        progress=progress,
    )
    result["method"] = method
    out = out or answers / "fid.json"
    write_json(out, result)
    _list("unreadable", [e["reason"] for e in result["unreadable"]])
    n = result["images"]
    click.echo(f"FID {result['fid']:.3f} ({n['answers']} answers, {n['reference']} reference)")
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
