"""Colour and filter ops of the procedural stylizer, and ``OPS``, the registry of every op.

Ops are small composable primitives: ``(img, rng, **params) -> img`` on float32 HxWx3 arrays in
[0, 1] (see :mod:`canvas_data.stylizers.procedural_base` for the conventions). Strokes and lines,
tiles and dots, and textures and overlays live in sibling modules; ``OPS`` gathers them all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from canvas_data.stylizers import (
    procedural_paint,
    procedural_strokes,
    procedural_textures,
    procedural_tiles,
)
from canvas_data.stylizers.procedural_base import (
    Op,
    blur,
    coords,
    luma,
    mix,
    noise,
    palette,
    px,
    registrar,
    rgb,
    scale,
    sobel,
    stretch,
)

_OWN: dict[str, Op] = {}
op = registrar(_OWN)

BLENDS = ("normal", "multiply", "screen", "overlay", "softlight", "color")


def blend(base: np.ndarray, top: np.ndarray, mode: str) -> np.ndarray:
    """Photoshop-style blend of ``top`` over ``base``."""
    if mode == "multiply":
        return base * top
    if mode == "screen":
        return 1 - (1 - base) * (1 - top)
    if mode == "overlay":
        return np.where(base < 0.5, 2 * base * top, 1 - 2 * (1 - base) * (1 - top))
    if mode == "softlight":
        return (1 - 2 * top) * base * base + 2 * top * base
    if mode == "color":
        return top * (luma(base) / np.maximum(luma(top), 1e-3))[..., None]
    return np.broadcast_to(top, base.shape)


def ramp(colors: list[str], n: int = 256) -> np.ndarray:
    """An ``n``x3 lookup table running evenly through ``colors``."""
    pal = palette(colors)
    at = np.linspace(0, 1, len(pal))
    t = np.linspace(0, 1, n)
    return np.stack([np.interp(t, at, pal[:, c]) for c in range(3)], 1).astype(np.float32)


def lookup(table: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Map values ``t`` in [0, 1] through an Nx3 ``table``."""
    idx = np.clip(t * (len(table) - 1) + 0.5, 0, len(table) - 1).astype(np.intp)
    return table[idx]


# ------------------------------------------------------------------------------------------ colour


@op("gradient_map", strength=(0, 1))
def gradient_map(img, rng, *, colors=("#000000", "#ffffff"), strength=1.0, normalize=True):
    """Map luminance onto a ramp of colours (dark to light)."""
    g = luma(img)
    g = stretch(g) if normalize else g
    return mix(img, lookup(ramp(colors), g), strength)


@op("hsv", hue=(-360, 360), saturation=(0, 8), value=(0, 8))
def hsv(img, rng, *, hue=0.0, saturation=1.0, value=1.0):
    """Rotate hue (degrees) and scale saturation and value."""
    h = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    h[..., 0] = (h[..., 0] + hue) % 360
    h[..., 1] = np.clip(h[..., 1] * saturation, 0, 1)
    h[..., 2] = np.clip(h[..., 2] * value, 0, 1)
    return cv2.cvtColor(h, cv2.COLOR_HSV2RGB)


@op("levels", contrast=(0, 10), brightness=(-1, 1), gamma=(0.1, 10), pivot=(0, 1))
def levels(img, rng, *, contrast=1.0, brightness=0.0, gamma=1.0, pivot=0.5):
    """Contrast about ``pivot``, then brightness, then gamma (>1 brightens)."""
    out = np.clip((img - pivot) * contrast + pivot + brightness, 0, 1)
    return out if gamma == 1 else np.power(out, 1 / gamma)


@op("auto_levels", low=(0, 50), high=(50, 100))
def auto_levels(img, rng, *, low=1.0, high=99.0):
    """Stretch so the ``low``..``high`` luminance percentiles span the full range."""
    lo, hi = (float(v) for v in np.percentile(luma(img)[::4, ::4], (low, high)))
    return np.clip((img - lo) / max(hi - lo, 1e-3), 0, 1)


@op("posterize", levels=(2, 64))
def posterize(img, rng, *, levels=4):
    """Round every channel to ``levels`` values."""
    return np.round(img * (levels - 1)) / (levels - 1)


@op("quantize", bits=(3, 6), strength=(0, 1))
def quantize(img, rng, *, colors=("#000000", "#ffffff"), bits=5, strength=1.0):
    """Pull every pixel to the nearest colour of ``colors`` (through a ``bits``-bit cube LUT)."""
    n = 2**bits
    pal = palette(colors)
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    nearest = np.argmin(((grid[:, None, :] - pal[None]) ** 2).sum(-1), 1)
    q = np.clip(img * (n - 1) + 0.5, 0, n - 1).astype(np.intp)
    return mix(img, pal[nearest[(q[..., 0] * n + q[..., 1]) * n + q[..., 2]]], strength)


@op("tint", strength=(0, 1), mode=BLENDS)
def tint(img, rng, *, color="#808080", strength=0.5, mode="normal"):
    """Blend a flat colour over the image."""
    return mix(img, blend(img, rgb(color)[None, None], mode), strength)


@op("split_tone", strength=(0, 1), balance=(0, 1))
def split_tone(
    img, rng, *, shadow_color="#0040ff", highlight_color="#ffa000", strength=0.5, balance=0.5
):
    """Tint shadows and highlights with two colours (soft-light), split at ``balance``."""
    g = luma(img)[..., None]
    w = np.clip((g - balance) * 4 + 0.5, 0, 1)
    top = rgb(shadow_color) * (1 - w) + rgb(highlight_color) * w
    return mix(img, blend(img, top, "softlight"), strength)


@op("hue_field", strength=(0, 1), saturation=(0, 1), source=("luma", "x", "y", "radial", "noise"))
def hue_field(
    img, rng, *, source="luma", cycles=1.0, offset=0.0, saturation=0.8, strength=1.0, cell=120.0
):
    """Recolour with a hue that sweeps across ``source`` (a rainbow), keeping the value."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    fields = {
        "luma": lambda: stretch(luma(img)),
        "x": lambda: x / w,
        "y": lambda: y / h,
        "radial": lambda: np.hypot(x - w / 2, y - h / 2) / (0.7 * max(h, w)),
        "noise": lambda: noise(rng, h, w, px(img, cell)),
    }
    t = fields[source]()
    hsv_img = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hsv_img[..., 0] = (t * 360 * cycles + offset) % 360
    hsv_img[..., 1] = np.maximum(hsv_img[..., 1], saturation)
    return mix(img, cv2.cvtColor(hsv_img, cv2.COLOR_HSV2RGB), strength)


@op("gradient_overlay", strength=(0, 1), mode=BLENDS, angle=(-360, 360))
def gradient_overlay(
    img, rng, *, colors=("#000000", "#ffffff"), angle=90.0, strength=0.5, mode="normal"
):
    """Blend a linear gradient (``angle`` 90: ``colors`` run top to bottom)."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    a = math.radians(angle)
    t = (x - w / 2) * math.cos(a) + (y - h / 2) * math.sin(a)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-3)
    return mix(img, blend(img, lookup(ramp(colors), t), mode), strength)


@op("solarize", threshold=(0, 1))
def solarize(img, rng, *, threshold=0.5):
    """Invert the values above ``threshold``."""
    return np.where(img > threshold, 1 - img, img)


@op("invert")
def invert(img, rng):
    """Photographic negative."""
    return 1 - img


@op("channel_mix", matrix=(-10, 10, 9))
def channel_mix(img, rng, *, matrix=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)):
    """Multiply every pixel by a 3x3 row-major colour matrix."""
    m = np.asarray(matrix, np.float32).reshape(3, 3)
    return np.clip(cv2.transform(img, m), 0, 1)


# ----------------------------------------------------------------------------------------- filters


@op("blur", radius=(0, 200))
def blur_op(img, rng, *, radius=2.0):
    """Gaussian blur (sigma in 512 px pixels)."""
    return blur(img, px(img, radius, 0))


@op("median", size=(1, 99))
def median(img, rng, *, size=5.0):
    """Median filter, ``size`` pixels wide."""
    k = int(px(img, size)) | 1
    u8 = (img * 255 + 0.5).astype(np.uint8)
    return cv2.medianBlur(u8, k).astype(np.float32) / 255 if k > 1 else img


@op("bilateral", diameter=(1, 50), sigma_color=(0, 1), iterations=(1, 10))
def bilateral(img, rng, *, diameter=9.0, sigma_color=0.15, iterations=1):
    """Edge-preserving smoothing (``iterations`` passes of a bilateral filter).

    Images larger than 512 px are filtered shrunk by a power of two (to 512-1023 px) and
    enlarged back: the filter flattens everything finer than its diameter anyway, and its cost
    grows with the diameter squared, so at 1024 px this is about 16 times cheaper.
    """
    h, w = img.shape[:2]
    f = 2 ** max(0, int(math.log2(max(scale(img), 1.0))))
    small = img if f == 1 else cv2.resize(img, (w // f, h // f), interpolation=cv2.INTER_AREA)
    d = int(px(small, diameter))
    for _ in range(iterations):
        small = cv2.bilateralFilter(small, d, sigma_color, d / 2)
    return small if f == 1 else cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


@op("kuwahara", radius=(1, 40))
def kuwahara(img, rng, *, radius=4.0):
    """Kuwahara filter: each pixel takes the mean of its least varied quadrant (oil-paint look)."""
    r = int(px(img, radius))
    k = r + 1
    g = luma(img)
    mean = cv2.blur(img, (k, k))
    var = cv2.blur(g * g, (k, k)) - cv2.blur(g, (k, k)) ** 2
    h, w = g.shape
    half = r // 2 + 1
    pm = cv2.copyMakeBorder(mean, half, half, half, half, cv2.BORDER_REFLECT)
    pv = cv2.copyMakeBorder(var, half, half, half, half, cv2.BORDER_REFLECT)
    offsets = [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    shifted = [(half + dy * (r // 2), half + dx * (r // 2)) for dy, dx in offsets]
    vs = np.stack([pv[y : y + h, x : x + w] for y, x in shifted])
    best = np.argmin(vs, 0)
    out = pm[shifted[0][0] : shifted[0][0] + h, shifted[0][1] : shifted[0][1] + w].copy()
    for i, (y, x) in enumerate(shifted[1:], 1):
        sel = best == i
        out[sel] = pm[y : y + h, x : x + w][sel]
    return out


@op("sharpen", amount=(0, 10), radius=(0.1, 50))
def sharpen(img, rng, *, amount=1.0, radius=2.0):
    """Unsharp mask."""
    return np.clip(img + (img - blur(img, px(img, radius, 0.5))) * amount, 0, 1)


@op("bloom", threshold=(0, 1), radius=(0, 200), strength=(0, 4))
def bloom(img, rng, *, threshold=0.6, radius=12.0, strength=0.8):
    """Glow: the bright parts, blurred, screened back over the image."""
    bright = np.clip((img - threshold) / max(1 - threshold, 1e-3), 0, 1)
    glow = np.clip(blur(bright, px(img, radius)) * strength, 0, 1)
    return blend(img, glow, "screen")


@op("emboss", strength=(0, 10), angle=(-360, 360), radius=(0, 20))
def emboss(img, rng, *, strength=1.0, angle=135.0, radius=1.0):
    """Relief lighting: luminance treated as height, lit from ``angle``."""
    gx, gy = sobel(blur(luma(img), px(img, radius, 0)))
    a = math.radians(angle)
    shade = (gx * math.cos(a) + gy * math.sin(a)) * strength * 0.1 * scale(img)
    return np.clip(img + shade[..., None], 0, 1)


@op("edge_preserving", sigma_s=(1, 200), sigma_r=(0, 1))
def edge_preserving(img, rng, *, sigma_s=40.0, sigma_r=0.3):
    """OpenCV's recursive edge-preserving smoothing."""
    u8 = (img * 255 + 0.5).astype(np.uint8)
    out = cv2.edgePreservingFilter(
        u8, flags=cv2.RECURS_FILTER, sigma_s=px(img, sigma_s), sigma_r=sigma_r
    )
    return out.astype(np.float32) / 255


OPS: dict[str, Op] = {
    **_OWN,
    **procedural_strokes.OPS,
    **procedural_tiles.OPS,
    **procedural_paint.OPS,
    **procedural_textures.OPS,
}


def validate_chain(style_name: str, chain: Sequence[Any]) -> None:
    """Raise ``ValueError`` naming the style and the op if ``chain`` is not a valid filter chain."""
    if not isinstance(chain, Sequence) or isinstance(chain, str) or not chain:
        raise ValueError(f"style {style_name!r}: 'procedural' must be a non-empty list of ops")
    for i, step in enumerate(chain):
        where = f"style {style_name!r}, step {i + 1}"
        if not isinstance(step, dict) or not isinstance(step.get("op"), str):
            raise ValueError(
                f"{where}: each step must be a mapping with an 'op' name, got {step!r}"
            )
        name = step["op"]
        if name not in OPS:
            known = ", ".join(sorted(OPS))
            raise ValueError(f"{where}: unknown op {name!r}; known ops: {known}")
        params = {k: v for k, v in step.items() if k != "op"}
        try:
            OPS[name].check(params)
        except ValueError as err:
            raise ValueError(f"{where}, op {name!r}: {err}") from None
