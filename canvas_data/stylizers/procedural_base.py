"""Shared pieces of the procedural ops: the op registrar with its parameter checks, and helpers.

An op is a function ``(img, rng, **params) -> img`` on float32 HxWx3 arrays in [0, 1]. Every
parameter has a default; its type is the default's type, and the registrar may add a numeric
range ``(lo, hi)`` (for a list: of every item; ``(lo, hi, n)`` also asks for ``n`` items) or a
tuple of allowed strings. Lengths are in pixels of a 512 px image and are
scaled by ``min(h, w) / 512``, so a style looks the same at every resolution.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

REFERENCE_SIDE = 512
_HEX = re.compile(r"^#?[0-9a-fA-F]{6}$")

OpFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Op:
    """A registered op: its function, its parameters' defaults and the checks on their values."""

    name: str
    fn: OpFn
    defaults: dict[str, Any]
    checks: dict[str, tuple]

    def check(self, params: dict[str, Any]) -> None:
        """Raise ``ValueError`` for an unknown parameter or a value of the wrong type or range."""
        for key, value in params.items():
            if key not in self.defaults:
                known = ", ".join(sorted(self.defaults)) or "none"
                raise ValueError(f"unknown parameter {key!r} (known: {known})")
            _check_value(key, value, self.defaults[key], self.checks.get(key))


def registrar(registry: dict[str, Op]) -> Callable[..., Callable[[OpFn], OpFn]]:
    """A decorator factory ``op(name, **checks)`` that adds ops to ``registry``."""

    def op(name: str, **checks: tuple) -> Callable[[OpFn], OpFn]:
        def wrap(fn: OpFn) -> OpFn:
            params = list(inspect.signature(fn).parameters.values())[2:]
            defaults = {p.name: p.default for p in params}
            missing = [k for k, v in defaults.items() if v is inspect.Parameter.empty]
            if missing or set(checks) - set(defaults):
                raise TypeError(f"op {name}: bad parameter declarations {missing or checks}")
            registry[name] = Op(name, fn, defaults, checks)
            return fn

        return wrap

    return op


def _check_value(key: str, value: Any, default: Any, check: tuple | None) -> None:
    if not _same_kind(value, default):
        raise ValueError(f"parameter {key!r} must be like {default!r}, got {value!r}")
    if isinstance(value, str) and key.endswith("color") and not _HEX.fullmatch(value):
        raise ValueError(f"parameter {key!r} must be a hex colour like '#a0b1c2', got {value!r}")
    if key.endswith("colors") and (len(value) < 2 or not all(_HEX.fullmatch(c) for c in value)):
        raise ValueError(f"parameter {key!r} must list two or more hex colours, got {value!r}")
    if not check:
        return
    if isinstance(check[0], str):
        if value not in check:
            raise ValueError(f"parameter {key!r} must be one of {list(check)}, got {value!r}")
        return
    if len(check) == 3 and len(value) != check[2]:
        raise ValueError(f"parameter {key!r} needs {check[2]} values, got {len(value)}")
    values = value if isinstance(value, (list, tuple)) else [value]
    if not all(check[0] <= v <= check[1] for v in values):
        raise ValueError(f"parameter {key!r} must be in [{check[0]}, {check[1]}], got {value!r}")


def _same_kind(value: Any, default: Any) -> bool:
    """Whether ``value`` has the type of ``default`` (an int passes for a float, not for a bool)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, int) or (isinstance(value, float) and isinstance(default, float))
    if isinstance(default, str):
        return isinstance(value, str)
    kind = (int, float) if isinstance(default[0], (int, float)) else type(default[0])
    return isinstance(value, (list, tuple)) and all(isinstance(v, kind) for v in value)


# ---------------------------------------------------------------------------------------- helpers


def scale(img: np.ndarray) -> float:
    """How much bigger than the 512 px reference ``img`` is."""
    return min(img.shape[:2]) / REFERENCE_SIDE


def px(img: np.ndarray, length: float, least: float = 1.0) -> float:
    """A length given at 512 px, in pixels of ``img`` (at least ``least``)."""
    return max(least, length * scale(img))


def rgb(color: str) -> np.ndarray:
    """``'#ff8000'`` -> float32 ``[1.0, 0.5, 0.0]``."""
    c = color.lstrip("#")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], np.float32) / 255


def flat(img: np.ndarray, color: str) -> np.ndarray:
    """A read-only image the shape of ``img``, all ``color``."""
    return np.broadcast_to(rgb(color), img.shape)


def palette(colors: list[str]) -> np.ndarray:
    """Hex colours as a Kx3 float32 array."""
    return np.stack([rgb(c) for c in colors])


def luma(img: np.ndarray) -> np.ndarray:
    """Luminance, HxW float32."""
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def stretch(gray: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Stretch ``gray`` so that its ``low``..``high`` percentiles span [0, 1]."""
    lo, hi = (float(v) for v in np.percentile(gray[::4, ::4], (low, high)))
    return np.clip((gray - lo) / max(hi - lo, 1e-3), 0, 1)


# A blur wider than this many pixels runs on a copy shrunk by a power of two, with at least
# this sigma left there: a wide Gaussian has no detail that the shrinking would lose.
_WIDE_SIGMA = 4.0


def blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur with ``sigma_px`` pixels of ``img`` (no-op below 0.3).

    A wide blur (``sigma_px`` >= 8) runs on a copy shrunk 2, 4, ... times (``INTER_AREA``) and
    is enlarged back bilinearly; the shrinking and the enlarging add their own spread, which is
    taken off the sigma, so the result differs from a full-size blur by about 1/1000 on average
    (a few 1/100 at most). Its cost stays flat as ``sigma_px`` grows instead of growing with it.
    """
    if sigma_px < 0.3:
        return img
    h, w = img.shape[:2]
    f = 1
    while sigma_px / (f * 2) >= _WIDE_SIGMA and min(h, w) // (f * 2) >= 8:
        f *= 2
    if f == 1:
        return cv2.GaussianBlur(img, (0, 0), sigma_px)
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    # box of f pixels: variance (f^2 - 1) / 12; bilinear enlarging by f: about (f^2 - 1) / 6
    rest = math.sqrt(max(sigma_px**2 - (f * f - 1) / 4, 0.09)) / f
    small = cv2.GaussianBlur(small, (0, 0), rest)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def noise(rng: np.random.Generator, h: int, w: int, cell_px: float, aspect: float = 1.0):
    """Smooth value noise in [0, 1], features ``cell_px`` wide and ``aspect`` times as tall."""
    cx, cy = max(cell_px, 1.0), max(cell_px * aspect, 1.0)
    gh, gw = int(h / cy) + 3, int(w / cx) + 3
    grid = rng.random((gh, gw), dtype=np.float32)
    big = cv2.resize(grid, (int(gw * cx), int(gh * cy)), interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:h, :w], 0, 1)


def fractal(rng: np.random.Generator, h: int, w: int, cell_px: float, octaves: int = 3):
    """Sum of ``octaves`` noise layers, each half the size of the last, in [0, 1]."""
    out = np.zeros((h, w), np.float32)
    total = 0.0
    for k in range(octaves):
        out += noise(rng, h, w, cell_px / 2**k) * 0.5**k
        total += 0.5**k
    return out / total


def mix(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """``a`` blended toward ``b`` by ``t`` (a scalar or an HxW mask)."""
    if isinstance(t, np.ndarray) and t.ndim == 2:
        t = t[..., None]
    return a + (b - a) * t


def coords(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre x and y grids, HxW float32."""
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def sobel(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical derivatives of ``gray``."""
    return cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
