"""Benchmark answer-set classification: batched (as ``canvas-eval accuracy`` runs it) against one
image at a time (as the release's evaluation script does), on the same model and images, in one run.

Ours: ``canvas_data.metrics.accuracy.classify_files``: images decoded (at the smallest JPEG scale
that covers the classifier's input) and resized in threads, normalised on the model's device,
``--batch-size`` images per forward pass, float16 on a GPU.
The naive loop: for each file, a full Pillow decode, the same preprocessing, and a forward pass of
one image in float32. Both use the same weights (a random-weight ViT of ``--layout``; speed does
not depend on the weights) or a run folder (``--run``), and the same answer images (``--images``
JPEGs of ``--size`` px, written once). Timed passes alternate; the median of ``--rounds`` is
reported, with the ratio, and how often the two agree on the predicted class.

    python scripts/bench_eval.py --layout large --device cuda --images 512 --batch-size 64
    python scripts/bench_eval.py --layout small --device cpu --images 48 --batch-size 16
"""

from __future__ import annotations

import argparse
import copy
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

from canvas_data.classify.classifier import Classifier, ClassifierInfo, load_classifier
from canvas_data.metrics.accuracy import classify_files
from canvas_data.metrics.answers import plan_answers
from canvas_data.taxonomy import OBJECTS_20, STYLES_51

LAYOUTS = {  # ViT-{tiny,S,B,L}/16 at 224 px; "large" is the reference classifiers' architecture
    "tiny": {"hidden_size": 96, "num_hidden_layers": 4, "num_attention_heads": 4,
             "intermediate_size": 192, "patch_size": 28},
    "small": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6,
              "intermediate_size": 1536},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
              "intermediate_size": 4096},
}  # fmt: skip


def random_classifier(layout: str, device: str, dtype: str) -> Classifier:
    """A random-weight ViT with the 51-way style head, 224 px input."""
    from transformers import ViTConfig, ViTForImageClassification

    classes = list(STYLES_51)
    config = ViTConfig(image_size=224, num_labels=len(classes), **LAYOUTS[layout])
    torch.manual_seed(0)
    model = ViTForImageClassification(config)
    info = ClassifierInfo(task="style", classes=classes, image_size=224)
    return Classifier(model, info, device=device, dtype=dtype)


def write_answers(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` answer images (smooth random content), named as an answer set."""
    rng = np.random.default_rng(0)
    paths = []
    for answer in plan_answers(STYLES_51, OBJECTS_20)[:n]:
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        path = answer.path(folder)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(path, quality=95)
        paths.append(path)
    return paths


def naive(classifier: Classifier, model: torch.nn.Module, paths: list[Path]) -> list[str]:
    """One image at a time: full decode, preprocess, a float32 forward pass of one image."""
    labels = []
    for path in paths:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
        x = classifier.preprocess(array)[None].to(classifier.device)
        with torch.inference_mode():
            logits = model(pixel_values=x).logits
        labels.append(classifier.classes[int(logits.argmax(1))])
    return labels


def ours(classifier: Classifier, paths: list[Path], batch_size: int, workers: int) -> list[str]:
    said, _ = classify_files(
        paths, {"style": classifier}, batch_size=batch_size, workers=workers, progress=False
    )
    return [said[p]["style"][0] for p in paths]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="small",
                        help="Random-weight ViT layout (default: small, ViT-S/16).")  # fmt: skip
    parser.add_argument("--run", default=None, help="A classifier run folder instead.")
    parser.add_argument("--images", type=int, default=48, help="Answer images (default 48).")
    parser.add_argument("--size", type=int, default=512, help="Their side in px (default 512).")
    parser.add_argument("--batch-size", type=int, default=16, help="Ours: images per pass.")
    parser.add_argument("--workers", type=int, default=4, help="Ours: decoding threads.")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N.")
    parser.add_argument("--dtype", default="auto",
                        help="Ours: auto (float16 on a GPU), float32, bfloat16.")  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    parser.add_argument("--rounds", type=int, default=3, help="Timed passes each (median).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.run:
        classifier = load_classifier(args.run, device=args.device, dtype=args.dtype)
    else:
        classifier = random_classifier(args.layout, args.device, args.dtype)
    model32 = copy.deepcopy(classifier.model).float().eval()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_answers(Path(tmp), args.images, args.size)
        naive(classifier, model32, paths[:2])  # warm-up, not timed
        ours(classifier, paths[: args.batch_size], args.batch_size, args.workers)
        times: dict[str, list[float]] = {"naive": [], "ours": []}
        labels: dict[str, list[str]] = {}
        for _ in range(args.rounds):
            for name in ("naive", "ours"):
                sync(classifier.device)
                start = time.perf_counter()
                if name == "naive":
                    labels[name] = naive(classifier, model32, paths)
                else:
                    labels[name] = ours(classifier, paths, args.batch_size, args.workers)
                sync(classifier.device)
                times[name].append(time.perf_counter() - start)
    rate = {k: args.images / statistics.median(v) for k, v in times.items()}
    agree = float(np.mean([a == b for a, b in zip(labels["naive"], labels["ours"], strict=True)]))
    figures = {
        "model": args.run or f"random ViT {args.layout}",
        "device": str(classifier.device),
        "dtype_ours": str(classifier.dtype).removeprefix("torch."),
        "images": args.images,
        "size": args.size,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "naive_images_per_s": round(rate["naive"], 2),
        "ours_images_per_s": round(rate["ours"], 2),
        "speedup": round(rate["ours"] / rate["naive"], 2),
        "same_prediction": agree,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    print(
        f"{figures['model']} on {figures['device']}, {args.images} images of {args.size} px: "
        f"naive {rate['naive']:.2f} img/s, ours {rate['ours']:.2f} img/s "
        f"(batch {args.batch_size}, {figures['dtype_ours']}): {figures['speedup']:.2f}x; "
        f"same top-1 on {100 * agree:.0f}% of images"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
