"""Cell ops: mosaic and facet tiles, dots and dabs, pixels, halftone, bricks, colour blocks."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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
)
from canvas_data.stylizers.procedural_strokes import FIELDS, flow_angle

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


@op("voronoi", cell=(2, 500), jitter=(0, 1), grout=(0, 50), shade=(0, 1), facet=(0, 2),
    fill=("mean", "seed"))  # fmt: skip
def voronoi(img, rng, *, cell=14.0, jitter=0.8, grout=1.5, grout_color="#d8d4cc", shade=0.08,
            facet=0.0, fill="mean"):  # fmt: skip
    """Tiles (mosaic tesserae, stained glass, cubist facets) filled with their mean colour."""
    h, w = img.shape[:2]
    c = cells(rng, h, w, px(img, cell, 2), jitter)
    colour = c.mean(img) if fill == "mean" else c.at_seeds(img)
    n = len(c.sx)
    colour = colour * (1 + (rng.random((n, 1), dtype=np.float32) - 0.5) * 2 * shade)
    out = colour[c.label]
    if facet > 0:
        a = rng.random(n, dtype=np.float32) * 2 * np.pi
        x, y = coords(h, w)
        along = (x - c.sx[c.label]) * np.cos(a)[c.label] + (y - c.sy[c.label]) * np.sin(a)[c.label]
        out = out * (1 + facet * np.clip(along / px(img, cell, 2), -0.6, 0.6))[..., None]
    if grout > 0:
        out = mix(out, np.broadcast_to(rgb(grout_color), img.shape), c.borders(px(img, grout)))
    return np.clip(out, 0, 1)


@op("dots", cell=(1, 200), radius=(0.05, 2), jitter=(0, 1), saturation=(0, 4),
    variation=(0, 1))  # fmt: skip
def dots(img, rng, *, cell=6.0, radius=0.5, jitter=0.9, saturation=1.4, variation=0.1,
         background_color="#f4efe4"):  # fmt: skip
    """Round dots of the image's colours (``radius`` in cells) on a plain ground."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 2)
    c = cells(rng, h, w, cell_px, jitter)
    colour = _vary(c.at_seeds(blur(img, cell_px / 3)), rng, saturation, variation)
    inside = np.clip(radius * cell_px - c.dist + 0.5, 0, 1)
    return mix(np.broadcast_to(rgb(background_color), img.shape), colour[c.label], inside)


def _vary(colour: np.ndarray, rng: np.random.Generator, saturation: float, variation: float):
    grey = colour.mean(1, keepdims=True)
    colour = grey + (colour - grey) * saturation
    colour = colour + (rng.random(colour.shape, dtype=np.float32) - 0.5) * variation
    return np.clip(colour, 0, 1).astype(np.float32)


@op("dabs", cell=(1, 200), length=(0.1, 4), width=(0.05, 2), layers=(1, 6), field=FIELDS,
    saturation=(0, 4), variation=(0, 1), spread=(0, 180))  # fmt: skip
def dabs(img, rng, *, cell=10.0, length=1.2, width=0.45, layers=2, field="angle", angle=60.0,
         spread=30.0, saturation=1.2, variation=0.08):  # fmt: skip
    """Short oval brush dabs (``length``/``width`` in cells) over the blurred image."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 2)
    source = blur(img, cell_px / 3)
    theta = flow_angle(img, rng, field, angle, 6, 0.3)
    x, y = coords(h, w)
    out = source.copy()
    for _ in range(layers):
        c = cells(rng, h, w, cell_px, 1.0)
        colour = _vary(c.at_seeds(source), rng, saturation, variation)
        a = c.at_seeds(theta[..., None])[:, 0]
        a = a + np.deg2rad(spread) * (rng.random(len(a), dtype=np.float32) - 0.5)
        dx, dy = x - c.sx[c.label], y - c.sy[c.label]
        ca, sa = np.cos(a)[c.label], np.sin(a)[c.label]
        u = (dx * ca + dy * sa) / (length * cell_px)
        v = (dy * ca - dx * sa) / (width * cell_px)
        inside = np.clip((1 - u * u - v * v) * 4, 0, 1)
        out = mix(out, colour[c.label], inside)
    return out


@op("pixelate", cell=(1, 200), outline=(0, 50))
def pixelate(img, rng, *, cell=12.0, outline=0.0, outline_color="#000000"):
    """Big square pixels (optionally with a grid between them)."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 1)
    small = cv2.resize(img, (max(1, round(w / cell_px)), max(1, round(h / cell_px))),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    if outline > 0:
        x, y = coords(h, w)
        fx, fy = x * small.shape[1] / w, y * small.shape[0] / h
        edge = min(0.45, px(img, outline, 0) / cell_px)
        line = ((fx % 1) < edge) | ((fy % 1) < edge)
        out = mix(out, np.broadcast_to(rgb(outline_color), img.shape), line.astype(np.float32))
    return out


@op("halftone", cell=(1, 200), angle=(-360, 360), mode=("mono", "color"), size=(0, 4))
def halftone(img, rng, *, cell=8.0, angle=45.0, mode="mono", size=1.0, ink_color="#000000",
             paper_color="#ffffff"):  # fmt: skip
    """Print dots on a rotated grid, bigger where darker (``mono``) or in the cell's colour."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 2)
    x, y = coords(h, w)
    a = np.deg2rad(angle)
    u = (x * np.cos(a) + y * np.sin(a)) / cell_px
    v = (y * np.cos(a) - x * np.sin(a)) / cell_px
    dist = np.hypot(u - np.round(u), v - np.round(v)) * cell_px
    smooth = blur(img, cell_px / 2)
    if mode == "mono":
        dark = 1 - luma(smooth)
        r = np.sqrt(dark) * cell_px * 0.72 * size
        return mix(img * 0 + rgb(paper_color), img * 0 + rgb(ink_color), np.clip(r - dist, 0, 1))
    sat = cv2.cvtColor(smooth, cv2.COLOR_RGB2HSV)[..., 1]
    r = (0.35 + 0.4 * sat) * cell_px * size
    return mix(img * 0 + rgb(paper_color), smooth, np.clip(r - dist, 0, 1))


@op("bricks", width=(2, 500), height=(2, 500), mortar=(0, 50), amount=(0, 1), rough=(0, 1))
def bricks(img, rng, *, width=48.0, height=20.0, mortar=3.0, mortar_color="#cfc6b8",
           colors=("#8e3b26", "#a44a2c", "#7a3322", "#b5643e"), amount=0.5, rough=0.3):  # fmt: skip
    """A running-bond brick wall: bricks take the image's mean colour blended with brick reds."""
    h, w = img.shape[:2]
    bw, bh, m = px(img, width, 2), px(img, height, 2), px(img, mortar, 0)
    x, y = coords(h, w)
    row = (y // bh).astype(np.intp)
    shifted = x + (row % 2) * bw / 2
    col = (shifted // bw).astype(np.intp)
    ncol = int(w / bw) + 2
    label = row * ncol + col
    n = int(label.max()) + 1
    count = np.maximum(np.bincount(label.ravel(), minlength=n), 1)
    mean = np.stack([np.bincount(label.ravel(), img[..., c].ravel(), n) / count for c in range(3)], 1)
    brick = palette(list(colors))[rng.integers(0, len(colors), n)]
    colour = mix(mean.astype(np.float32), brick, amount)[label]
    colour = colour * (1 - rough * (noise(rng, h, w, px(img, 3)) - 0.5))[..., None]
    joint = np.minimum(np.minimum(y % bh, bh - y % bh), np.minimum(shifted % bw, bw - shifted % bw))
    wall = np.clip(m / 2 + 0.5 - joint, 0, 1)
    shade = np.clip(1 - 0.5 * np.clip(y % bh / bh - 0.8, 0, 1), 0, 1)[..., None]
    return mix(np.clip(colour * shade, 0, 1), img * 0 + rgb(mortar_color), wall)


@op("blocks", splits=(1, 200), line=(0, 50))
def blocks(img, rng, *, splits=24, line=5.0, line_color="#111111",
           colors=("#f2f0e8", "#d62a20", "#1d4fa0", "#f5c800", "#f2f0e8")):  # fmt: skip
    """Rectangles from random splits, each in the palette colour nearest its mean, black lines."""
    h, w = img.shape[:2]
    rects = [(0, 0, w, h)]
    for _ in range(splits):
        i = int(np.argmax([(r[2] - r[0]) * (r[3] - r[1]) * rng.random() for r in rects]))
        x0, y0, x1, y1 = rects.pop(i)
        t = 0.3 + 0.4 * rng.random()
        if (x1 - x0) > (y1 - y0):
            xm = int(x0 + (x1 - x0) * t)
            rects += [(x0, y0, xm, y1), (xm, y0, x1, y1)]
        else:
            ym = int(y0 + (y1 - y0) * t)
            rects += [(x0, y0, x1, ym), (x0, ym, x1, y1)]
    pal = palette(list(colors))
    out = np.empty_like(img)
    for x0, y0, x1, y1 in rects:
        mean = img[y0:y1, x0:x1].reshape(-1, 3).mean(0)
        mean = mean.mean() + (mean - mean.mean()) * 3
        out[y0:y1, x0:x1] = pal[np.argmin(((pal - mean) ** 2).sum(1))]
    k = int(round(px(img, line, 0)))
    for x0, y0, x1, y1 in rects if k else ():
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), tuple(map(float, rgb(line_color))), k)
    return out
