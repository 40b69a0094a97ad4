"""``canvas-train``: train, import, evaluate and apply the style and object classifiers."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from canvas_data import __version__
from canvas_data.cli.common import PROGRESS, CanvasGroup, one_line_errors

MISSING = (
    "canvas-train needs transformers, accelerate and safetensors: pip install 'canvas_data[train]'"
)


def needs_training_stack(fn):
    """Fail with one line when the optional training packages are not installed."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for module in ("transformers", "accelerate", "safetensors"):
            try:
                __import__(module)
            except ImportError as err:
                raise click.ClickException(f"{MISSING} ({err})") from err
        return fn(*args, **kwargs)

    return wrapper


@click.group(cls=CanvasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="canvas-train")
def main() -> None:
    """Train, import and apply the reference classifiers of the UnlearnCanvas metrics.

    \b
      style           fine-tune a ViT to tell styles apart (61-way by default)
      object          fine-tune a ViT to tell objects apart (20-way)
      import-release  convert a released timm checkpoint into a run folder
      evaluate        score a run folder on a split of a packed dataset
      predict         classify image files with a run folder
    """


DATA = click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Packed dataset folder (written by `canvas-build shards` or `canvas-build demo`).",
)
OUT = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Run folder: checkpoints/, train.json, then model.safetensors, config.json, "
    "classes.json, metrics.json, confusion.png.",
)


def training_options(fn):
    """The options that style and object training share."""
    options = [
        click.option(
            "--model",
            "backbone",
            default=None,
            help="Backbone: a Hub id or local folder of ViT weights (head replaced), `tiny` (a "
            "small random ViT for quick CPU runs), or a ViTConfig JSON file (random weights). "
            "Default: google/vit-large-patch16-224-in21k.",
        ),
        click.option(
            "--image-size",
            type=click.IntRange(min=16),
            default=None,
            help="Input size in pixels, for `tiny` or a config file only (pretrained backbones "
            "keep theirs). Default 224.",
        ),
        click.option(
            "--epochs",
            type=click.FloatRange(min=0, min_open=True),
            default=10.0,
            show_default=True,
            help="Passes over the training split.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=32,
            show_default=True,
            help="Images per device and step (validation uses the same).",
        ),
        click.option(
            "--grad-accum",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Steps whose gradients add up before each optimizer update.",
        ),
        click.option(
            "--lr",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Peak learning rate (AdamW). Default: 3e-5 for pretrained weights, "
            "1e-3 for random ones.",
        ),
        click.option(
            "--weight-decay",
            type=click.FloatRange(min=0),
            default=0.05,
            show_default=True,
            help="AdamW weight decay.",
        ),
        click.option(
            "--warmup",
            type=click.FloatRange(0, 1, max_open=True),
            default=0.1,
            show_default=True,
            help="Share of all optimizer steps spent warming up linearly, before the cosine decay.",
        ),
        click.option(
            "--label-smoothing",
            type=click.FloatRange(0, 1, max_open=True),
            default=0.1,
            show_default=True,
            help="Label smoothing of the loss.",
        ),
        click.option(
            "--augment",
            type=click.Choice(["crop-flip", "flip", "none"]),
            default="crop-flip",
            show_default=True,
            help="Training augmentation: a random crop of 7/8 of the side and a "
            "horizontal flip, the flip alone, or none.",
        ),
        click.option(
            "--precision",
            type=click.Choice(["auto", "fp32", "fp16", "bf16"]),
            default="auto",
            show_default=True,
            help="auto: bf16 mixed precision on GPUs that have it, else fp16; fp32 on the CPU.",
        ),
        click.option(
            "--eval-steps",
            type=click.IntRange(min=1),
            default=None,
            help="Validate and save a checkpoint every N optimizer steps. Default: once per epoch.",
        ),
        click.option(
            "--eval-split",
            default="test",
            show_default=True,
            help="The split that validates and picks the best checkpoint.",
        ),
        click.option(
            "--seed",
            type=int,
            default=0,
            show_default=True,
            help="Seeds the initial head, the data order and the augmentations.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=0),
            default=min(8, os.cpu_count() or 1),
            show_default="min(8, CPUs)",
            help="DataLoader worker processes.",
        ),
        click.option(
            "--resume",
            is_flag=True,
            help="Continue the run in --out from its "
            "newest checkpoint (start afresh if it has none).",
        ),
        PROGRESS,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _train(task: str, spec: str, data: Path, out: Path, backbone: str | None, **opts) -> None:
    from canvas_data.classify.classifier import DEFAULT_BACKBONE
    from canvas_data.classify.train import train_classifier
    from canvas_data.classify.train_settings import TrainSettings, resolve_classes

    names = [s.strip() for s in spec.split(",") if s.strip()]
    order, classes = resolve_classes(task, names[0] if len(names) == 1 else names, data)
    resume, progress = opts.pop("resume"), opts.pop("progress")
    settings = TrainSettings(
        task=task, classes=classes, order=order, backbone=backbone or DEFAULT_BACKBONE, **opts
    )
    result = train_classifier(
        data, out, settings, resume=resume, progress=progress, echo=click.echo
    )
    if result.evaluation is None:
        click.echo(f"{out}: stopped at step {result.global_step} of {result.max_steps}")
        return
    ev = result.evaluation
    best = ev.extra["training"]["best_checkpoint"]
    click.echo(
        f"{out}: top-1 {100 * ev.top1:.1f}% on {len(ev.true)} {ev.split} images "
        f"({len(ev.classes)} classes, best {best}); wrote model.safetensors, config.json, "
        "classes.json, metrics.json, confusion.png"
    )


@main.command()
@DATA
@OUT
@click.option(
    "--styles",
    "spec",
    default="dataset",
    show_default=True,
    help="Head classes: `dataset` (the build's taxonomy: the release's 61-way order for a "
    "release build), `built` (the styles that have training images), `60` (the release's "
    "61-way head), `50` (its 51-way head), or comma-separated style names.",
)
@training_options
@one_line_errors
@needs_training_stack
def style(data: Path, out: Path, spec: str, backbone: str | None, **opts) -> None:
    """Fine-tune the style classifier on DATA into the run folder OUT."""
    _train("style", spec, data, out, backbone, **opts)


@main.command("object")
@DATA
@OUT
@click.option(
    "--objects",
    "spec",
    default="dataset",
    show_default=True,
    help="Head classes: `dataset` (the build's taxonomy: the release's 20 objects for a "
    "release build), `built` (the objects that have training images), `20` (the release's "
    "order), or comma-separated object names.",
)
@training_options
@one_line_errors
@needs_training_stack
def object_(data: Path, out: Path, spec: str, backbone: str | None, **opts) -> None:
    """Fine-tune the object classifier on DATA into the run folder OUT."""
    _train("object", spec, data, out, backbone, **opts)


@main.command("import-release")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--task",
    type=click.Choice(["style", "object"]),
    required=True,
    help="What the checkpoint classifies.",
)
@click.option(
    "--styles",
    type=click.Choice(["50", "60"]),
    default=None,
    help="Style heads: 60 for the 61-way head, 50 for the 51-way one. Default: from the size "
    "of the checkpoint's head.",
)
@click.option(
    "--heads",
    type=click.IntRange(min=1),
    default=None,
    help="Attention heads (not stored in the weights). Default: width / 64, as "
    "timm's ViTs (16 for ViT-L).",
)
@OUT
@one_line_errors
@needs_training_stack
def import_release(
    checkpoint: Path, task: str, styles: str | None, heads: int | None, out: Path
) -> None:
    """Convert a released classifier CHECKPOINT (timm ViT, `model_state_dict`) into a run
    folder OUT. Read with weights_only=True: nothing but tensors is unpickled."""
    from canvas_data.classify.release_checkpoint import import_release as convert

    info = convert(checkpoint, task, out, styles=int(styles) if styles else None, heads=heads)
    click.echo(
        f"{out}: {len(info.classes)}-way {task} classifier ({info.order} order), "
        f"{info.image_size} px, from {checkpoint.name}"
    )


DEVICE = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA if available), cpu, cuda, cuda:N.",
)
DTYPE = click.option(
    "--dtype",
    type=click.Choice(["auto", "float32", "float16", "bfloat16"]),
    default="auto",
    show_default=True,
    help="auto: float16 on a GPU, float32 on the CPU.",
)
BATCH = click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images per forward pass.",
)
RUN = click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))


@main.command()
@RUN
@DATA
@click.option("--split", default="test", show_default=True, help="The split to score.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where metrics.json and confusion.png go. Default: RUN.",
)
@BATCH
@DEVICE
@DTYPE
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=min(8, os.cpu_count() or 1),
    show_default="min(8, CPUs)",
    help="DataLoader worker processes.",
)
@PROGRESS
@one_line_errors
@needs_training_stack
def evaluate(
    run: Path,
    data: Path,
    split: str,
    out: Path | None,
    batch_size: int,
    device: str,
    dtype: str,
    workers: int,
    progress: bool,
) -> None:
    """Score the classifier in RUN on a split of DATA: metrics.json and confusion.png."""
    from canvas_data.classify.classifier import load_classifier
    from canvas_data.classify.evaluate import evaluate_classifier

    classifier = load_classifier(run, device=device, dtype=dtype)
    ev = evaluate_classifier(
        classifier, data, split=split, batch_size=batch_size, workers=workers, progress=progress
    )
    ev.extra["data"] = str(data)
    metrics, png = ev.write(out or run)
    top1 = f"top-1 {100 * ev.top1:.1f}% on {len(ev.true)} {split} images"
    click.echo(f"{top1}; wrote {metrics}, {png}")


@main.command()
@RUN
@click.argument(
    "images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Classes to print per image, most probable first.",
)
@BATCH
@DEVICE
@DTYPE
@PROGRESS
@one_line_errors
@needs_training_stack
def predict(
    run: Path,
    images: tuple[Path, ...],
    top: int,
    batch_size: int,
    device: str,
    dtype: str,
    progress: bool,
) -> None:
    """Classify IMAGES with the classifier in RUN: one line per image, `path<TAB>class<TAB>prob`."""
    from canvas_data.classify.classifier import load_classifier

    classifier = load_classifier(run, device=device, dtype=dtype)
    found = classifier.predict(images, batch_size=batch_size, progress=progress)
    for path, ranked in zip(images, found.top(top), strict=True):
        click.echo("\t".join([str(path), *(f"{name}\t{p:.4f}" for name, p in ranked)]))


if __name__ == "__main__":
    main()
