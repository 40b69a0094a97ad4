"""A seed photo stored with an EXIF rotation matches the upright painting made from it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from canvas_data.intake.photo_matching import LOW_MARGIN, match, structure


def photo(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((96, 96))


def encoded(im: Image.Image, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


# The inverse of what exif_transpose does for each tag: the pixels a camera stores.
T = Image.Transpose
STORED = {3: T.ROTATE_180, 5: T.TRANSPOSE, 6: T.ROTATE_90, 8: T.ROTATE_270}


@pytest.mark.parametrize("orientation", [3, 6, 8, 5])
def test_a_rotated_seed_photo_matches_its_upright_painting(orientation):
    pictures = [photo(s) for s in range(3)]
    stored = pictures[0].transpose(STORED[orientation])
    data = encoded(stored, orientation)
    with Image.open(io.BytesIO(data)) as im:  # the tag turns the stored pixels upright
        seen = np.asarray(ImageOps.exif_transpose(im), np.int16)
    assert np.abs(seen - np.asarray(pictures[0], np.int16)).mean() < 6
    photos = np.stack([structure(data), *(structure(encoded(p)) for p in pictures[1:])])
    painting = Image.fromarray(255 - np.asarray(pictures[0]))  # tones inverted, edges kept
    (pair,) = match(structure(encoded(painting))[None], photos)
    assert pair.photo == 0 and pair.margin > LOW_MARGIN
