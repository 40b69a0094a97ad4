"""Image transforms for the loaders: albumentations presets ``train`` and ``classifier-eval``.

A transform here is an albumentations pipeline plus the one fact the loader needs to decode fast:
``decode_size``, the smallest size the image may be decoded at without changing what the pipeline
makes (see ``canvas_data.images.decode``). Images that must move together (a photo and its painting
in an edit pair) go through one call, so they get the same random crop and flip.

- ``train``: centre square crop, resize, random crop, horizontal flip, as the release fine-tunes
  its diffusion models; then normalise to [-1, 1] (mean 0.5, std 0.5) and a CHW float tensor.
- ``classifier-eval``: resize to 224 x 224 (bilinear, aspect not kept), normalise with mean 0.5
  and std 0.5, CHW float tensor: what the release's ViT-Large classifiers expect.

Resizing averages pixels when it shrinks (``area_for_downscale``), close to the antialiased
bilinear resize of Pillow that the release used.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# albumentations asks PyPI for a newer version when imported; a data loader makes no network calls.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A  # noqa: E402

MEAN_STD = (0.5, 0.5)  # both presets map [0, 255] to [-1, 1], as the release does


@dataclass
class ImageTransform:
    """An albumentations pipeline and the smallest decode size it needs (``None``: full size)."""

    pipeline: A.Compose
    decode_size: int | tuple[int, int] | None = None
    name: str = "custom"
    _targets: frozenset[str] = field(default_factory=frozenset, repr=False)

    def __call__(self, image: np.ndarray, **others: np.ndarray) -> dict[str, Any]:
        """Transform ``image`` and, with the same random parameters, every image in ``others``."""
        missing = {k: "image" for k in others if k not in self._targets}
        if missing:
            self.pipeline.add_targets(missing)
            self._targets = self._targets | set(missing)
        return self.pipeline(image=image, **others)

    def apply(self, images: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Transform named images together (same crop and flip for all); returns the same names."""
        names = list(images)
        out = self(images[names[0]], **{n: images[n] for n in names[1:]})
        return {names[0]: out["image"], **{n: out[n] for n in names[1:]}}

    def reseed(self, seed: int) -> None:
        """Seed the pipeline's random choices (each DataLoader worker gets its own seed)."""
        self.pipeline.set_random_seed(seed)

    def copy(self) -> ImageTransform:
        return copy.deepcopy(self)


def _finish(steps: list, normalize: bool, tensor: bool) -> list:
    if normalize:
        steps.append(A.Normalize(mean=(MEAN_STD[0],) * 3, std=(MEAN_STD[1],) * 3))
    if tensor:
        from albumentations.pytorch import ToTensorV2

        steps.append(ToTensorV2())
    return steps


def train_transform(
    size: int = 512,
    *,
    crop: int | None = None,
    flip: float = 0.5,
    normalize: bool = True,
    tensor: bool = True,
) -> ImageTransform:
    """The ``train`` preset: centre square crop, resize to ``size``, random ``crop``, flip.

    ``crop`` defaults to ``size`` (no crop beyond the square); ``flip`` is the probability of a
    horizontal flip. Output: a ``(3, crop, crop)`` float tensor in [-1, 1], or a uint8 array with
    ``normalize=False, tensor=False``.
    """
    crop = crop or size
    if crop > size:
        raise ValueError(f"train transform: crop {crop} is larger than the resized image {size}")
    if not 0.0 <= flip <= 1.0:
        raise ValueError(f"train transform: flip must be a probability, got {flip}")
    steps = [
        A.SmallestMaxSize(size, interpolation=cv2.INTER_LINEAR, area_for_downscale="image"),
        A.CenterCrop(size, size),
        A.RandomCrop(crop, crop),
        A.HorizontalFlip(p=flip),
    ]
    return ImageTransform(A.Compose(_finish(steps, normalize, tensor)), size, "train")


def classifier_eval_transform(
    size: int = 224, *, normalize: bool = True, tensor: bool = True
) -> ImageTransform:
    """The ``classifier-eval`` preset: bilinear resize to ``size`` x ``size``, normalise 0.5/0.5."""
    steps = [A.Resize(size, size, interpolation=cv2.INTER_LINEAR, area_for_downscale="image")]
    return ImageTransform(A.Compose(_finish(steps, normalize, tensor)), size, "classifier-eval")


def resize_transform(size: int) -> ImageTransform:
    """Resize to ``size`` x ``size``, uint8 arrays out: the plainest pipeline (benchmarks)."""
    steps = [A.Resize(size, size, interpolation=cv2.INTER_LINEAR, area_for_downscale="image")]
    return ImageTransform(A.Compose(steps), size, "resize")


PRESETS: dict[str, Callable[..., ImageTransform]] = {
    "train": train_transform,
    "classifier-eval": classifier_eval_transform,
}


def make_transform(spec: Any = None, *, decode_size: Any = "auto") -> ImageTransform:
    """Turn a preset name, an ``ImageTransform``, an albumentations transform or ``None`` into one.

    ``None`` keeps images as decoded (uint8 HWC arrays). An albumentations pipeline of your own
    decodes at full size unless you pass ``decode_size`` (the smallest size it needs).
    The result is a private copy, so datasets never share random state.
    """
    if spec is None:
        made = ImageTransform(A.Compose([]), None, "none")
    elif isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"unknown transform preset {spec!r}; known: {', '.join(PRESETS)}")
        made = PRESETS[spec]()
    elif isinstance(spec, ImageTransform):
        made = spec.copy()
    elif isinstance(spec, A.BaseCompose | A.BasicTransform):
        pipeline = spec if isinstance(spec, A.Compose) else A.Compose([spec])
        made = ImageTransform(copy.deepcopy(pipeline), None, "custom")
    else:
        raise TypeError(
            f"transform must be a preset name ({', '.join(PRESETS)}), an ImageTransform, an "
            f"albumentations transform or None, not {type(spec).__name__}"
        )
    if not (isinstance(decode_size, str) and decode_size == "auto"):
        made.decode_size = decode_size
    return made


def worker_seed(seed: int | None, *parts: int) -> int:
    """A 63-bit seed from a base seed and (epoch, rank, worker, ...); fresh entropy if ``None``."""
    base = int.from_bytes(os.urandom(8), "big") if seed is None else seed
    mixed = np.random.SeedSequence([base & (2**63 - 1), *(p & (2**63 - 1) for p in parts)])
    return int(mixed.generate_state(1, np.uint64)[0] >> 1)
