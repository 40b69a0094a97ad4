"""PNG figures read back for tests: decoded pixels, how many colours, how much dark ink."""

from __future__ import annotations

import numpy as np
from PIL import Image


def decoded(path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def colours(pixels: np.ndarray) -> int:
    return len(np.unique(pixels.reshape(-1, 3), axis=0))


def dark(pixels: np.ndarray) -> int:
    """Pixels of text or lines: dark grey to black."""
    return int((pixels.max(axis=2) < 110).sum())
