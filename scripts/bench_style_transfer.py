"""Benchmark AdaIN style transfer: batched (as ``canvas-eval style-transfer generate`` runs it)
against one pair at a time (as the release's ``unlearn_canvas_batch_test.py`` loops and
pytorch-AdaIN's ``test.py`` do), on the same weights and images, in one run.

Both use ``canvas_data.transfer.methods.AdaINMethod`` with random weights in pytorch-AdaIN's
layout (``--width`` 1 is the real VGG-19 and decoder; speed does not depend on the weights, and
the files are written once to a temporary folder), and the same ``--images`` random content and
style pictures of ``--resolution`` px. Batched: ``--batch-size`` pairs per forward pass, float16
on a GPU by default. One at a time: a forward pass per pair, float32. Timed passes alternate after
a warm-up; the median of ``--rounds`` is reported in images/s, with the ratio, and the largest
pixel difference between the two (float16 rounding on a GPU).

    python scripts/bench_style_transfer.py --device cuda --images 64 --batch-size 16
    python scripts/bench_style_transfer.py --device cpu --images 8 --batch-size 4 --resolution 128
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from canvas_data.transfer.adain import decoder_layers
from canvas_data.transfer.methods import AdaINMethod, MethodOptions
from canvas_data.transfer.vgg import vgg_layers


def _weights(folder: Path, width: float) -> tuple[Path, Path]:
    gen = torch.Generator().manual_seed(0)
    paths = []
    for name, net in (
        ("vgg_normalised.pth", vgg_layers(width)),
        ("decoder.pth", decoder_layers(width)),
    ):
        with torch.no_grad():
            for p in net.parameters():
                scale = (2.0 / p[0].numel()) ** 0.5 if p.ndim > 1 else 0.05
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
        torch.save(net.state_dict(), folder / name)
        paths.append(folder / name)
    return paths[0], paths[1]


def _images(n: int, side: int, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(n)
    ]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batched(method, contents, refs, batch_size):
    out = []
    for at in range(0, len(contents), batch_size):
        chunk = slice(at, at + batch_size)
        seeds = list(range(at, at + len(contents[chunk])))
        out += method.transfer(contents[chunk], refs[chunk], seeds)
    return out


def _one_by_one(method, contents, refs):
    return [
        method.transfer([c], [r], [i])[0]
        for i, (c, r) in enumerate(zip(contents, refs, strict=True))
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto", help="of the batched run (the loop: float32)")
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier (1: real)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        vgg, decoder = _weights(Path(tmp), args.width)
        common = {
            "vgg": vgg,
            "decoder": decoder,
            "device": args.device,
            "resolution": args.resolution,
        }
        fast = AdaINMethod(MethodOptions(**common, dtype=args.dtype))
        loop = AdaINMethod(MethodOptions(**common, dtype="float32"))
    contents, refs = (
        _images(args.images, args.resolution, 1),
        _images(args.images, args.resolution, 2),
    )
    _batched(fast, contents[: args.batch_size], refs[: args.batch_size], args.batch_size)  # warm-up
    _one_by_one(loop, contents[:1], refs[:1])
    times = {"batched": [], "one_at_a_time": []}
    outs = {}
    for _ in range(args.rounds):
        for name, run in (
            ("batched", lambda: _batched(fast, contents, refs, args.batch_size)),
            ("one_at_a_time", lambda: _one_by_one(loop, contents, refs)),
        ):
            _sync(fast.device)
            start = time.perf_counter()
            outs[name] = run()
            _sync(fast.device)
            times[name].append(time.perf_counter() - start)
    rate = {k: args.images / statistics.median(v) for k, v in times.items()}
    diff = max(
        int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max())
        for a, b in zip(outs["batched"], outs["one_at_a_time"], strict=True)
    )
    device = fast.device
    result = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "images": args.images,
        "resolution": args.resolution,
        "width": args.width,
        "batch_size": args.batch_size,
        "dtype_batched": str(fast.dtype).removeprefix("torch."),
        "images_per_s": {k: round(v, 3) for k, v in rate.items()},
        "speedup": round(rate["batched"] / rate["one_at_a_time"], 2),
        "max_pixel_difference": diff,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
