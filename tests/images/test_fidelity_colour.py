"""16-bit PNGs with an ICC profile: a grey profile on a grey-and-alpha PNG (which Pillow opens as
RGBA) is applied like on any greyscale image, and a 16-bit RGB PNG's profile is applied."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from icc_profiles import P3_COLOURANTS, grey_profile, matrix_profile, p3_to_srgb
from PIL import Image

from canvas_data.images.colour import needs_conversion
from canvas_data.images.normalize import to_rgb


def png16(arr: np.ndarray, color_type: int, icc: bytes) -> bytes:
    """A 16-bit PNG written chunk by chunk (Pillow writes no 16-bit colour PNGs)."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"iCCP", b"profile\x00\x00" + zlib.compress(icc))
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )  # fmt: skip


def converted(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(to_rgb(im), np.int16)


def linear_grey_in_srgb(level: int) -> int:
    with Image.open(io.BytesIO(png16(np.full((2, 2), level * 257), 0, grey_profile()))) as im:
        return int(np.asarray(to_rgb(im))[0, 0, 0])


@pytest.mark.parametrize("alpha", [65535, 32768])
def test_a_grey_profile_on_a_16_bit_grey_and_alpha_png_is_applied(alpha):
    grey = np.full((4, 4), 128 * 257, np.uint16)
    data = png16(np.stack([grey, np.full_like(grey, alpha)], -1), 4, grey_profile(1.0))
    with Image.open(io.BytesIO(data)) as im:
        assert needs_conversion(im)
    expected = linear_grey_in_srgb(128)
    assert expected > 170  # linear 0.5 is about 188 in sRGB
    over_white = expected * alpha / 65535 + 255 * (1 - alpha / 65535)
    assert np.abs(converted(data) - over_white).max() <= 2


def test_an_rgb_image_with_a_grey_profile_and_colours_keeps_its_values():
    rgb = np.zeros((4, 4, 3), np.uint16)
    rgb[..., 0] = 200 * 257
    data = png16(rgb, 2, grey_profile(1.0))
    with Image.open(io.BytesIO(data)) as im:
        assert not needs_conversion(im)  # a mismatched profile is ignored, as browsers do
    assert (converted(data)[0, 0] == [200, 0, 0]).all()


@pytest.mark.parametrize("color_type, channels", [(2, 3), (6, 4)])
def test_a_16_bit_rgb_png_with_a_p3_profile_is_converted(color_type, channels):
    colour = np.array([200, 100, 50, 255][:channels], np.uint16) * 257
    data = png16(np.tile(colour, (4, 4, 1)), color_type, matrix_profile("P3", P3_COLOURANTS))
    expected = p3_to_srgb(np.array([200, 100, 50], np.uint8))
    assert np.abs(converted(data)[0, 0] - expected).max() <= 2
