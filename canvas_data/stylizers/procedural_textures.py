"""Texture and overlay ops: paper, canvas, grain, grunge, vignette, streaks, sprinkles, warps."""

from __future__ import annotations

import math

import cv2
import numpy as np

from canvas_data.stylizers.procedural_base import (
    Op,
    blur,
    coords,
    flat,
    fractal,
    luma,
    mix,
    noise,
    palette,
    px,
    registrar,
    rgb,
)

OPS: dict[str, Op] = {}
op = registrar(OPS)


@op("paper", strength=(0, 2), grain=(0.1, 200), fibers=(0, 2))
def paper(img, rng, *, strength=0.12, grain=6.0, fibers=0.0, color="#ffffff"):
    """Multiply by a paper texture (mottled grain, optional fibres) in ``color``."""
    h, w = img.shape[:2]
    tex = fractal(rng, h, w, px(img, grain * 4), 3) - 0.5
    if fibers > 0:
        tex = tex + fibers * (noise(rng, h, w, px(img, 1), 12.0) - 0.5)
    return np.clip(img * rgb(color) * (1 + 2 * strength * tex[..., None]), 0, 1)


@op("canvas", strength=(0, 2), spacing=(0.5, 100))
def canvas(img, rng, *, strength=0.1, spacing=4.0):
    """Multiply by a woven canvas texture, threads ``spacing`` pixels apart."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    k = 2 * np.pi / px(img, spacing, 1.5)
    weave = np.sin(x * k) * np.sin(y * k * 0.5) * 0.6 + np.sin(y * k) * 0.4
    weave = weave + (noise(rng, h, w, px(img, 2)) - 0.5)
    return np.clip(img * (1 + strength * weave[..., None]), 0, 1)


@op("grain", amount=(0, 2), size=(0, 20), chroma=(0, 1))
def grain(img, rng, *, amount=0.05, size=0.5, chroma=0.0):
    """Film grain: Gaussian noise (``chroma`` 0: monochrome, 1: independent per channel)."""
    h, w = img.shape[:2]
    g = rng.standard_normal((h, w, 3), dtype=np.float32)
    g = mix(g[..., :1], g, chroma)
    if size > 0:
        g = blur(g, px(img, size, 0)) / max(0.3, px(img, size, 0)) ** 0.5
    return np.clip(img + g * amount, 0, 1)


@op("vignette", strength=(0, 1), radius=(0, 2))
def vignette(img, rng, *, strength=0.5, radius=0.6, color="#000000"):
    """Fade the corners toward ``color``."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    d = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / 1.414
    t = np.clip((d - radius * 0.7) / max(1.0 - radius * 0.7, 1e-3), 0, 1) ** 1.5 * strength
    return mix(img, flat(img, color), t)


@op("grunge", strength=(0, 1), cell=(1, 500), coverage=(0, 1), speckle=(0, 1))
def grunge(img, rng, *, strength=0.6, cell=60.0, coverage=0.4, speckle=0.3, color="#3a1a0c"):
    """Stains and specks of ``color``: thresholded fractal noise over the image."""
    h, w = img.shape[:2]
    n = fractal(rng, h, w, px(img, cell), 4)
    stain = np.clip((n - (1 - coverage)) * 6, 0, 1)
    fine = noise(rng, h, w, px(img, 2))
    specks = np.clip((fine - (1 - speckle * 0.2)) * 20, 0, 1)
    return mix(img, flat(img, color), np.maximum(stain * strength, specks))


@op(
    "streaks",
    count=(1, 3000),
    length=(1, 2000),
    width=(0.1, 50),
    angle=(-360, 360),
    opacity=(0, 1),
    glow=(0, 10),
    fade=(0, 1),
)
def streaks(
    img,
    rng,
    *,
    count=500,
    length=30.0,
    width=1.0,
    angle=100.0,
    opacity=0.4,
    glow=0.0,
    fade=0.0,
    color="#dfe8f0",
):
    """Straight streaks (rain, meteors): ``fade`` 1 gives each a bright head and a fading tail."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.float32)
    a = math.radians(angle)
    ln, th = px(img, length, 2), max(1, int(round(px(img, width, 0.5))))
    starts = rng.random((count, 2)) * [w, h]
    lengths = ln * (0.5 + rng.random(count))
    parts = 6 if fade > 0 else 1
    for (x0, y0), n in zip(starts, lengths, strict=True):
        for k in range(parts):
            p = [x0 + math.cos(a) * n * k / parts, y0 + math.sin(a) * n * k / parts]
            q = [x0 + math.cos(a) * n * (k + 1) / parts, y0 + math.sin(a) * n * (k + 1) / parts]
            value = 1 - fade * (1 - (k + 1) / parts)
            pt = (int(p[0]), int(p[1])), (int(q[0]), int(q[1]))
            cv2.line(mask, *pt, value, th, cv2.LINE_AA)
    if glow > 0:
        mask = np.clip(mask + blur(mask, px(img, 4)) * glow, 0, 1)
    return mix(img, flat(img, color), mask * opacity)


@op(
    "sprinkle",
    count=(1, 3000),
    radius=(0.1, 200),
    opacity=(0, 1),
    softness=(0, 20),
    shape=("disc", "petal"),
)
def sprinkle(
    img,
    rng,
    *,
    count=300,
    radius=3.0,
    colors=("#ffffff", "#f0f4ff"),
    opacity=0.9,
    softness=0.5,
    shape="disc",
):
    """Scattered discs or petals (snow, blossom, leaves, confetti) in random ``colors``."""
    h, w = img.shape[:2]
    layer = np.zeros_like(img)
    mask = np.zeros((h, w), np.float32)
    pal = palette(list(colors))
    r = px(img, radius, 1)
    for x0, y0, s, c, a in zip(
        rng.random(count) * w,
        rng.random(count) * h,
        0.5 + rng.random(count),
        rng.integers(0, len(pal), count),
        rng.random(count) * 180,
        strict=True,
    ):
        centre, axes = (int(x0), int(y0)), (max(1, int(r * s)), max(1, int(r * s * 0.5)))
        if shape == "disc":
            axes = (axes[0], axes[0])
        cv2.ellipse(layer, centre, axes, a, 0, 360, tuple(map(float, pal[c])), -1, cv2.LINE_AA)
        cv2.ellipse(mask, centre, axes, a, 0, 360, 1.0, -1, cv2.LINE_AA)
    soft = px(img, softness, 0)
    return mix(img, blur(layer, soft), blur(mask, soft) * opacity)


@op("scanlines", spacing=(1, 100), strength=(0, 1))
def scanlines(img, rng, *, spacing=4.0, strength=0.3):
    """Darken every other band of rows, like a CRT."""
    h, w = img.shape[:2]
    y = np.arange(h, dtype=np.float32)
    band = 0.5 + 0.5 * np.sin(y * 2 * np.pi / px(img, spacing, 2))
    return img * (1 - strength * band)[:, None, None]


@op("grid", spacing=(2, 500), width=(0.1, 50), opacity=(0, 1), glow=(0, 10))
def grid(img, rng, *, spacing=32.0, width=1.5, color="#00e5ff", opacity=0.7, glow=1.0):
    """A glowing square grid of lines."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    s, half = px(img, spacing, 2), px(img, width, 0.5) / 2
    dx, dy = np.abs((x % s) - s / 2), np.abs((y % s) - s / 2)
    lines = np.clip(half + 0.5 - (s / 2 - np.maximum(dx, dy)), 0, 1)
    lines = np.clip(lines + blur(lines, px(img, 3)) * glow, 0, 1)
    return mix(img, flat(img, color), lines * opacity)


@op("warp", kind=("noise", "ripple", "swirl", "melt"), amount=(0, 500), cell=(1, 1000))
def warp(img, rng, *, kind="noise", amount=10.0, cell=80.0):
    """Displace pixels: smooth ``noise``, a ``ripple``, a central ``swirl`` or a ``melt``."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    amt, c = px(img, amount, 0), px(img, cell, 1)
    if kind == "noise":
        mx = x + (noise(rng, h, w, c) - 0.5) * 2 * amt
        my = y + (noise(rng, h, w, c) - 0.5) * 2 * amt
    elif kind == "ripple":
        phase = rng.random(2) * 2 * np.pi
        mx = x + amt * np.sin(y * 2 * np.pi / c + phase[0])
        my = y + amt * np.sin(x * 2 * np.pi / c + phase[1])
    elif kind == "swirl":
        dx, dy = x - w / 2, y - h / 2
        r = np.hypot(dx, dy)
        turn = math.radians(amount) * np.exp(-r / c)
        mx = w / 2 + dx * np.cos(turn) - dy * np.sin(turn)
        my = h / 2 + dx * np.sin(turn) + dy * np.cos(turn)
    else:
        drip = noise(rng, 1, w, c / 6)[0] ** 2
        mx = x
        my = y - amt * drip[None, :] * (y / h) ** 2
    return cv2.remap(
        img,
        mx.astype(np.float32),
        my.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )


@op("mirror", axis=("x", "y"))
def mirror(img, rng, *, axis="x"):
    """Reflect the first half of the image onto the second."""
    out = img.copy()
    if axis == "x":
        half = img.shape[1] // 2
        out[:, img.shape[1] - half :] = img[:, :half][:, ::-1]
    else:
        half = img.shape[0] // 2
        out[img.shape[0] - half :] = img[:half][::-1]
    return out


@op("light_spots", cell=(1, 500), coverage=(0, 1), strength=(0, 2), shadow=(0, 1))
def light_spots(img, rng, *, cell=40.0, coverage=0.35, strength=0.6, shadow=0.35, color="#fff2c0"):
    """Dappled light: soft patches of sunlight in ``color`` over a shaded image."""
    h, w = img.shape[:2]
    n = fractal(rng, h, w, px(img, cell), 2)
    lit = np.clip((n - (1 - coverage)) * 8, 0, 1)
    lit = blur(lit, px(img, 3))[..., None]
    shade = img * (1 - shadow)
    return np.clip(shade + lit * (img * shadow + rgb(color) * strength * (1 - img)), 0, 1)


@op("flames", height=(0, 1), cell=(1, 500), strength=(0, 2))
def flames(
    img,
    rng,
    *,
    height=0.6,
    cell=24.0,
    strength=1.0,
    colors=("#000000", "#6a0a00", "#e03a00", "#ffa000", "#fff2a0"),
):
    """Tongues of fire rising from the bottom, added over the image."""
    h, w = img.shape[:2]
    c = px(img, cell, 1)
    n = 0.65 * noise(rng, h, w, c, 3.0) + 0.35 * noise(rng, h, w, c / 2, 2.0)
    _, y = coords(h, w)
    rise = (y / h - (1 - height)) / max(height, 1e-3)
    heat = np.clip(n * 1.4 + rise - 0.7, 0, 1)
    table = palette(list(colors))
    idx = np.clip(heat * (len(table) - 1), 0, len(table) - 1)
    lo = np.floor(idx).astype(np.intp)
    hi = np.minimum(lo + 1, len(table) - 1)
    fire = mix(table[lo], table[hi], (idx - lo).astype(np.float32))
    return np.clip(img + fire * strength, 0, 1)


@op("collage", pieces=(1, 60), size=(0.05, 1), tilt=(0, 90), grey=(0, 1))
def collage(img, rng, *, pieces=9, size=0.35, tilt=12.0, grey=0.5, paper_color="#e8dcc0"):
    """Dada collage: torn-out rectangles of the photo pasted askew on paper, some in grey."""
    h, w = img.shape[:2]
    out = mix(flat(img, paper_color), luma(img)[..., None] * 0.2, 0.5)
    out = np.ascontiguousarray(out, np.float32)
    for _ in range(pieces):
        pw, ph = np.minimum(size * (0.5 + rng.random(2)) * [w, h], [w - 1, h - 1]).astype(int) + 1
        sx, sy = int(rng.random() * (w - pw)), int(rng.random() * (h - ph))
        piece = img[sy : sy + ph, sx : sx + pw]
        if rng.random() < grey:
            piece = np.repeat(luma(piece)[..., None], 3, 2) * 1.1
        dx, dy = rng.random(2) * [w - pw, h - ph]
        m = cv2.getRotationMatrix2D((pw / 2, ph / 2), (rng.random() - 0.5) * 2 * tilt, 1.0)
        m[:, 2] += [dx, dy]
        warped = cv2.warpAffine(np.ascontiguousarray(piece), m, (w, h))
        cover = cv2.warpAffine(np.ones((ph, pw), np.float32), m, (w, h))
        off = px(img, 4)
        shadow = cv2.warpAffine(cover, np.float32([[1, 0, off], [0, 1, off]]), (w, h))
        out = mix(out, out * 0.6, shadow * 0.6)
        out = mix(out, np.clip(warped, 0, 1), cover)
    return out
