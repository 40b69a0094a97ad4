"""The ``diffusers`` stylizer: image-to-image with a Stable Diffusion family checkpoint.

Any checkpoint ``AutoPipelineForImage2Image`` loads (SD 1.x, 2.x, SDXL) from a folder or a Hub
id; optionally a ControlNet fed with the seed photo's edges, to keep the object recognisable, and
an IP-Adapter fed with a few reference images per style. The model is loaded once per process;
items of one style share a prompt and are painted in batches. Each item draws its noise from its
own CPU generator seeded with the item's seed, so an item starts from the same noise whatever
batch, rank or device paints it. Painted one at a time on the CPU in float32, an item is the same
bytes on any rank or rerun; in a batch, the matrix kernels (MKL, oneDNN) round in an order that
depends on the batch's size, the item's place in it and the thread count, so its pixels may
differ from the lone painting's by about one level (of 255) before JPEG.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from PIL import Image, ImageOps

from canvas_data.recipe import Recipe, StyleSpec
from canvas_data.stylizers.base import Stylizer
from canvas_data.workspace import sha256_file

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
CONTROL_INPUTS = ("canny", "photo")


@dataclass(frozen=True)
class DiffusionSettings:
    """How the diffusers stylizer paints: recipe values (``stylizers.diffusers``) and flags."""

    model: str
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | None = None  # default: 4 on a GPU, 1 on the CPU
    strength: float = 0.6
    steps: int = 30
    guidance_scale: float = 7.5
    scheduler: str | None = None  # default: the checkpoint's own
    negative_prompt: str | None = None  # for styles whose spec names none
    resolution: int | None = None  # default: the recipe's
    controlnet: str | None = None
    controlnet_scale: float = 0.8
    controlnet_input: str = "canny"
    ip_adapter: str | None = None
    ip_adapter_weight: str | None = None  # SUBFOLDER/FILE in the IP-Adapter repo or folder
    ip_adapter_encoder: str = "image_encoder"
    ip_adapter_scale: float = 0.6
    style_references: str | None = None  # DIR/{Style}/... images, e.g. a copy of the release
    references_per_style: int = 4

    @classmethod
    def from_options(cls, options: dict[str, Any], recipe: Recipe) -> DiffusionSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(f"unknown diffusers option(s): {', '.join(unknown)}")
        if not options.get("model"):
            raise ValueError(
                "the diffusers backend needs a model: --model FOLDER_OR_HUB_ID "
                "(or stylizers.diffusers.model in the recipe)"
            )
        values = {k: v for k, v in options.items() if v is not None}
        settings = cls(**{**values, "resolution": values.get("resolution", recipe.resolution)})
        settings.check()
        return settings

    def check(self) -> None:
        if not 0 < self.strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {self.strength}")
        if self.steps < 1 or round(self.steps * self.strength) < 1:
            raise ValueError(f"{self.steps} steps at strength {self.strength} denoise nothing")
        if self.resolution is None or self.resolution < 8 or self.resolution % 8:
            raise ValueError(f"resolution must be a multiple of 8, got {self.resolution}")
        if self.controlnet_input not in CONTROL_INPUTS:
            raise ValueError(f"controlnet_input must be one of {', '.join(CONTROL_INPUTS)}")
        if self.ip_adapter and not self.style_references:
            raise ValueError("an IP-Adapter needs style reference images: --style-references DIR")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")


def control_image(photo: Image.Image, kind: str) -> Image.Image:
    """What the ControlNet sees: the photo's Canny edges (white on black), or the photo."""
    if kind == "photo":
        return photo
    gray = cv2.cvtColor(np.asarray(photo), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 100, 200)
    return Image.fromarray(np.stack([edges] * 3, axis=-1))


def reference_files(root: Path, style: str, count: int) -> list[Path]:
    """Up to ``count`` images under ``root/style`` (any depth), evenly spread in name order."""
    folder = root / style
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise ValueError(f"no style reference images for {style} under {folder}")
    n = min(count, len(files))
    return [files[i * len(files) // n] for i in range(n)]


class DiffusersStylizer(Stylizer):
    """Image-to-image with ``diffusers``; batched, in the driver's own process."""

    name: ClassVar[str] = "diffusers"
    batched: ClassVar[bool] = True

    def __init__(self, recipe: Recipe, **options: Any) -> None:
        super().__init__(recipe, **options)
        from canvas_data.stylizers.diffusers_load import load_pipeline

        s = self.settings = DiffusionSettings.from_options(self.options, recipe)
        self.loaded = load_pipeline(
            s.model, s.revision, device=s.device, dtype=s.dtype, scheduler=s.scheduler,
            controlnet=s.controlnet, ip_adapter=s.ip_adapter,
            ip_adapter_weight=s.ip_adapter_weight, ip_adapter_encoder=s.ip_adapter_encoder,
        )  # fmt: skip
        if s.ip_adapter:
            self.loaded.pipe.set_ip_adapter_scale(s.ip_adapter_scale)
        self.max_batch = s.batch_size or (4 if self.loaded.device.type == "cuda" else 1)
        self._accepts = set(inspect.signature(self.loaded.pipe.__call__).parameters)
        self._references: dict[str, tuple[list[Image.Image], list[dict[str, str]]]] = {}

    def stylize(self, photo: Image.Image, style: StyleSpec, seed: int) -> Image.Image:
        (out,) = self.stylize_batch([photo], style, [seed])
        if isinstance(out, Exception):
            raise out
        return out

    def stylize_batch(
        self, photos: list[Image.Image], style: StyleSpec, seeds: list[int]
    ) -> list[Image.Image | Exception]:
        """Paint ``photos`` in ``style`` in one pipeline call; ``seeds[i]`` seeds item ``i``."""
        import torch

        s, pipe = self.settings, self.loaded.pipe
        size = (s.resolution, s.resolution)
        images = [ImageOps.fit(p.convert("RGB"), size, Image.LANCZOS) for p in photos]
        n = len(images)
        negative = style.negative_prompt or s.negative_prompt
        kwargs: dict[str, Any] = {
            "prompt": [style.prompt] * n,
            "negative_prompt": [negative] * n if negative else None,
            "image": images,
            "strength": s.strength,
            "num_inference_steps": s.steps,
            "guidance_scale": s.guidance_scale,
            "generator": [torch.Generator("cpu").manual_seed(seed) for seed in seeds],
            "output_type": "pil",
        }
        if s.controlnet:
            kwargs["control_image"] = [control_image(im, s.controlnet_input) for im in images]
            kwargs["controlnet_conditioning_scale"] = s.controlnet_scale
        if s.ip_adapter:
            kwargs["ip_adapter_image"] = [self._style_references(style.name)[0]]
        out = pipe(**{k: v for k, v in kwargs.items() if k in self._accepts})
        flagged = getattr(out, "nsfw_content_detected", None) or [False] * n
        return [
            ValueError("flagged by the checkpoint's safety checker (its output is blank)")
            if bad
            else im.convert("RGB")
            for im, bad in zip(out.images, flagged, strict=True)
        ]

    def _style_references(self, style: str) -> tuple[list[Image.Image], list[dict[str, str]]]:
        if style not in self._references:
            root = Path(self.settings.style_references or "")
            files = reference_files(root, style, self.settings.references_per_style)
            images = []
            for path in files:
                with Image.open(path) as im:
                    images.append(im.convert("RGB"))
            recorded = [
                {"path": p.relative_to(root).as_posix(), "sha256": sha256_file(p)} for p in files
            ]
            self._references[style] = (images, recorded)
        return self._references[style]

    def describe(self, style: StyleSpec) -> dict[str, Any]:
        """Model, revision or weight hash, prompts and every setting that shaped the painting."""
        import diffusers
        import torch

        s, loaded = self.settings, self.loaded
        out: dict[str, Any] = {
            "backend": self.name,
            "model": loaded.model.name,
            "model_revision": loaded.model.revision,
            "model_weights_sha256": loaded.model.sha256,
            "pipeline": type(loaded.pipe).__name__,
            "prompt": style.prompt,
            "negative_prompt": style.negative_prompt or s.negative_prompt,
            "strength": s.strength,
            "steps": s.steps,
            "guidance_scale": s.guidance_scale,
            "scheduler": type(loaded.pipe.scheduler).__name__,
            "resolution": s.resolution,
            "dtype": str(loaded.dtype).removeprefix("torch."),
            "device": loaded.device.type,
            "diffusers_version": diffusers.__version__,
            "torch_version": torch.__version__,
        }
        if loaded.controlnet:
            out["controlnet"] = {
                **loaded.controlnet.provenance(),
                "scale": s.controlnet_scale,
                "input": s.controlnet_input,
            }
        if loaded.ip_adapter:
            out["ip_adapter"] = {
                **loaded.ip_adapter.provenance(),
                "weight": loaded.ip_adapter_weight,
                "scale": s.ip_adapter_scale,
            }
            out["ip_adapter_references"] = self._style_references(style.name)[1]
        return {k: v for k, v in out.items() if v is not None}
