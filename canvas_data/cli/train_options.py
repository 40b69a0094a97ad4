"""The options and the check that the ``canvas-train`` commands share: the training packages
installed, ``--data``/``--out``, the training settings of ``style`` and ``object``, and the run,
device, dtype and batch size of ``evaluate`` and ``predict``."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from canvas_data.cli.common import (
    PROGRESS,
    default_cpus,
    device_option,
    dtype_option,
    out_folder,
    workers_option,
)

MISSING = (
    "canvas-train needs transformers, accelerate and safetensors: pip install 'canvas_data[train]'"
)


def require_training_stack() -> None:
    """Fail with one line when the optional training packages are not installed (importing
    them imports torch: call this once the arguments are checked)."""
    for module in ("transformers", "accelerate", "safetensors"):
        try:
            __import__(module)
        except ImportError as err:
            raise click.ClickException(f"{MISSING} ({err})") from err


def needs_training_stack(fn):
    """Check the optional training packages before the command runs."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        require_training_stack()
        return fn(*args, **kwargs)

    return wrapper


DATA = click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Packed dataset folder (written by `canvas-build shards` or `canvas-build demo`).",
)
OUT = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=out_folder,
    required=True,
    help="Run folder: checkpoints/, train.json, then model.safetensors, config.json, "
    "classes.json, metrics.json, confusion.png.",
)


WORKERS = workers_option(
    "DataLoader processes that read and decode images (0: in this process)",
    default=default_cpus(),
    show_default="min(8, CPUs)",
    minimum=0,
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
        WORKERS,
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


DEVICE = device_option("Where to run; auto: CUDA if available")
DTYPE = dtype_option("Classifier weights and activations")
BATCH = click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images per forward pass.",
)
RUN = click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
