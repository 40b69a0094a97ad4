"""The built-in CPU stylizer: runs a style's ``procedural`` filter chain from the recipe.

A chain is a list of ``{op: NAME, **params}`` steps (see :mod:`procedural_ops` for the ops), so a
new style is a few lines of YAML. Output depends only on the photo, the chain and the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from PIL import Image

from canvas_data.recipe import StyleSpec
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.procedural_ops import OPS, validate_chain

DEFAULT_MIN_SIDE = 384


def to_array(photo: Image.Image) -> np.ndarray:
    """PIL image -> float32 HxWx3 in [0, 1]."""
    return np.asarray(photo.convert("RGB"), dtype=np.float32) / 255


def to_image(img: np.ndarray) -> Image.Image:
    """float32 HxWx3 in [0, 1] -> RGB PIL image."""
    return Image.fromarray(np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8), "RGB")


def run_chain(
    img: np.ndarray, chain: Sequence[dict[str, Any]], seed: int, style_name: str = "?"
) -> np.ndarray:
    """Apply every step of a validated chain; step ``i`` draws from the rng ``(seed, i)``."""
    for i, step in enumerate(chain):
        rng = np.random.default_rng([seed % 2**63, i])
        params = {k: v for k, v in step.items() if k != "op"}
        try:
            img = OPS[step["op"]].fn(img, rng, **params)
        except (ValueError, cv2.error) as err:
            where = f"style {style_name!r}, step {i + 1}, op {step['op']!r}"
            raise ValueError(
                f"{where} failed on a {img.shape[1]}x{img.shape[0]} image: {err}"
            ) from err
        img = np.clip(np.asarray(img, np.float32), 0, 1)
    return img


class ProceduralStylizer(Stylizer):
    """Paints with numpy/OpenCV filter chains; fast, deterministic, no model weights."""

    name = "procedural"

    @property
    def min_side(self) -> int:
        """Photos with a shorter side are painted enlarged to it (the ``min_side`` option)."""
        return int(self.options.get("min_side", DEFAULT_MIN_SIDE))

    def _chain(self, style: StyleSpec) -> tuple[dict[str, Any], ...]:
        validate_chain(style.name, style.procedural)
        return style.procedural

    def stylize(self, photo: Image.Image, style: StyleSpec, seed: int) -> Image.Image:
        """Return ``photo`` painted in ``style``: same size, RGB, identical for the same seed.

        Photos smaller than the ``min_side`` option (default 384 px) are painted enlarged and
        shrunk back, so that strokes, dots and grout keep their look on thumbnails.
        """
        chain = self._chain(style)
        work = photo.convert("RGB")
        if min(work.size) < self.min_side:
            f = self.min_side / min(work.size)
            work = work.resize((round(work.width * f), round(work.height * f)), Image.BICUBIC)
        img = run_chain(to_array(work), chain, seed, style.name)
        if work.size != photo.size:
            img = cv2.resize(img, photo.size, interpolation=cv2.INTER_AREA)
        if img.shape[:2] != (photo.height, photo.width):
            raise RuntimeError(f"style {style.name!r}: the chain changed the image size")
        return to_image(img)

    def describe(self, style: StyleSpec) -> dict[str, Any]:
        """The backend, the chain that made ``style`` and the stylizer options."""
        return {
            "backend": self.name,
            "chain": [dict(step) for step in self._chain(style)],
            "options": {**self.options, "min_side": self.min_side},
        }
