"""Benchmark the loaders: images per second for 256 and 512 px outputs from 1024 px shards.

Ours: ``text_to_image(DIR, streaming=True)`` reading the tars, decoding each JPEG once at the
smallest scale the output needs, resizing with albumentations; and the same with
``cache_dir=...``, whose first epoch decodes and writes the decode cache and whose later epochs
read it. The naive baseline, as the release's loaders do: open each JPEG file with Pillow, decode
it at full size, resize. All make the same uint8 arrays of the same images, in the same run, on
the same machine; the ratio of single-process rates is the speed-up per worker. Ours is also
timed through a DataLoader with 1 and 2 workers (persistent workers, steady state: the first
epoch is not timed). Where the time goes is printed too: the naive full decode and resize, and
our decode at the scale it uses and at 1/8 (what no DCT scale skips: the entropy decoding).

The data: a recipe extending ``demo`` at 1024 px (JPEG quality 95), a few styles painted by the
built-in CPU stylizer over the bundled photos, packed into shards. It is built once into
``--work`` and reused.

    python scripts/bench_loader.py [--work /tmp/canvas-bench] [--styles 8] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL
import yaml
from PIL import Image, features
from torch.utils.data import DataLoader

from canvas_data.images.decode import decode_image
from canvas_data.intake.bundled_photos import write_bundled_photos
from canvas_data.intake.photos import intake_photos
from canvas_data.loading.loaders import text_to_image
from canvas_data.loading.transforms import resize_transform
from canvas_data.pack.shard_index import ShardIndex
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import stylize_workspace

# Styles whose paintings differ most in texture (flat, stroked, dotted, tiled, line work).
BENCH_STYLES = [
    "Van_Gogh", "Pointillism", "Mosaic", "Watercolor", "Pencil_Drawing", "Pop_Art",
    "Ukiyoe", "Impasto", "Neon_Lines", "Cubism", "Monet", "Winter",
]  # fmt: skip


def build(work_root: Path, n_styles: int, quality: int) -> tuple[Path, Path]:
    """Build (or reuse) the 1024 px benchmark dataset; returns (shards folder, workspace)."""
    work_root.mkdir(parents=True, exist_ok=True)
    spec = {
        "extends": "demo",
        "name": "bench-1024",
        "build": {
            "styles": BENCH_STYLES[:n_styles],
            "resolution": 1024,
            "jpeg_quality": quality,
        },
        "shards": {"max_samples": 32},
    }
    recipe_file = work_root / "bench.yaml"
    recipe_file.write_text(yaml.safe_dump(spec))
    recipe = load_recipe(recipe_file)
    work, out = work_root / "work", work_root / "shards"
    intake_photos(write_bundled_photos(work / ".bundled-photos"), work, recipe, progress=False)
    stylize_workspace(work, recipe=recipe, progress=True)
    pack_dataset(work, out, recipe=recipe, progress=False)
    return out, work


def naive(paths: list[Path], size: int) -> int:
    """The release's way: one file at a time, full decode, Pillow resize."""
    for path in paths:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
        assert arr.shape == (size, size, 3)
    return len(paths)


def ours(
    root: Path, size: int, workers: int = 0, cache_dir: Path | None = None
) -> Callable[[], int]:
    """A function that reads one epoch through our streaming loader; returns images read."""
    ds = text_to_image(root, streaming=True, transform=resize_transform(size), cache_dir=cache_dir)
    if workers == 0:

        def one_epoch() -> int:
            n = 0
            for ex in ds:
                assert ex["image"].shape == (size, size, 3)
                n += 1
            return n

        return one_epoch
    loader = DataLoader(ds, batch_size=16, num_workers=workers, persistent_workers=True)
    sum(len(b["key"]) for b in loader)  # start the workers; not timed
    return lambda: sum(len(b["key"]) for b in loader)


def breakdown(paths: list[Path], size: int) -> dict[str, float]:
    """CPU milliseconds per image of each step, on the same files (best of 5 interleaved passes)."""
    blobs = [p.read_bytes() for p in paths]
    with Image.open(io.BytesIO(blobs[0])) as img:
        stored = img.size
    full = [decode_image(b) for b in blobs[:16]]
    steps = {
        "naive_full_decode": lambda: [Image.open(io.BytesIO(b)).load() for b in blobs],
        "naive_resize": lambda: [
            Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR) for a in full
        ],
        "ours_decode": lambda: [decode_image(b, min_size=size) for b in blobs],
        "eighth_scale_decode": lambda: [
            decode_image(b, min_size=(stored[0] // 8, stored[1] // 8)) for b in blobs
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(5):  # steps interleaved, so a change of machine load hits all alike
        for name, step in steps.items():
            count = len(full) if name == "naive_resize" else len(blobs)
            cpu = time.process_time()
            step()
            times[name].append((time.process_time() - cpu) / count * 1e3)
    return {name: min(t) for name, t in times.items()}


def rate(fn: Callable[[], int]) -> tuple[float, float]:
    """Images per second of wall-clock time, and per second of this process's CPU time."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def print_row(size: int, row: dict, workers: list[int]) -> None:
    """Print one output size's results."""

    def scaling(name: str) -> str:
        return ", ".join(
            f"{w} worker{'s' if w > 1 else ''} {row[f'{name}_{w}_workers_wall']:.0f}"
            for w in workers
        )

    ms = row["ms_per_image"]
    print(
        f"{size} px, one process, img per CPU-second: naive {row['naive_cpu']:.0f}; ours "
        f"{row['ours_cpu']:.0f} -> {row['ours_ratio_cpu']:.2f}x per worker (passes "
        f"{row['ours_ratio_cpu_range'][0]:.2f}-{row['ours_ratio_cpu_range'][1]:.2f}x; wall "
        f"{row['ours_ratio_wall']:.2f}x)"
    )
    print(
        f"  with the decode cache: first epoch {row['filling_cpu']:.0f} "
        f"({row['filling_ratio_cpu']:.2f}x), later epochs {row['cached_cpu']:.0f} -> "
        f"{row['cached_ratio_cpu']:.2f}x per worker (passes "
        f"{row['cached_ratio_cpu_range'][0]:.2f}-{row['cached_ratio_cpu_range'][1]:.2f}x; wall "
        f"{row['cached_ratio_wall']:.2f}x); a whole run averages "
        f"{row['run_2_epochs_ratio_cpu']:.2f}x over 2 epochs, "
        f"{row['run_10_epochs_ratio_cpu']:.2f}x over 10"
    )
    print(f"  DataLoader, img/s (wall): ours {scaling('ours')}; cached {scaling('cached')}")
    print(
        f"  CPU ms per image: naive full decode {ms['naive_full_decode']:.2f} + resize "
        f"{ms['naive_resize']:.2f}; our decode {ms['ours_decode']:.2f}, of which at least "
        f"{ms['eighth_scale_decode']:.2f} is entropy decoding (a 1/8-scale decode)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/canvas-bench"))
    parser.add_argument("--styles", type=int, default=8, help="styles to build (max 12)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality of the build")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7, help="timed passes per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    out, work = build(args.work, min(args.styles, len(BENCH_STYLES)), args.quality)
    keys = ShardIndex(out, ("train",)).split_keys["train"]
    paths = [work / f"{key}.jpg" for key in keys]
    sizes_kb = [p.stat().st_size / 1e3 for p in paths]
    with Image.open(paths[0]) as img:
        stored = img.size
    load_before = os.getloadavg()
    print(
        f"data: {len(paths)} train images, {stored[0]}x{stored[1]} px JPEG (quality "
        f"{args.quality}, mean {statistics.mean(sizes_kb):.0f} KB), built here from the bundled "
        f"photos by the CPU stylizer; shards in {out}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, Pillow {PIL.__version__} (libjpeg-turbo: "
        f"{features.check_feature('libjpeg_turbo')}); load average before: "
        f"{load_before[0]:.2f}"
    )
    results: dict[str, dict[str, object]] = {}
    for size in args.sizes:
        naive(paths[:4], size)  # warm the page cache and imports
        cache_dir = args.work / f"decode-cache-{size}"
        mine, cached = ours(out, size), ours(out, size, cache_dir=cache_dir)
        mine()
        rates: dict[str, list[tuple[float, float]]] = {
            "naive": [], "ours": [], "filling": [], "cached": []
        }  # fmt: skip
        for _ in range(args.repeats):  # interleaved, so load from other work hits all alike
            rates["naive"].append(rate(lambda size=size: naive(paths, size)))
            rates["ours"].append(rate(mine))
            shutil.rmtree(cache_dir, ignore_errors=True)
            rates["filling"].append(rate(cached))  # a first epoch: decodes, writes the cache
            rates["cached"].append(rate(cached))  # a later epoch: reads it
        row: dict[str, object] = {}
        for clock, i in (("wall", 0), ("cpu", 1)):
            for name, runs in rates.items():
                row[f"{name}_{clock}"] = statistics.median(r[i] for r in runs)
            for epochs in (2, 10):  # a run's mean rate: one filling epoch, then cached ones
                run = epochs / (1 / row[f"filling_{clock}"] + (epochs - 1) / row[f"cached_{clock}"])
                row[f"run_{epochs}_epochs_ratio_{clock}"] = run / row[f"naive_{clock}"]
            for name in ("ours", "filling", "cached"):
                ratios = [o[i] / n[i] for o, n in zip(rates[name], rates["naive"], strict=True)]
                row[f"{name}_ratio_{clock}"] = statistics.median(ratios)
                row[f"{name}_ratio_{clock}_range"] = (min(ratios), max(ratios))
        for workers in args.workers:
            for name, cache in (("ours", None), ("cached", cache_dir)):
                loader_epoch = ours(out, size, workers, cache)
                row[f"{name}_{workers}_workers_wall"] = statistics.median(
                    rate(loader_epoch)[0] for _ in range(args.repeats)
                )
        row["ms_per_image"] = breakdown(paths, size)
        results[str(size)] = row
        print_row(size, row, args.workers)
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} (above 0 means other work shared the CPUs)")
    if args.json:
        report = {
            "images": len(paths),
            "stored_px": stored,
            "mean_kb": statistics.mean(sizes_kb),
            "cpu_count": os.cpu_count(),
            "load_average": [load_before[0], load_after[0]],
            "results": results,
        }
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
