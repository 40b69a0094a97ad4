"""Which seed photo a painting was made from, told by the structure the stylization keeps.

A painting of UnlearnCanvas repaints its seed photo: colours, texture and brush strokes change,
the layout of edges mostly stays. ``structure`` reduces an image to that layout: RGB at
64 x 64 px, a Gaussian blur (sigma 1.5 px) that removes brush-stroke and noise detail, then the
Sobel gradient magnitude (scikit-image) of the three channels together, as a zero-mean unit
vector. Two images compare by the cosine distance of their vectors (0: same edges, 1: unrelated,
up to 2). Colour edges survive what greyscale would lose: two regions whose colours a shift
makes equally bright still differ in some channel; an inversion of tones keeps every edge.

``match`` pairs the paintings of one (style, object) cell with that object's seed photos by an
optimal assignment (``scipy.optimize.linear_sum_assignment``: the smallest total distance, each
photo used at most once), and says how sure each pair is: the *margin*, the distance to the
nearest other photo minus the distance to the assigned one. A margin near 0 (or below) means
another photo fits about as well; ``LOW_MARGIN`` marks the pairs a person should look at.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from scipy.optimize import linear_sum_assignment
from skimage.filters import gaussian, sobel

SIZE = 64  # px, each side of the greyscale image the edges are taken from
SIGMA = 1.5  # px at SIZE, the blur before the edges
LOW_MARGIN = 0.1  # pairs with a smaller margin are listed as low-confidence


@dataclass(frozen=True)
class Pair:
    """One painting's assigned photo: indices into the inputs of ``match``.

    ``distance``: cosine distance of their structures (0..2). ``margin``: distance to the nearest
    other photo minus ``distance``; None when there was no other photo to compare with.
    """

    painting: int
    photo: int
    distance: float
    margin: float | None


def structure(data: bytes) -> np.ndarray:
    """The edge layout of encoded image bytes, turned upright by their EXIF orientation (as
    every placed image is): a float32 unit vector of SIZE*SIZE values.

    Raises OSError (or another Pillow error) for bytes Pillow cannot decode.
    """
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (SIZE * 2, SIZE * 2))  # JPEG: decode at a reduced DCT scale
        upright = ImageOps.exif_transpose(im)  # as placed: a held-aside row keeps its tag
        small = upright.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX)
    rgb = gaussian(np.asarray(small, np.float64) / 255.0, sigma=SIGMA, channel_axis=-1)
    edges = np.sqrt(sum(sobel(rgb[..., c]) ** 2 for c in range(3)))
    vector = (edges - edges.mean()).ravel()
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def distances(paintings: np.ndarray, photos: np.ndarray) -> np.ndarray:
    """Cosine distances, shape (paintings, photos), of two stacks of ``structure`` vectors."""
    return 1.0 - np.asarray(paintings, np.float64) @ np.asarray(photos, np.float64).T


def match(paintings: np.ndarray, photos: np.ndarray) -> list[Pair]:
    """Assign each painting (rows of ``paintings``) one of ``photos``, each photo at most once.

    Both are stacks of ``structure`` vectors. With more paintings than photos, the paintings
    left without a photo are not in the result. Pairs come in painting order.
    """
    cost = distances(paintings, photos)
    rows, cols = linear_sum_assignment(cost)
    pairs = []
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        others = np.delete(cost[i], j)
        margin = float(others.min() - cost[i, j]) if others.size else None
        pairs.append(Pair(i, j, float(cost[i, j]), margin))
    return pairs
