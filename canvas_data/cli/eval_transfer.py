"""``canvas-eval style-transfer``: ``generate`` (a method over the benchmark's triplets) and
``score`` (ViT loss, VGG style and content losses, style accuracy)."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_data.cli.common import (
    NUM_SHARDS,
    PROGRESS,
    SHARD_INDEX,
    CanvasGroup,
    device_option,
    dtype_option,
    names,
    one_line_errors,
    out_file,
    out_folder,
)

DATA = click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Packed dataset folder: test photos are the contents, train paintings the references.",
)
STYLES = click.option(
    "--styles",
    callback=names,
    default=None,
    help="Comma-separated styles, or 50 / 60 (the release's sets) or all. Default: every "
    "painted style of --data.",
)
OBJECTS = click.option(
    "--objects", callback=names, default=None, help="Comma-separated objects. Default: all."
)
DEVICE = device_option("Where to run (auto: this rank's GPU, LOCAL_RANK, if CUDA is available)")
DTYPE = dtype_option("Weights and activations")
RESOLUTION = click.option(
    "--resolution",
    type=click.IntRange(min=8),
    default=512,
    show_default=True,
    help="Image side in pixels (the release's 512; a multiple of 8).",
)


@click.group("style-transfer", cls=CanvasGroup)
def style_transfer() -> None:
    """The style-transfer benchmark: a method over every (content photo, style reference,
    ground truth) triplet, then its outputs scored.

    \b
      generate  OUT/{Style}/{Object}_test{t}_ref{k}.jpg, as the release names them
      score     ViT loss, VGG style and content losses, style accuracy: one JSON result
    """


@style_transfer.command()
@click.option(
    "--method",
    default="adain",
    show_default=True,
    help="A style-transfer method (built in: adain), or a stylizer backend that paints from "
    "reference images.",
)
@DATA
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    required=True,
    help="Output folder: {Style}/{Object}_test{t}_ref{k}.jpg and transfer.json.",
)
@STYLES
@OBJECTS
@click.option(
    "--vgg",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="AdaIN's encoder weights: pytorch-AdaIN's vgg_normalised.pth, or torchvision's vgg19 "
    "state dict.",
)
@click.option(
    "--decoder",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="AdaIN's decoder weights: pytorch-AdaIN's decoder.pth.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="AdaIN's content-style trade-off (1: all style).",
)
@RESOLUTION
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Triplets per forward pass.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Base of the per-image seeds (for methods with randomness).",
)
@click.option(
    "--jpeg-quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="JPEG quality of the written images.",
)
@DEVICE
@DTYPE
@NUM_SHARDS
@SHARD_INDEX
@PROGRESS
@one_line_errors
def generate(
    method,
    data,
    out,
    styles,
    objects,
    vgg,
    decoder,
    alpha,
    resolution,
    batch_size,
    seed,
    jpeg_quality,
    device,
    dtype,
    num_shards,
    shard_index,
    progress,
):
    """Run a method over every triplet of DATA (or --styles x --objects) into OUT.

    Outputs that exist and decode are skipped, so a killed run resumes. Under torchrun each
    rank paints its share (RANK of WORLD_SIZE) on its own GPU (LOCAL_RANK).
    """
    from canvas_data.transfer.generate import generate_transfers
    from canvas_data.transfer.methods import MethodOptions
    from canvas_data.work_share import share_from_env

    k, i = share_from_env(num_shards, shard_index)
    options = MethodOptions(
        vgg=vgg, decoder=decoder, device=device, dtype=dtype, resolution=resolution, alpha=alpha
    )
    report = generate_transfers(
        data,
        out,
        method,
        options,
        styles=styles,
        objects=objects,
        batch_size=batch_size,
        seed=seed,
        jpeg_quality=jpeg_quality,
        num_shards=k,
        shard_index=i,
        progress=progress,
    )
    for name, reason in report.failed[:20]:
        click.echo(f"failed {name}: {reason}", err=True)
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)


@style_transfer.command()
@click.option(
    "--answers",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Output folder of `style-transfer generate` (or any method's, in the release's names).",
)
@DATA
@click.option(
    "--style-classifier",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Run folder of the style classifier (`canvas-train style` or `import-release`).",
)
@click.option(
    "--vgg",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="VGG-19 weights for the style and content losses: pytorch-AdaIN's "
    "vgg_normalised.pth (as the release), or torchvision's vgg19 state dict.",
)
@STYLES
@OBJECTS
@click.option(
    "--method",
    default=None,
    help="The method's name in the summary table. Default: `method` of ANSWERS/transfer.json, "
    "else the answers folder's name.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=out_file,
    default=None,
    help="Result file (JSON). Default: style-transfer.json in the answers folder.",
)
@RESOLUTION
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Outputs per forward pass.",
)
@DEVICE
@dtype_option(
    "Of the classifier and the VGG: float32 (the default) as the release computes its losses",
    default="float32",
)
@PROGRESS
@one_line_errors
def score(
    answers,
    data,
    style_classifier,
    vgg,
    styles,
    objects,
    method,
    out,
    resolution,
    batch_size,
    device,
    dtype,
    progress,
):
    """Score the outputs in ANSWERS: ViT loss, VGG style and content losses, style accuracy;
    per (style, object), per style and overall (mean and std)."""
    import json

    from canvas_data.atomic import write_json
    from canvas_data.transfer.generate import SETTINGS_FILE
    from canvas_data.transfer.score import ScoreSettings, score_transfers

    if method is None:
        settings_file = answers / SETTINGS_FILE
        if settings_file.is_file():
            try:
                method = json.loads(settings_file.read_text(encoding="utf-8")).get("method")
            except (ValueError, AttributeError):
                method = None
        method = method or answers.resolve().name
    settings = ScoreSettings(
        resolution=resolution, device=device, dtype=dtype, batch_size=batch_size
    )
    result = score_transfers(
        answers,
        data,
        style_classifier,
        vgg,
        settings,
        styles=styles,
        objects=objects,
        method=method,
        progress=progress,
    )
    out = out or answers / "style-transfer.json"
    write_json(out, result)
    overall = result["scores"]["overall"]
    images = result["images"]
    click.echo(
        f"{method}: ViT loss {overall['vit_loss']['mean']:.4g}, style loss "
        f"{overall['style_loss']['mean']:.4g}, content loss {overall['content_loss']['mean']:.4g}, "
        f"style accuracy {overall['style_accuracy']['accuracy']:.1%} over {images['scored']} "
        f"outputs ({images['missing']} missing, {images['unreadable']} unreadable, "
        f"{images['extra']} extra files not scored) -> {out}"
    )
