"""The options of ``canvas-build stylize`` that only the model backends take: ``diffusers``, and
``adain`` (which shares ``--device``, ``--dtype``, ``--batch-size`` and ``--resolution``)."""

from __future__ import annotations

from typing import Any

import click

from canvas_data.cli.common import device_option, dtype_option

_OPTIONS = [
    click.option(
        "--model",
        help="[diffusers] A diffusers img2img checkpoint (SD 1.x, 2.x, SDXL): a local folder or a "
        "Hub id, e.g. stable-diffusion-v1-5/stable-diffusion-v1-5. Required for this backend "
        "unless the recipe sets stylizers.diffusers.model.",
    ),
    click.option("--revision", help="[diffusers] Hub revision (branch, tag or commit) of --model."),
    device_option(
        "[diffusers, adain] Where to run; auto: this rank's GPU (LOCAL_RANK) if CUDA is available",
        default=None,
        show_default="auto",
    ),
    dtype_option("[diffusers, adain] Weights and activations", default=None, show_default="auto"),
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        help="[diffusers, adain] Items of one style per forward pass (default: diffusers 4, "
        "adain 8 on a GPU; 1 on the CPU).",
    ),
    click.option(
        "--strength",
        type=click.FloatRange(0, 1, min_open=True),
        help="[diffusers] How far from the photo to go, 0-1 (recipe default: 0.6).",
    ),
    click.option(
        "--steps",
        type=click.IntRange(min=1),
        help="[diffusers] Scheduler steps; img2img runs about strength x steps (recipe: 30).",
    ),
    click.option(
        "--guidance-scale",
        type=click.FloatRange(min=0),
        help="[diffusers] Classifier-free guidance scale (recipe default: 7.5).",
    ),
    click.option(
        "--scheduler",
        help="[diffusers] A diffusers scheduler class, e.g. DPMSolverMultistepScheduler, "
        "EulerDiscreteScheduler (default: the recipe's, else the checkpoint's).",
    ),
    click.option(
        "--resolution",
        type=click.IntRange(min=8),
        help="[diffusers, adain] Output side in pixels, a multiple of 8 (default: the recipe's).",
    ),
    click.option(
        "--controlnet",
        help="[diffusers] A ControlNet (folder or Hub id, e.g. lllyasviel/sd-controlnet-canny) "
        "fed with the seed photo's Canny edges, to keep the object recognisable.",
    ),
    click.option(
        "--controlnet-scale",
        type=click.FloatRange(min=0),
        help="[diffusers] ControlNet conditioning scale (default: 0.8).",
    ),
    click.option(
        "--controlnet-input",
        type=click.Choice(["canny", "photo"]),
        help="[diffusers] What the ControlNet sees: the photo's Canny edges (default) or the photo "
        "itself (tile and similar ControlNets).",
    ),
    click.option(
        "--ip-adapter",
        help="[diffusers] An IP-Adapter (folder or Hub id, e.g. h94/IP-Adapter) that paints in "
        "the style of --style-references.",
    ),
    click.option(
        "--ip-adapter-weight",
        help="[diffusers] SUBFOLDER/FILE of the IP-Adapter weights (default: "
        "models/ip-adapter_sd15.safetensors, or sdxl_models/ip-adapter_sdxl.safetensors "
        "for SDXL); its image encoder is read from SUBFOLDER/image_encoder.",
    ),
    click.option(
        "--ip-adapter-scale",
        type=click.FloatRange(min=0),
        help="[diffusers] Weight of the style references (default: 0.6).",
    ),
    click.option(
        "--style-references",
        type=click.Path(exists=True, file_okay=False),
        help="[diffusers] Folder of style reference images, DIR/{Style}/... at any depth (a copy "
        "of the release works); a few per style feed the IP-Adapter.",
    ),
    click.option(
        "--references-per-style",
        type=click.IntRange(min=1),
        help="[diffusers] Reference images per style, spread over the style's files (default: 4).",
    ),
    click.option(
        "--vgg",
        type=click.Path(dir_okay=False),
        help="[adain] Encoder weights: pytorch-AdaIN's vgg_normalised.pth (or torchvision's "
        "vgg19 state dict).",
    ),
    click.option(
        "--decoder",
        type=click.Path(dir_okay=False),
        help="[adain] Decoder weights: pytorch-AdaIN's decoder.pth.",
    ),
    click.option(
        "--references",
        type=click.Path(exists=True, file_okay=False),
        help="[adain] Folder of style reference images, DIR/{Style}/... at any depth (a copy of "
        "the release works); each item is painted from one, chosen by its seed. A style's "
        "styles.{Style}.references in the recipe wins.",
    ),
    click.option(
        "--alpha",
        type=click.FloatRange(0, 1),
        help="[adain] Content-style trade-off, 1 = all style (default: 1).",
    ),
]

NAMES = [
    "model", "revision", "device", "dtype", "batch_size", "strength", "steps", "guidance_scale",
    "scheduler", "resolution", "controlnet", "controlnet_scale", "controlnet_input", "ip_adapter",
    "ip_adapter_weight", "ip_adapter_scale", "style_references", "references_per_style",
]  # fmt: skip


def diffusers_options(fn):
    """Add every ``[diffusers]`` option to a click command."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


ADAIN_NAMES = ["vgg", "decoder", "references", "alpha", "device", "dtype", "batch_size",
               "resolution"]  # fmt: skip
BACKENDS = {"diffusers": NAMES, "adain": ADAIN_NAMES}


def backend_options(backend: str, given: dict[str, Any]) -> dict[str, Any]:
    """The model backends' options that were given, checked against the backend."""
    known = {*NAMES, *ADAIN_NAMES}
    options = {k: v for k, v in given.items() if k in known and v is not None}
    wrong = [k for k in options if k not in BACKENDS.get(backend, ())]
    if wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in wrong)
        takers = [b for b, names in BACKENDS.items() if all(k in names for k in wrong)]
        where = " or ".join(f"--backend {b}" for b in takers) or "another backend"
        raise click.UsageError(f"{flags} only apply with {where}")
    return options
