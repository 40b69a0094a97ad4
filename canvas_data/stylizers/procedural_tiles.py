"""Cell ops: mosaic tiles, cubist facets, knife slabs, pixels, halftone, bricks, colour blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    palette,
    px,
    registrar,
    rgb,
)

OPS: dict[str, Op] = {}
op = registrar(OPS)


@dataclass(frozen=True)
class Cells:
    """A Voronoi partition: each pixel's cell ``label`` and ``dist`` to its seed at (sx, sy)."""

    label: np.ndarray
    dist: np.ndarray
    sx: np.ndarray
    sy: np.ndarray

    def mean(self, img: np.ndarray) -> np.ndarray:
        """Mean colour of every cell, Nx3."""
        lab = self.label.ravel()
        count = np.maximum(np.bincount(lab, minlength=len(self.sx)), 1)
        chans = [np.bincount(lab, img[..., c].ravel(), len(self.sx)) / count for c in range(3)]
        return np.stack(chans, 1).astype(np.float32)

    def at_seeds(self, img: np.ndarray) -> np.ndarray:
        """Colour of ``img`` at every seed, Nx3."""
        return img[self.sy.astype(np.intp), self.sx.astype(np.intp)]

    def borders(self, width_px: float) -> np.ndarray:
        """An HxW mask in [0, 1] of the lines between cells, ``width_px`` wide."""
        lab = self.label
        edge = np.zeros(lab.shape, np.uint8)
        edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
        edge[1:, :] |= lab[1:, :] != lab[:-1, :]
        k = int(round(width_px))
        if k > 1:
            edge = cv2.dilate(edge, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        return edge.astype(np.float32)


def cells(rng: np.random.Generator, h: int, w: int, cell_px: float, jitter: float) -> Cells:
    """Voronoi cells around a jittered grid of seeds ``cell_px`` apart."""
    gh, gw = int(h / cell_px) + 1, int(w / cell_px) + 1
    jx, jy = (rng.random((2, gh, gw), dtype=np.float32) - 0.5) * jitter
    sx = ((np.arange(gw)[None, :] + 0.5 + jx) * cell_px).ravel()
    sy = ((np.arange(gh)[:, None] + 0.5 + jy) * cell_px).ravel()
    ix, iy = sx.astype(np.intp), sy.astype(np.intp)
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    src = np.ones((h, w), np.uint8)
    src[iy[inside], ix[inside]] = 0
    dist, lab = cv2.distanceTransformWithLabels(
        src, cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(src == 0)  # labels number the seed pixels in raster order, from 1
    return Cells(lab - 1, dist, xs.astype(np.float32), ys.astype(np.float32))


@op(
    "voronoi",
    cell=(2, 500),
    jitter=(0, 1),
    grout=(0, 50),
    shade=(0, 1),
    facet=(0, 2),
    fill=("mean", "seed"),
    aspect=(1, 10),
    angle=(-360, 360),
)
def voronoi(
    img,
    rng,
    *,
    cell=14.0,
    jitter=0.8,
    grout=1.5,
    grout_color="#d8d4cc",
    shade=0.08,
    facet=0.0,
    fill="mean",
    aspect=1.0,
    angle=0.0,
):
    """Tiles (tesserae, stained glass, facets, or knife slabs ``aspect`` times as long as wide,
    along ``angle``) filled with their mean colour."""
    cell_px, grout_px = px(img, cell, 2), px(img, grout, 0)

    def paint(src: np.ndarray) -> np.ndarray:
        h, w = src.shape[:2]
        c = cells(rng, h, w, cell_px, jitter)
        colour = c.mean(src) if fill == "mean" else c.at_seeds(src)
        out = _shaded(colour, c, rng, shade, facet, cell_px)
        if grout > 0:
            out = mix(out, flat(src, grout_color), c.borders(grout_px))
        return out

    out = paint(img) if aspect == 1 else _stretched(img, angle, aspect, paint)
    return np.clip(out, 0, 1)


def _stretched(img: np.ndarray, angle: float, aspect: float, fn) -> np.ndarray:
    """Apply ``fn`` in a frame rotated by ``angle`` and squeezed ``aspect`` times along it, so
    that round features come out ``aspect`` times longer along ``angle``."""
    h, w = img.shape[:2]
    side = int(np.hypot(h, w)) + 2
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += [(side - w) / 2, (side - h) / 2]
    big = cv2.warpAffine(img, m, (side, side), borderMode=cv2.BORDER_REFLECT)
    small = cv2.resize(big, (max(1, round(side / aspect)), side), interpolation=cv2.INTER_AREA)
    big = cv2.resize(fn(small), (side, side), interpolation=cv2.INTER_LINEAR)
    return cv2.warpAffine(big, cv2.invertAffineTransform(m), (w, h), flags=cv2.INTER_LINEAR)


def _shaded(colour, c: Cells, rng, shade: float, facet: float, size: float) -> np.ndarray:
    """Paint every cell its colour, varied by ``shade`` and lit across by a ``facet`` gradient."""
    n = len(c.sx)
    colour = colour * (1 + (rng.random((n, 1), dtype=np.float32) - 0.5) * 2 * shade)
    out = colour[c.label]
    if facet > 0:
        a = rng.random(n, dtype=np.float32) * 2 * np.pi
        x, y = coords(*c.label.shape)
        lab = c.label
        along = (x - c.sx[lab]) * np.cos(a)[lab] + (y - c.sy[lab]) * np.sin(a)[lab]
        out = out * (1 + facet * np.clip(along / size, -0.6, 0.6))[..., None]
    return out


@op("shards", cell=(4, 500), cuts=(1, 3), keep=(0, 1), shade=(0, 1), facet=(0, 2), outline=(0, 50))
def shards(
    img,
    rng,
    *,
    cell=70.0,
    cuts=2,
    keep=0.3,
    shade=0.15,
    facet=0.4,
    outline=2.0,
    outline_color="#222222",
):
    """Cubist planes: Voronoi cells cut by straight lines through their seeds, each piece lit."""
    h, w = img.shape[:2]
    x, y = coords(h, w)
    c = cells(rng, h, w, px(img, cell, 4), 1.0)
    label = c.label * 2**cuts
    dx, dy = x - c.sx[c.label], y - c.sy[c.label]
    for k in range(cuts):
        a = (rng.random(len(c.sx), dtype=np.float32) * np.pi)[c.label]
        label += ((dx * np.cos(a) + dy * np.sin(a)) > 0).astype(np.intp) << k
    n = len(c.sx) * 2**cuts
    count = np.maximum(np.bincount(label.ravel(), minlength=n), 1)
    sx = (np.bincount(label.ravel(), x.ravel(), n) / count).astype(np.float32)
    sy = (np.bincount(label.ravel(), y.ravel(), n) / count).astype(np.float32)
    pieces = Cells(label, c.dist, sx, sy)
    out = mix(_shaded(pieces.mean(img), pieces, rng, shade, facet, px(img, cell, 4)), img, keep)
    if outline > 0:
        out = mix(out, flat(img, outline_color), pieces.borders(px(img, outline)))
    return np.clip(out, 0, 1)


@op("pixelate", cell=(1, 200), outline=(0, 50))
def pixelate(img, rng, *, cell=12.0, outline=0.0, outline_color="#000000"):
    """Big square pixels (optionally with a grid between them)."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 1)
    small = cv2.resize(
        img, (max(1, round(w / cell_px)), max(1, round(h / cell_px))), interpolation=cv2.INTER_AREA
    )
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    if outline > 0:
        x, y = coords(h, w)
        fx, fy = x * small.shape[1] / w, y * small.shape[0] / h
        edge = min(0.45, px(img, outline, 0) / cell_px)
        line = ((fx % 1) < edge) | ((fy % 1) < edge)
        out = mix(out, flat(img, outline_color), line.astype(np.float32))
    return out


@op("halftone", cell=(1, 200), angle=(-360, 360), mode=("mono", "color"), size=(0, 4))
def halftone(
    img,
    rng,
    *,
    cell=8.0,
    angle=45.0,
    mode="mono",
    size=1.0,
    ink_color="#000000",
    paper_color="#ffffff",
):
    """Print dots on a rotated grid, bigger where darker (``mono``) or in the cell's colour."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 2)
    x, y = coords(h, w)
    a = math.radians(angle)
    u = (x * math.cos(a) + y * math.sin(a)) / cell_px
    v = (y * math.cos(a) - x * math.sin(a)) / cell_px
    dist = np.hypot(u - np.round(u), v - np.round(v)) * cell_px
    smooth = blur(img, cell_px / 2)
    if mode == "mono":
        dark = 1 - luma(smooth)
        r = np.sqrt(dark) * cell_px * 0.72 * size
        return mix(flat(img, paper_color), flat(img, ink_color), np.clip(r - dist, 0, 1))
    sat = cv2.cvtColor(smooth, cv2.COLOR_RGB2HSV)[..., 1]
    r = (0.35 + 0.4 * sat) * cell_px * size
    return mix(flat(img, paper_color), smooth, np.clip(r - dist, 0, 1))


@op("bricks", width=(2, 500), height=(2, 500), mortar=(0, 50), amount=(0, 1), rough=(0, 1))
def bricks(
    img,
    rng,
    *,
    width=48.0,
    height=20.0,
    mortar=3.0,
    mortar_color="#cfc6b8",
    colors=("#8e3b26", "#a44a2c", "#7a3322", "#b5643e"),
    amount=0.5,
    rough=0.3,
):
    """A running-bond brick wall: bricks take the image's mean colour blended with brick reds."""
    h, w = img.shape[:2]
    bw, bh, m = px(img, width, 2), px(img, height, 2), px(img, mortar, 0)
    x, y = coords(h, w)
    row = (y // bh).astype(np.intp)
    shifted = x + (row % 2).astype(np.float32) * (bw / 2)
    col = (shifted // bw).astype(np.intp)
    ncol = int(w / bw) + 2
    label = row * ncol + col
    n = int(label.max()) + 1
    count = np.maximum(np.bincount(label.ravel(), minlength=n), 1)
    mean = np.stack(
        [np.bincount(label.ravel(), img[..., c].ravel(), n) / count for c in range(3)], 1
    )
    brick = palette(list(colors))[rng.integers(0, len(colors), n)]
    colour = mix(mean.astype(np.float32), brick, amount)[label]
    colour = colour * (1 - rough * (noise(rng, h, w, px(img, 3)) - 0.5))[..., None]
    joint = np.minimum(np.minimum(y % bh, bh - y % bh), np.minimum(shifted % bw, bw - shifted % bw))
    wall = np.clip(m / 2 + 0.5 - joint, 0, 1)
    shade = np.clip(1 - 0.5 * np.clip(y % bh / bh - 0.8, 0, 1), 0, 1)[..., None]
    return mix(np.clip(colour * shade, 0, 1), flat(img, mortar_color), wall)


@op("blocks", splits=(1, 200), line=(0, 50), coloured=(0, 1))
def blocks(
    img,
    rng,
    *,
    splits=24,
    line=5.0,
    line_color="#111111",
    ground_color="#f2f0e8",
    colors=("#d62a20", "#1d4fa0", "#f5c800"),
    coloured=0.35,
):
    """Rectangles from random splits with black lines between: the ``coloured`` share of them
    that is most saturated takes the nearest of ``colors``, the rest ``ground_color``."""
    h, w = img.shape[:2]
    pal, ground = palette(list(colors)), rgb(ground_color)
    out = np.empty_like(img)
    rects = _split(rng, w, h, splits)
    means = np.array([img[y0:y1, x0:x1].reshape(-1, 3).mean(0) for x0, y0, x1, y1 in rects])
    lo, hi = means.min(1, keepdims=True), means.max(1, keepdims=True)
    pure = (means - lo) / np.maximum(hi - lo, 1e-3)
    nearest = np.argmin(((pure[:, None] - pal[None]) ** 2).sum(-1), 1)
    chosen = set(np.argsort(-(hi - lo)[:, 0])[: round(coloured * len(rects))].tolist())
    for i, (x0, y0, x1, y1) in enumerate(rects):
        out[y0:y1, x0:x1] = pal[nearest[i]] if i in chosen else ground
    k = int(round(px(img, line, 0)))
    for x0, y0, x1, y1 in rects if k else ():
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), tuple(map(float, rgb(line_color))), k)
    return out


def _split(
    rng: np.random.Generator, w: int, h: int, splits: int
) -> list[tuple[int, int, int, int]]:
    """Cut the ``w`` x ``h`` canvas into rectangles, ``splits`` times splitting a random big one."""
    rects = [(0, 0, w, h)]
    for _ in range(splits):
        i = int(np.argmax([(r[2] - r[0]) * (r[3] - r[1]) * rng.random() for r in rects]))
        x0, y0, x1, y1 = rects.pop(i)
        t = 0.25 + 0.5 * rng.random()
        if (x1 - x0) > (y1 - y0):
            xm = int(x0 + (x1 - x0) * t)
            rects += [(x0, y0, xm, y1), (xm, y0, x1, y1)]
        else:
            ym = int(y0 + (y1 - y0) * t)
            rects += [(x0, y0, x1, ym), (x0, ym, x1, y1)]
    return rects
