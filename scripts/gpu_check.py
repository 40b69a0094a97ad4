"""Check every GPU path of the toolkit with the real architectures (random weights): speed, peak
GPU memory, the ratio to a naive loop, and that reduced precision paints the same images.

Models are built from their published configurations, written in the repository (nothing is
downloaded): Stable Diffusion 1.5's UNet, VAE and CLIP text encoder
(``canvas_data.stylizers.random_pipelines.CONFIGS["sd15"]``) with a ControlNet and an IP-Adapter
shaped for that UNet, a ViT-L/16 classifier, the FID Inception-v3 and, where
``canvas_data.transfer`` is installed, the AdaIN network (VGG-19 encoder and decoder). Each path
then runs through the toolkit's own code:

  stylize, stylize-controlnet, stylize-ip-adapter   ``DiffusersStylizer`` (float16, bfloat16)
  generate      ``canvas-eval generate``'s ``generate_answers`` (DDIM, 100 steps, guidance 9,
                512 px)
  accuracy      ``canvas-eval accuracy``'s ``classify_files`` (ViT-L/16, float16)
  fid           ``canvas-eval fid``'s ``compute_fid``
  profile       ``canvas-eval profile``'s ``profile_command`` around a ``generate`` run (NVML)
  torchrun      ``generate`` as two ranks under ``torchrun`` (where two GPUs exist)
  adain         AdaIN style transfer, batched in half precision

and the same work as a naive loop (one image at a time, float32, as the release's scripts run):
images/s of both, their ratio, peak GPU memory, and the largest and mean pixel difference of
each reduced-precision output from the float32 one, checked against ``BOUNDS``.
``--tiny --device cpu`` runs the same code with models a few channels wide at 32 px (the test
suite does, so this script cannot rot). The JSON report is written atomically.

    python scripts/gpu_check.py --device cuda --out gpu_check.json
    python scripts/gpu_check.py --device cuda --paths generate --images 16 --steps 20
    python scripts/gpu_check.py --tiny --device cpu --out /tmp/gpu_check.json
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_eval  # noqa: E402  (the accuracy benchmark's naive loop and answer images)

PATHS = (
    "stylize", "stylize-controlnet", "stylize-ip-adapter", "generate", "accuracy", "fid",
    "profile", "torchrun", "adain",
)  # fmt: skip
# How far an output may be from the float32 one-at-a-time output of the same input and seed: its
# mean |pixel difference| at most this fraction of the mean difference between two float32
# outputs of different inputs (what a wrong image would show). Random weights amplify rounding
# over the steps far more than trained ones, so the fractions leave room for that.
BOUNDS = {"float32": 0.1, "float16": 0.25, "bfloat16": 0.5}
PROB_BOUND = 0.05  # largest difference of a class probability, reduced precision vs float32
FID_BOUND = 0.01  # relative difference of the FID, batched vs one image at a time
SEEDS = (188, 288)


@dataclass(frozen=True)
class Sizes:
    """How large each path runs: the full architectures, or ``--tiny``."""

    layout: str  # random_pipelines layout
    resolution: int
    generate_steps: int
    stylize_steps: int
    images: int
    vit: dict[str, Any]
    vit_size: int
    adain_width: float

    @classmethod
    def pick(cls, tiny: bool, images: int | None, steps: int | None) -> Sizes:
        vit_large = bench_eval.LAYOUTS["large"]
        base = (
            cls("tiny", 32, 2, 3, 4, bench_eval.LAYOUTS["tiny"] | {"patch_size": 8}, 32, 1 / 16)
            if tiny
            else cls("sd15", 512, 100, 30, 8, {**vit_large, "patch_size": 16}, 224, 1.0)
        )
        return cls(
            base.layout, base.resolution, steps or base.generate_steps,
            steps or base.stylize_steps, images or base.images, base.vit, base.vit_size,
            base.adain_width,
        )  # fmt: skip


@dataclass
class Result:
    """One path's figures. ``diff``: per dtype, how far its output is from the float32 one."""

    path: str
    status: str = "ok"  # ok, skipped, failed
    note: str = ""
    images: int = 0
    ours_images_per_s: float | None = None
    naive_images_per_s: float | None = None
    speedup: float | None = None
    peak_gpu_bytes: int | None = None
    naive_peak_gpu_bytes: int | None = None
    dtype: str | None = None
    diff: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def rates(self, ours: float, naive: float | None) -> None:
        self.ours_images_per_s = round(ours, 4)
        if naive:
            self.naive_images_per_s = round(naive, 4)
            self.speedup = round(ours / naive, 3)

    def within(self, dtype: str, a: list[Image.Image], b: list[Image.Image]) -> None:
        """Record and check the pixel difference of outputs ``a`` (``dtype``) from ``b``."""
        largest, mean = pixel_difference(a, b)
        _, other = pixel_difference(b, b[1:] + b[:1])  # each beside another input's output
        bound = BOUNDS[dtype] * other
        self.diff[dtype] = {
            "max": largest, "mean": round(mean, 4), "other_image_mean": round(other, 4),
            "bound_mean": round(bound, 4),
        }  # fmt: skip
        if not other > 0:
            self.status = "failed"
            self.note += f"{dtype}: every input gave the same output; "
        elif not mean <= bound:
            self.status = "failed"
            self.note += (
                f"{dtype} output off by mean {mean:.2f} (max {largest}), bound {bound:.2f} = "
                f"{BOUNDS[dtype]} x {other:.2f} between other images; "
            )


def pixel_difference(a: list[Image.Image], b: list[Image.Image]) -> tuple[int, float]:
    diffs = [
        np.abs(np.asarray(x, np.int16) - np.asarray(y, np.int16)) for x, y in zip(a, b, strict=True)
    ]
    return int(max(d.max() for d in diffs)), float(np.mean([d.mean() for d in diffs]))


class Meter:
    """Wall time and peak GPU memory of what runs inside ``with``."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds, self.peak = device, 0.0, None

    def __enter__(self) -> Meter:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = int(torch.cuda.max_memory_allocated(self.device))
        self.seconds = time.perf_counter() - self.start


def free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def photos(n: int, size: int, seed: int = 0) -> list[Image.Image]:
    """Smooth random RGB images (upsampled noise), like seed photos to paint."""
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(
            (size, size), Image.BICUBIC
        )
        for _ in range(n)
    ]


def reduced_dtypes(device: torch.device) -> list[str]:
    return ["float16", "bfloat16"] if device.type == "cuda" else ["bfloat16"]


class Check:
    """Models built once in ``root``; one method per path."""

    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        from canvas_data.stylizers.diffusers_load import resolve_device

        self.args, self.root = args, root
        self.device = resolve_device(args.device)
        self.sizes = Sizes.pick(args.tiny, args.images, args.steps)
        self._built: dict[str, Any] = {}

    def built(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._built:
            self._built[name] = make()
        return self._built[name]

    # -- Stable Diffusion --------------------------------------------------------------------
    def pipeline(self) -> Path:
        from canvas_data.stylizers.random_pipelines import build_pipeline

        build_on = "cuda" if self.device.type == "cuda" else "cpu"
        return self.built("sd", lambda: build_pipeline(self.sizes.layout, self.root / "sd",
                                                       device=build_on))  # fmt: skip

    def stylize(self, result: Result, extra: str | None = None) -> None:
        from canvas_data.recipe import load_recipe
        from canvas_data.stylizers.random_pipelines import build_controlnet, build_ip_adapter
        from canvas_data.stylizers.registry import get_stylizer

        s, n = self.sizes, self.sizes.images
        recipe = load_recipe("demo")
        style = recipe.style(recipe.styles[0])
        options: dict[str, Any] = {
            "model": str(self.pipeline()), "device": str(self.device), "steps": s.stylize_steps,
            "resolution": s.resolution, "strength": 0.6,
        }  # fmt: skip
        if extra == "controlnet":
            options["controlnet"] = str(self.built("controlnet", lambda: build_controlnet(
                self.pipeline(), self.root / "controlnet")))  # fmt: skip
        if extra == "ip-adapter":
            folder, weight = self.built("ip", lambda: build_ip_adapter(
                self.pipeline(), self.root / "ip-adapter"))  # fmt: skip
            refs = self.root / "refs" / style.name
            refs.mkdir(parents=True, exist_ok=True)
            for i, im in enumerate(photos(2, s.resolution, seed=1)):
                im.save(refs / f"{i}.jpg")
            options |= {"ip_adapter": str(folder), "ip_adapter_weight": weight,
                        "style_references": str(self.root / "refs")}  # fmt: skip
        inputs = photos(n, s.resolution)
        seeds = list(range(n))

        naive = get_stylizer("diffusers", recipe, **options, dtype="float32", batch_size=1)
        naive.stylize(inputs[0], style, seeds[0])  # warm-up, not timed
        with Meter(self.device) as m:
            reference = [
                naive.stylize(im, style, seed) for im, seed in zip(inputs, seeds, strict=True)
            ]
        naive_rate, result.naive_peak_gpu_bytes = n / m.seconds, m.peak
        del naive
        free(self.device)
        batch = self.batch_size(4)
        for dtype in reduced_dtypes(self.device):
            ours = get_stylizer("diffusers", recipe, **options, dtype=dtype, batch_size=batch)
            ours.stylize_batch(inputs[:1], style, seeds[:1])  # warm-up
            out: list[Image.Image] = []
            with Meter(self.device) as m:
                for i in range(0, n, batch):
                    out += ours.stylize_batch(inputs[i : i + batch], style, seeds[i : i + batch])
            bad = [o for o in out if isinstance(o, Exception)]
            if bad:
                raise bad[0]
            result.extra[f"{dtype}_images_per_s"] = round(n / m.seconds, 4)
            if result.dtype is None:
                result.dtype, result.peak_gpu_bytes = dtype, m.peak
                result.rates(n / m.seconds, naive_rate)
            result.within(dtype, out, reference)
            del ours
            free(self.device)
        result.images = n
        result.extra["batch_size"] = batch

    def batch_size(self, default: int) -> int:
        return default if self.args.batch_size == "auto" else int(self.args.batch_size)

    def answers_set(self) -> dict[str, Any]:
        """Themes, objects and seeds giving ``images`` answers: objects x two seeds, one theme."""
        from canvas_data.taxonomy import OBJECTS_20

        per_seed = max(1, math.ceil(self.sizes.images / len(SEEDS)))
        return {"themes": ["Van_Gogh"], "objects": list(OBJECTS_20[:per_seed]),
                "seeds": list(SEEDS)}  # fmt: skip

    def generate(self, result: Result) -> None:
        from diffusers import AutoPipelineForText2Image, DDIMScheduler

        from canvas_data.metrics.answers import plan_answers, prompt_for
        from canvas_data.metrics.generate import GenerateSettings, generate_answers

        s, folder = self.sizes, self.pipeline()
        answers = plan_answers(**self.answers_set())
        n = len(answers)
        # the release's loop: float32, one prompt and one seed per call
        pipe = AutoPipelineForText2Image.from_pretrained(folder, torch_dtype=torch.float32)
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        naive_out = self.root / "generate-naive"
        naive_out.mkdir(exist_ok=True)

        def one(answer):
            return pipe(  # noqa: F821 (deleted only after its last use)
                prompt=prompt_for(answer, None), height=s.resolution, width=s.resolution,
                num_inference_steps=s.generate_steps, guidance_scale=9.0,
                generator=torch.Generator("cpu").manual_seed(answer.seed),
            ).images[0]  # fmt: skip

        one(answers[0])  # warm-up
        with Meter(self.device) as m:
            for answer in answers:
                one(answer).save(answer.path(naive_out), quality=95)
        naive_rate, result.naive_peak_gpu_bytes = n / m.seconds, m.peak
        del pipe
        free(self.device)
        # the GPU's default (float16), or on the CPU float32: the batched loop against the naive
        # one in the same precision (bfloat16 over many guided steps of a random UNet drifts to
        # another image, so it says nothing about the loop)
        dtypes = ["float16"] if self.device.type == "cuda" else ["float32"]
        for dtype in dtypes:
            settings = GenerateSettings(
                model=str(folder), device=str(self.device), dtype=dtype, steps=s.generate_steps,
                resolution=s.resolution, batch_size=self.args.batch_size,
                compile=self.args.compile,
            )  # fmt: skip
            out = self.root / f"generate-{dtype}"
            with Meter(self.device) as m:
                report = generate_answers(out, settings, **self.answers_set(), progress=False)
            if report.failed:
                raise RuntimeError(f"generate failed: {report.failed[0]}")
            rate = report.written / max(1e-9, report.seconds - report.load_seconds)
            result.extra[f"{dtype}_images_per_s"] = round(rate, 4)
            if result.dtype is None:
                result.dtype, result.peak_gpu_bytes = dtype, m.peak
                result.rates(rate, naive_rate)
            result.within(dtype, load([a.path(out) for a in answers]),
                          load([a.path(naive_out) for a in answers]))  # fmt: skip
            free(self.device)
        result.images = n
        result.extra["steps"] = s.generate_steps
        result.extra["resolution"] = s.resolution
        if result.ours_images_per_s:
            per_set = 5100 / result.ours_images_per_s
            result.extra["projected_hours_per_5100_answer_set"] = round(per_set / 3600, 3)

    # -- classifiers and metrics -------------------------------------------------------------
    def answer_images(self) -> list[Path]:
        folder = self.root / "answers"
        return self.built("answers", lambda: (folder.mkdir(exist_ok=True), bench_eval.write_answers(
            folder, max(self.sizes.images, 2), self.sizes.resolution))[1])  # fmt: skip

    def accuracy(self, result: Result) -> None:
        import copy

        from transformers import ViTConfig, ViTForImageClassification

        from canvas_data.classify.classifier import Classifier, ClassifierInfo
        from canvas_data.taxonomy import STYLES_51

        classes = list(STYLES_51)
        config = ViTConfig(
            image_size=self.sizes.vit_size, num_labels=len(classes), **self.sizes.vit
        )
        torch.manual_seed(0)
        model = ViTForImageClassification(config)
        info = ClassifierInfo(task="style", classes=classes, image_size=self.sizes.vit_size)
        paths = self.answer_images()
        n, batch = len(paths), self.batch_size(64)
        reference = Classifier(copy.deepcopy(model), info, device=self.device, dtype="float32")
        model32 = reference.model
        bench_eval.naive(reference, model32, paths[:1])
        with Meter(self.device) as m:
            naive_labels = bench_eval.naive(reference, model32, paths)
        naive_rate, result.naive_peak_gpu_bytes = n / m.seconds, m.peak
        probs32 = reference.predict(paths, batch_size=batch).probs
        dtypes = reduced_dtypes(self.device)
        for dtype in dtypes:
            ours = Classifier(copy.deepcopy(model), info, device=self.device, dtype=dtype)
            bench_eval.ours(ours, paths[:1], batch, 2)
            with Meter(self.device) as m:
                labels = bench_eval.ours(ours, paths, batch, 2)
            result.extra[f"{dtype}_images_per_s"] = round(n / m.seconds, 4)
            if result.dtype is None:
                result.dtype, result.peak_gpu_bytes = dtype, m.peak
                result.rates(n / m.seconds, naive_rate)
            largest = float(np.abs(ours.predict(paths, batch_size=batch).probs - probs32).max())
            agree = float(np.mean([a == b for a, b in zip(labels, naive_labels, strict=True)]))
            result.diff[dtype] = {"max_probability": round(largest, 5), "same_top1": agree,
                                  "bound_max_probability": PROB_BOUND}  # fmt: skip
            if largest > PROB_BOUND:
                result.status = "failed"
                result.note += f"{dtype} probabilities off by {largest:.3f}; "
        result.images = n
        result.extra |= {
            "batch_size": batch,
            "vit": self.sizes.vit,
            "image_size": self.sizes.vit_size,
        }

    def fid(self, result: Result) -> None:
        from canvas_data.metrics.fid import compute_fid, fid_metric, load_for_inception
        from canvas_data.metrics.fid_inception import FIDInceptionV3

        weights = self.root / "inception.pt"
        torch.manual_seed(0)
        net = keep_scale(FIDInceptionV3())
        torch.save(net.state_dict(), weights)
        answers = self.answer_images()
        reference = self.root / "fid-reference"
        reference.mkdir(exist_ok=True)
        for i, im in enumerate(photos(len(answers), self.sizes.resolution, seed=2)):
            im.save(reference / f"{i}.jpg", quality=95)
        n = 2 * len(answers)
        with Meter(self.device) as m:
            metric, _ = fid_metric(weights, self.device)
            for real, folder in ((True, reference), (False, answers[0].parent)):
                for path in sorted(folder.glob("*.jpg")):
                    x = torch.from_numpy(load_for_inception(path))[None].to(self.device)
                    with torch.no_grad():
                        metric.update(x, real=real)
            naive_fid = float(metric.compute())
        naive_rate, result.naive_peak_gpu_bytes = n / m.seconds, m.peak
        with Meter(self.device) as m:
            ours = compute_fid(answers[0].parent, reference, weights=weights,
                               device=str(self.device), batch_size=self.batch_size(50),
                               workers=2, progress=False)  # fmt: skip
        result.dtype, result.peak_gpu_bytes, result.images = "float32", m.peak, n
        result.rates(n / m.seconds, naive_rate)
        gap = abs(ours["fid"] - naive_fid) / max(1.0, abs(naive_fid))
        result.diff["float32"] = {"fid": ours["fid"], "naive_fid": naive_fid,
                                  "relative": gap, "bound_relative": FID_BOUND}  # fmt: skip
        if not gap <= FID_BOUND:
            result.status, result.note = "failed", f"batched FID {ours['fid']} vs {naive_fid}; "

    # -- whole commands ----------------------------------------------------------------------
    def generate_command(self, out: Path, images: int) -> list[str]:
        from canvas_data.taxonomy import OBJECTS_20

        s = self.sizes
        return [
            sys.executable, "-m", "canvas_data.cli.eval", "generate", "--model",
            str(self.pipeline()), "--out", str(out), "--themes", "Van_Gogh", "--objects",
            ",".join(OBJECTS_20[:images]), "--seeds", "188", "--steps", str(s.generate_steps),
            "--resolution", str(s.resolution), "--device", self.device.type, "--batch-size",
            str(self.args.batch_size), "--no-progress",
        ]  # fmt: skip

    def profile(self, result: Result) -> None:
        from canvas_data.metrics.profile import profile_command

        n = 2
        record = profile_command(self.generate_command(self.root / "profiled", n))
        if record["exit_code"] != 0:
            raise RuntimeError(f"profiled generate exited with {record['exit_code']}")
        result.images, result.ours_images_per_s = n, round(n / record["wall_s"], 4)
        result.peak_gpu_bytes = record["peak_gpu_bytes"]
        result.extra = {k: record[k] for k in ("device", "gpu_memory_source", "peak_rss_bytes",
                                                "wall_s")}  # fmt: skip
        result.note = "whole command, model loading included; "
        if self.device.type == "cuda" and record["peak_gpu_bytes"] is None:
            result.status = "failed"
            result.note += f"NVML saw no GPU memory ({record['device']}); "

    def torchrun(self, result: Result) -> None:
        gpus = torch.cuda.device_count() if self.device.type == "cuda" else 0
        if gpus < 2:
            result.status = "skipped"
            result.note = f"needs two GPUs, {gpus} seen"
            return
        n = 8
        out = self.root / "torchrun"
        command = self.generate_command(out, n)
        command[1:3] = ["-m", "torch.distributed.run", "--nproc-per-node", "2", "-m",
                        "canvas_data.cli.eval"]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        written = sorted(out.glob("*.jpg"))
        if done.returncode != 0 or len(written) != n:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise RuntimeError(
                f"torchrun exited {done.returncode}, {len(written)} of {n} images: {tail[0]}"
            )
        result.images, result.ours_images_per_s = n, round(n / seconds, 4)
        result.note = "two ranks, whole command, model loading included; "

    def adain(self, result: Result) -> None:
        try:
            from canvas_data.transfer.adain import AdaINNet, decoder_layers, to_batch, to_images
            from canvas_data.transfer.vgg import VGGEncoder, vgg_layers
        except ImportError as err:
            result.status, result.note = "skipped", f"AdaIN not installed here ({err})"
            return
        s, n = self.sizes, self.sizes.images
        torch.manual_seed(0)
        net = AdaINNet(VGGEncoder(vgg_layers(s.adain_width)), decoder_layers(s.adain_width)).eval()
        keep_scale(net)
        size = max(64, s.resolution)
        content, style = to_batch(photos(n, size), size), to_batch(photos(n, size, seed=3), size)
        net32 = net.to(self.device)
        with torch.inference_mode(), Meter(self.device) as m:
            reference = []
            for i in range(n):
                reference += to_images(net32(content[i : i + 1].to(self.device),
                                             style[i : i + 1].to(self.device)))  # fmt: skip
        naive_rate, result.naive_peak_gpu_bytes = n / m.seconds, m.peak
        batch = self.batch_size(8)
        for dtype in reduced_dtypes(self.device):
            half = net.to(self.device, getattr(torch, dtype))
            out: list[Image.Image] = []
            with torch.inference_mode(), Meter(self.device) as m:
                for i in range(0, n, batch):
                    c = content[i : i + batch].to(self.device, half.decoder[1].weight.dtype)
                    st = style[i : i + batch].to(self.device, half.decoder[1].weight.dtype)
                    out += to_images(half(c, st))
            if result.dtype is None:
                result.dtype, result.peak_gpu_bytes = dtype, m.peak
                result.rates(n / m.seconds, naive_rate)
            result.within(dtype, out, reference)
            net = net.float()
        result.images = n


def keep_scale(net: torch.nn.Module) -> torch.nn.Module:
    """Random convolution weights that keep activations' scale (He init), so that outputs and
    features of a deep random network do not fade to a constant."""
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net


def load(paths: list[Path]) -> list[Image.Image]:
    out = []
    for path in paths:
        with Image.open(path) as im:
            out.append(im.convert("RGB"))
    return out


def run_path(check: Check, name: str) -> Result:
    result = Result(name)
    methods: dict[str, Callable[[Result], None]] = {
        "stylize": check.stylize,
        "stylize-controlnet": lambda r: check.stylize(r, "controlnet"),
        "stylize-ip-adapter": lambda r: check.stylize(r, "ip-adapter"),
        "generate": check.generate, "accuracy": check.accuracy, "fid": check.fid,
        "profile": check.profile, "torchrun": check.torchrun, "adain": check.adain,
    }  # fmt: skip
    started = time.perf_counter()
    try:
        methods[name](result)
    except Exception as err:  # one path failing does not stop the others; the report says why
        if check.args.debug:
            raise
        result.status = "failed"
        result.note += f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        result.extra["traceback"] = traceback.format_exc(limit=-3)
    finally:
        free(check.device)
    result.extra["seconds"] = round(time.perf_counter() - started, 2)
    return result


def table(results: list[Result]) -> str:
    def num(x, fmt="{:.2f}"):
        return "-" if x is None else fmt.format(x)

    rows = [
        (
            "path",
            "status",
            "ours img/s",
            "naive img/s",
            "x naive",
            "peak GiB",
            "dtype",
            "diff max/mean",
        )
    ]
    for r in results:
        d = r.diff.get(r.dtype or "", {})
        diff = f"{d['max']}/{d['mean']:.2f}" if "mean" in d else "-"
        peak = None if r.peak_gpu_bytes is None else r.peak_gpu_bytes / 2**30
        rows.append((r.path, r.status, num(r.ours_images_per_s), num(r.naive_images_per_s),
                     num(r.speedup), num(peak), r.dtype or "-", diff))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    notes = [f"{r.path}: {r.note.strip().rstrip(';')}" for r in results if r.note]
    return "\n".join(lines + notes)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="Tiny models (a few channels, 32 px, 2-3 steps), for CPU tests.",
    )
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N, cpu (default auto).")
    parser.add_argument(
        "--paths", default="all", help=f"Comma list of paths, or all (default): {', '.join(PATHS)}."
    )
    parser.add_argument(
        "--images", type=int, default=None, help="Images per path (default 8 at full size, 4 tiny)."
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="Sampler steps for generate and stylize (default 100 and 30).",
    )
    parser.add_argument(
        "--batch-size", default="auto", help="Ours: images per call, or auto (default)."
    )
    parser.add_argument("--compile", action="store_true", help="generate: torch.compile the UNet.")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads.")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("gpu_check.json"),
        help="JSON report (default gpu_check.json).",
    )
    parser.add_argument("--debug", action="store_true", help="Raise a path's error.")
    args = parser.parse_args(argv)
    names = PATHS if args.paths == "all" else tuple(p.strip() for p in args.paths.split(","))
    unknown = [p for p in names if p not in PATHS]
    if unknown:
        parser.error(f"unknown path(s) {', '.join(unknown)}; known: {', '.join(PATHS)}")
    args.paths = names
    if args.batch_size != "auto":
        if not args.batch_size.isdigit() or int(args.batch_size) < 1:
            parser.error(f"--batch-size: {args.batch_size!r} is neither a positive number nor auto")
        args.batch_size = int(args.batch_size)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from canvas_data.atomic import write_json
    from canvas_data.stylizers.diffusers_load import import_diffusers

    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import_diffusers()  # quiet progress bars and logs
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        check = Check(args, Path(tmp))
        results = []
        for name in args.paths:
            results.append(run_path(check, name))
            print(f"{name}: {results[-1].status} ({results[-1].extra['seconds']} s)", flush=True)
    import diffusers
    import transformers

    report = {
        "kind": "gpu_check",
        "started": started,
        "device": device_name(check.device),
        "gpus": torch.cuda.device_count(),
        "command": ["scripts/gpu_check.py", *(argv if argv is not None else sys.argv[1:])],
        "sizes": asdict(check.sizes),
        "bounds": {"pixels": BOUNDS, "probability": PROB_BOUND, "fid_relative": FID_BOUND},
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "results": [asdict(r) for r in results],
        "ok": all(r.status != "failed" for r in results),
    }
    write_json(args.out, report)
    print(table(results))
    print(f"report: {args.out}")
    return report


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
