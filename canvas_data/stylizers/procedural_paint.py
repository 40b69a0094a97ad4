"""Paint-mark ops: pointillist dots, oval brush dabs and sponge prints."""

from __future__ import annotations

import cv2
import numpy as np

from canvas_data.stylizers.procedural_base import Op, blur, flat, mix, noise, px, registrar
from canvas_data.stylizers.procedural_strokes import FIELDS, flow_angle
from canvas_data.stylizers.procedural_tiles import cells

OPS: dict[str, Op] = {}
op = registrar(OPS)


@op("dots", cell=(1, 200), radius=(0.05, 2), jitter=(0, 1), saturation=(0, 4), variation=(0, 1))
def dots(
    img,
    rng,
    *,
    cell=6.0,
    radius=0.5,
    jitter=0.9,
    saturation=1.4,
    variation=0.1,
    background_color="#f4efe4",
):
    """Round dots of the image's colours (``radius`` in cells) on a plain ground."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 2)
    c = cells(rng, h, w, cell_px, jitter)
    colour = _vary(c.at_seeds(blur(img, cell_px / 3)), rng, saturation, variation)
    inside = np.clip(radius * cell_px - c.dist + 0.5, 0, 1)
    return mix(flat(img, background_color), colour[c.label], inside)


def _vary(colour: np.ndarray, rng: np.random.Generator, saturation: float, variation: float):
    grey = colour.mean(1, keepdims=True)
    colour = grey + (colour - grey) * saturation
    colour = colour + (rng.random(colour.shape, dtype=np.float32) - 0.5) * variation
    return np.clip(colour, 0, 1).astype(np.float32)


@op(
    "dabs",
    cell=(4, 200),
    length=(0.1, 4),
    width=(0.05, 2),
    layers=(1, 4),
    field=FIELDS,
    saturation=(0, 4),
    variation=(0, 1),
    spread=(0, 180),
)
def dabs(
    img,
    rng,
    *,
    cell=12.0,
    length=1.6,
    width=0.6,
    layers=1,
    field="angle",
    angle=60.0,
    spread=30.0,
    saturation=1.2,
    variation=0.08,
):
    """Short oval brush dabs (``length``/``width`` in cells), laid in random order."""
    h, w = img.shape[:2]
    cell_px = px(img, cell, 2)
    out = blur(img, cell_px / 3)
    theta = flow_angle(img, rng, field, angle, 6, 0.3)
    gh, gw = int(h / cell_px) + 1, int(w / cell_px) + 1
    n = gh * gw * layers
    cx = ((rng.random(n) + np.tile(np.arange(gw), gh * layers)) * cell_px).clip(0, w - 1)
    cy = ((rng.random(n) + np.repeat(np.arange(gh * layers) % gh, gw)) * cell_px).clip(0, h - 1)
    ix, iy = cx.astype(np.intp), cy.astype(np.intp)
    colour = _vary(out[iy, ix], rng, saturation, variation).tolist()
    tilt = np.degrees(theta[iy, ix]) + spread * (rng.random(n) - 0.5)
    axes = (max(1, round(length * cell_px / 2)), max(1, round(width * cell_px / 2)))
    for i in rng.permutation(n).tolist():
        cv2.ellipse(
            out, (int(ix[i]), int(iy[i])), axes, float(tilt[i]), 0, 360, colour[i], -1, cv2.LINE_AA
        )
    return out


@op(
    "sponge",
    cell=(1, 500),
    pores=(0.5, 50),
    layers=(1, 8),
    coverage=(0, 1),
    variation=(0, 1),
    wash=(0, 1),
)
def sponge(
    img,
    rng,
    *,
    cell=40.0,
    pores=5.0,
    layers=5,
    coverage=0.5,
    variation=0.25,
    wash=0.5,
    paper_color="#f4f0e6",
):
    """Sponge prints: porous blotches of the blurred image's colours over a pale ``wash``."""
    h, w = img.shape[:2]
    colour = blur(img, px(img, 4))
    out = mix(flat(img, paper_color), colour, wash)
    for _ in range(layers):
        blobs = noise(rng, h, w, px(img, cell))
        holes = noise(rng, h, w, px(img, pores, 1))
        mask = np.clip((blobs * 0.6 + holes * 0.6 - (1.2 - coverage)) * 8, 0, 1)
        tone = 1 + (rng.random(3, dtype=np.float32) - 0.5) * 2 * variation
        out = mix(out, np.clip(colour * tone, 0, 1), mask)
    return out
