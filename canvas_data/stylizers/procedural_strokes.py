"""Line and stroke ops: ink outlines, pencil, hatching, neon edges, brush strokes along a flow."""

from __future__ import annotations

import math

import cv2
import numpy as np

from canvas_data.stylizers.procedural_base import (
    Op,
    blur,
    coords,
    flat,
    luma,
    mix,
    noise,
    px,
    registrar,
    rgb,
    scale,
    sobel,
    stretch,
)

OPS: dict[str, Op] = {}
op = registrar(OPS)

EDGE_METHODS = ("dog", "sobel", "canny")
FIELDS = ("edges", "swirl", "angle", "noise")


def edge_mask(img: np.ndarray, method: str, sigma: float, threshold: float, thickness: float):
    """Lines of ``img`` as an HxW mask in [0, 1] (1 = ink); lengths in 512 px pixels."""
    g = luma(img)
    s = px(img, sigma, 0.5)
    if method == "dog":
        d = blur(g, 1.6 * s) - blur(g, s)
        mask = np.clip((d - threshold) / threshold, 0, 1)
    elif method == "sobel":
        gx, gy = sobel(blur(g, s))
        mag = np.hypot(gx, gy) * scale(img)  # per 512 px pixel, whatever the resolution
        mask = np.clip((mag - threshold) / threshold, 0, 1)
    else:
        u8 = (blur(g, s) * 255).astype(np.uint8)
        mask = cv2.Canny(u8, threshold * 255, threshold * 510).astype(np.float32) / 255
    k = int(round(px(img, thickness, 0)))
    if k > 1:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return mask


@op(
    "edges",
    method=EDGE_METHODS,
    sigma=(0, 50),
    threshold=(0.0001, 10),
    opacity=(0, 1),
    thickness=(0, 40),
    fill=(0, 1),
)
def edges(
    img,
    rng,
    *,
    method="dog",
    sigma=1.5,
    threshold=0.02,
    thickness=1.0,
    color="#000000",
    opacity=1.0,
    fill=0.0,
    paper_color="#ffffff",
):
    """Draw the image's outlines in ``color``; ``fill`` 1 draws them on blank ``paper_color``."""
    mask = edge_mask(img, method, sigma, threshold, thickness) * opacity
    base = mix(img, flat(img, paper_color), fill)
    return mix(base, flat(img, color), mask)


@op(
    "neon",
    sigma=(0, 50),
    threshold=(0.0001, 10),
    glow=(0, 10),
    saturation=(0, 1),
    thickness=(0, 40),
)
def neon(
    img,
    rng,
    *,
    sigma=1.5,
    threshold=0.08,
    thickness=2.0,
    glow=2.0,
    saturation=1.0,
    hue_shift=0.0,
    background_color="#000000",
):
    """Glowing lines, in the image's own hues at full brightness, on a dark background."""
    mask = edge_mask(img, "sobel", sigma, threshold, thickness)
    hsv = cv2.cvtColor(blur(img, px(img, 3)), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + hue_shift) % 360
    hsv[..., 1], hsv[..., 2] = np.maximum(hsv[..., 1], saturation), 1.0
    light = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * mask[..., None]
    halo = blur(light, px(img, 6)) * glow
    return np.clip(rgb(background_color) + light + halo, 0, 1)


@op("pencil", sigma=(0.1, 100), darkness=(0.1, 10), strength=(0, 1))
def pencil(
    img, rng, *, sigma=8.0, darkness=2.0, color="#202020", paper_color="#f8f6f0", strength=1.0
):
    """Pencil sketch by colour dodge: grey divided by the blurred inverse, drawn on paper."""
    g = luma(img)
    dodge = np.clip(g / np.maximum(blur(g, px(img, sigma)), 1e-3), 0, 1)
    ink = 1 - dodge**darkness
    ink = np.clip(ink / max(float(np.percentile(ink[::4, ::4], 99.5)), 0.05), 0, 1)
    paper = flat(img, paper_color)
    return mix(img, mix(paper, flat(img, color), ink), strength)


def stripes(img: np.ndarray, spacing: float, angle: float, width: float, wobble: np.ndarray):
    """Anti-aliased parallel lines, 1 on a line; ``spacing`` and ``width`` in pixels."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    a = math.radians(angle)
    u = (x * math.cos(a) + y * math.sin(a)) / spacing + wobble
    dist = np.abs(u - np.floor(u) - 0.5) * spacing
    return np.clip(width / 2 + 0.5 - dist, 0, 1)


@op("hatch", spacing=(1, 100), thickness=(0.1, 50), keep=(0, 1), angles=(-360, 360))
def hatch(
    img,
    rng,
    *,
    spacing=6.0,
    angles=(45.0, -45.0, 0.0, 90.0),
    thickness=1.2,
    color="#000000",
    paper_color="#ffffff",
    keep=0.0,
):
    """Cross-hatching: one more direction of lines for every darker quarter of tones."""
    g = stretch(blur(luma(img), px(img, 1.5)))
    h, w = g.shape
    wobble = (noise(rng, h, w, px(img, 40)) - 0.5) * 0.6
    sp, th = px(img, spacing, 2), px(img, thickness, 0.6)
    ink = np.zeros_like(g)
    for i, angle in enumerate(angles):
        level = 0.85 - 0.8 * (i + 0.5) / len(angles)
        tone = np.clip((level - g) / 0.08, 0, 1)
        ink = np.maximum(ink, stripes(img, sp, angle, th, wobble) * tone)
    base = mix(flat(img, paper_color), img, keep)
    return mix(base, flat(img, color), ink)


@op(
    "line_weave",
    spacing=(1, 200),
    amplitude=(0, 20),
    thickness=(0.1, 50),
    angle=(-360, 360),
    brightness=(0, 4),
)
def line_weave(
    img,
    rng,
    *,
    spacing=7.0,
    amplitude=2.0,
    thickness=1.5,
    angle=20.0,
    brightness=1.6,
    background_color="#05030c",
):
    """Thin parallel strings that bend with the image's brightness, coloured by it, on dark."""
    h, w = img.shape[:2]
    g = blur(luma(img), px(img, 2))
    bend = amplitude * g + 1.5 * noise(rng, h, w, px(img, 90))
    line = stripes(img, px(img, spacing, 2), angle, px(img, thickness, 0.6), bend)
    colour = np.clip(blur(img, px(img, 1)) * brightness, 0, 1)
    glow = blur(line, px(img, 2)) * 0.6
    return mix(flat(img, background_color), colour, np.clip(line + glow, 0, 1))


def _doubled(theta: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(2 * theta), np.sin(2 * theta)], -1)


def flow_angle(img, rng, field: str, angle: float, swirls: int, follow: float) -> np.ndarray:
    """Stroke direction per pixel (radians, HxW): a base ``field``, bent toward image edges."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    if field == "swirl":
        vx = np.full((h, w), 0.2, np.float32)
        vy = np.zeros((h, w), np.float32)
        radius = 0.22 * min(h, w)
        for cx, cy, spin in zip(
            rng.random(swirls) * w,
            rng.random(swirls) * h,
            rng.choice([-1.0, 1.0], swirls),
            strict=True,
        ):
            dx, dy = x - cx, y - cy
            fall = np.exp(-(dx * dx + dy * dy) / (2 * radius * radius)) * spin
            vx -= dy / radius * fall
            vy += dx / radius * fall
        base = np.arctan2(vy, vx)
    elif field == "noise":
        base = noise(rng, h, w, px(img, 160)) * 4 * np.pi
    else:
        base = np.full((h, w), math.radians(angle), np.float32)
        if field == "angle":
            base = base + (noise(rng, h, w, px(img, 60)) - 0.5) * 0.6
    if field != "edges" and follow <= 0:
        return base.astype(np.float32)
    gx, gy = sobel(blur(luma(img), px(img, 2)))
    tensor = np.stack([gx * gx - gy * gy, 2 * gx * gy], -1)
    tensor = blur(tensor, px(img, 6))
    mag = np.linalg.norm(tensor, axis=-1, keepdims=True)
    edge_dir = -tensor / np.maximum(mag, 1e-6)
    weight = follow * np.clip(mag / max(float(np.percentile(mag, 90)), 1e-6), 0, 1)
    if field == "edges":
        weight = np.maximum(weight, 0.05)
    vec = _doubled(base) * (1 - weight) + edge_dir * weight
    return (0.5 * np.arctan2(vec[..., 1], vec[..., 0])).astype(np.float32)


def streak(src: np.ndarray, theta: np.ndarray, length: float, samples: int) -> np.ndarray:
    """Average ``src`` along a straight segment of ``length`` pixels in direction ``theta``."""
    h, w = theta.shape
    x, y = coords(h, w)
    c, s = np.cos(theta), np.sin(theta)
    acc = np.zeros_like(src)
    for t in np.linspace(-length / 2, length / 2, samples).tolist():
        acc += cv2.remap(src, x + c * t, y + s * t, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return acc / samples


@op(
    "strokes",
    field=FIELDS,
    length=(0, 400),
    width=(0.5, 100),
    strength=(0, 4),
    smear=(0, 4),
    swirls=(0, 64),
    follow=(0, 1),
    angle=(-360, 360),
    relief=(0, 20),
)
def strokes(
    img,
    rng,
    *,
    field="edges",
    length=16.0,
    width=3.0,
    strength=0.5,
    smear=0.6,
    angle=30.0,
    swirls=8,
    follow=0.5,
    relief=0.0,
):
    """Brush strokes: colours smeared along a flow and a streaky bristle texture (plus relief)."""
    h, w = img.shape[:2]
    theta = flow_angle(img, rng, field, angle, swirls, follow)
    length_px = px(img, length, 2)
    out = img
    if smear > 0:
        out = streak(img, theta, length_px * smear, 7)
    small = (max(w // 2, 1), max(h // 2, 1))
    half_theta = cv2.resize(theta, small, interpolation=cv2.INTER_NEAREST)
    grain = noise(rng, small[1], small[0], px(img, width) / 2)
    tex = stretch(streak(grain, half_theta, length_px / 2, 9), 2, 98)
    tex = cv2.resize(tex, (w, h), interpolation=cv2.INTER_LINEAR)
    out = out * (1 + strength * (tex[..., None] - 0.5))
    if relief > 0:
        gx, gy = sobel(blur(tex, px(img, 1)))
        out = out + (relief * 0.02 * scale(img) * (gx - gy))[..., None]
    return np.clip(out, 0, 1)
