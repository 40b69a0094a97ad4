"""Benchmark the diffusers stylizer: images per second against a naive loop, in one run.

Ours: ``DiffusersStylizer`` as ``canvas-build stylize --backend diffusers`` runs it: the model
loaded once, half precision on a GPU (``--dtype``), PyTorch's scaled-dot-product attention,
``--batch-size`` items of one style per pipeline call. The naive loop: the same checkpoint loaded
in float32 with diffusers' classic attention (``AttnProcessor``), one image per pipeline call.
Both paint the same photos with the same prompt, scheduler, steps, strength, guidance and
per-item seeds. Both are loaded at once; model loading and a warm-up are not timed, and timed
passes alternate between the two (``--rounds``, the median is reported).

The model is a random-weight pipeline of the real SD 1.5 or SDXL architecture (``--layout``),
built once into ``--cache`` (no download), or any diffusers folder given with ``--model``:

    python scripts/bench_stylize.py --layout sd15 --resolution 512 --batch-size 8 --device cuda
    python scripts/bench_stylize.py --layout sdxl --resolution 1024 --batch-size 4 --device cuda
    python scripts/bench_stylize.py --layout tiny --resolution 64 --device cpu   # smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from canvas_data.recipe import load_recipe
from canvas_data.stylizers.diffusers_backend import DiffusersStylizer
from canvas_data.stylizers.random_pipelines import LAYOUTS, build_pipeline
from canvas_data.workspace import Item, item_seed

STYLE = "Van_Gogh"


def photos(n: int, size: int) -> list[Image.Image]:
    """``n`` smooth random photos, ``size`` px square (content does not change the cost)."""
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(
            (size, size), Image.BICUBIC
        )
        for _ in range(n)
    ]


def model_folder(args: argparse.Namespace) -> Path:
    if args.model:
        return Path(args.model)
    folder = args.cache / args.layout
    if not (folder / "model_index.json").is_file():
        print(f"building a random-weight {args.layout} pipeline in {folder} ...", flush=True)
        gpu = args.device.startswith("cuda")
        build_pipeline(
            args.layout, folder, device=args.device if gpu else "cpu",
            dtype=torch.float16 if gpu else torch.float32,
        )  # fmt: skip
    return folder


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def naive(folder: Path, args, settings) -> Callable[[list[Image.Image], list[int]], None]:
    """A plain float32 loop: one image per pipeline call, classic (non-SDPA) attention."""
    from diffusers import AutoPipelineForImage2Image
    from diffusers.models.attention_processor import AttnProcessor

    from canvas_data.stylizers.diffusers_load import import_diffusers, scheduler_class

    import_diffusers()  # quiet progress bars, as ours has
    pipe = AutoPipelineForImage2Image.from_pretrained(folder, torch_dtype=torch.float32)
    pipe.scheduler = scheduler_class(settings["scheduler"]).from_config(pipe.scheduler.config)
    pipe.unet.set_attn_processor(AttnProcessor())
    pipe.vae.set_attn_processor(AttnProcessor())
    pipe.to(args.device).set_progress_bar_config(disable=True)

    def paint(photos: list[Image.Image], seeds: list[int]) -> None:
        for photo, seed in zip(photos, seeds, strict=True):
            pipe(
                prompt=settings["prompt"], negative_prompt=settings["negative_prompt"],
                image=photo, strength=args.strength, num_inference_steps=args.steps,
                guidance_scale=settings["guidance_scale"],
                generator=torch.Generator("cpu").manual_seed(seed),
            )  # fmt: skip

    return paint


def ours(folder: Path, args, recipe) -> Callable[[list[Image.Image], list[int]], None]:
    """The stylizer: batches of one style, half precision on a GPU, SDPA attention."""
    stylizer = DiffusersStylizer(
        recipe, model=str(folder), device=args.device, dtype=args.dtype,
        batch_size=args.batch_size, steps=args.steps, strength=args.strength,
        resolution=args.resolution,
    )  # fmt: skip
    spec, size = recipe.style(STYLE), stylizer.max_batch

    def paint(photos: list[Image.Image], seeds: list[int]) -> None:
        for i in range(0, len(photos), size):
            stylizer.stylize_batch(photos[i : i + size], spec, seeds[i : i + size])

    return paint


def rate(paint, photos: list[Image.Image], seeds: list[int], device: str) -> float:
    """Images per second of one pass of ``paint`` over ``photos``."""
    sync(device)
    start = time.perf_counter()
    paint(photos, seeds)
    sync(device)
    return len(photos) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layout", choices=LAYOUTS, default="sd15", help="random-weight architecture")
    ap.add_argument("--model", help="a diffusers img2img folder to use instead of --layout")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/canvas-bench-models"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="auto", help="ours: auto (float16 on a GPU), bfloat16, ...")
    ap.add_argument("--batch-size", type=int, default=8, help="ours: items per pipeline call")
    ap.add_argument("--images", type=int, default=16, help="images timed per path")
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--strength", type=float, default=0.6)
    ap.add_argument("--rounds", type=int, default=3, help="timed passes per path (median)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)

    recipe = load_recipe("unlearncanvas")
    spec, options = recipe.style(STYLE), recipe.stylizer_options("diffusers")
    settings = {
        "prompt": spec.prompt,
        "negative_prompt": spec.negative_prompt or options.get("negative_prompt"),
        "guidance_scale": options.get("guidance_scale", 7.5),
        "scheduler": options.get("scheduler", "DPMSolverMultistepScheduler"),
    }
    folder = model_folder(args)
    inputs = photos(args.images, args.resolution)
    seeds = [item_seed(recipe.seed, Item(STYLE, "Cats", i + 1)) for i in range(args.images)]
    paths = {"naive": naive(folder, args, settings), "ours": ours(folder, args, recipe)}
    for paint in paths.values():  # warm-up, not timed
        paint(inputs[: args.batch_size], seeds[: args.batch_size])
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.rounds):  # alternate, so that a busy machine slows both alike
        for name, paint in paths.items():
            rates[name].append(rate(paint, inputs, seeds, args.device))
    rate_naive, rate_ours = (statistics.median(rates[n]) for n in ("naive", "ours"))
    gpu = args.device.startswith("cuda")
    device = torch.cuda.get_device_name() if gpu else platform.processor()
    result = {
        "model": args.model or f"random-weight {args.layout}",
        "device": f"{args.device} ({device or platform.machine()})",
        "resolution": args.resolution,
        "steps": args.steps,
        "strength": args.strength,
        "images": args.images,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "naive_images_per_s": round(rate_naive, 3),
        "ours_images_per_s": round(rate_ours, 3),
        "speedup": round(rate_ours / rate_naive, 2),
        "torch": torch.__version__,
    }
    print(
        f"{result['model']} on {result['device']}, {args.resolution} px, {args.steps} steps x "
        f"strength {args.strength}, {args.images} images per pass, median of {args.rounds}\n"
        f"  naive (float32, classic attention, 1 image per call): {rate_naive:.3f} images/s\n"
        f"  ours  (dtype {args.dtype}, SDPA, batches of {args.batch_size}): "
        f"{rate_ours:.3f} images/s\n"
        f"  speed-up: {result['speedup']:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
