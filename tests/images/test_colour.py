"""Embedded ICC profiles are converted to sRGB by what they do, before alpha is composited."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from icc_profiles import P3_COLOURANTS, grey_profile, matrix_profile, p3_to_srgb, srgb_encode
from PIL import Image, ImageCms

from canvas_data.images.colour import is_srgb, needs_conversion, to_srgb
from canvas_data.images.jpeg import to_jpeg
from canvas_data.images.normalize import to_rgb
from canvas_data.intake.photo_checks import decode_photo

LINEAR = matrix_profile("sRGB linear", gamma=1.0)  # says sRGB, is not
P3 = matrix_profile("Display P3", P3_COLOURANTS)
P3_CALLED_SRGB = matrix_profile("sRGB IEC61966-2.1", P3_COLOURANTS)
SRGB_UNDER_ANOTHER_NAME = matrix_profile("Studio monitor calibrated")


def png(pixels: np.ndarray, mode: str, icc: bytes | None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, "PNG", **({"icc_profile": icc} if icc else {}))
    return buf.getvalue()


def photo_pixels(data: bytes) -> np.ndarray:
    return np.asarray(decode_photo(data, min_side=1).image, np.int16)


def test_profiles_are_judged_by_their_data_not_their_name():
    assert is_srgb(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    assert is_srgb(SRGB_UNDER_ANOTHER_NAME)
    assert not is_srgb(LINEAR)
    assert not is_srgb(P3_CALLED_SRGB)
    assert not is_srgb(b"not a profile")


def test_linear_light_profile_named_srgb_is_converted():
    grey = np.full((8, 8, 3), 128, np.uint8)
    out = photo_pixels(png(grey, "RGB", LINEAR))
    expected = srgb_encode(np.array(128 / 255))  # 187.9
    assert np.abs(out - expected).max() <= 1
    assert out.min() >= 187 and out.max() <= 189


@pytest.mark.parametrize("icc", [P3, P3_CALLED_SRGB])
def test_display_p3_is_converted(icc):
    colour = np.array([200, 100, 50], np.uint8)
    out = photo_pixels(png(np.tile(colour, (8, 8, 1)), "RGB", icc))
    assert np.abs(out - p3_to_srgb(colour)).max() <= 2  # (215, 93, 31), not (200, 100, 50)


def test_display_p3_with_alpha_is_converted_before_compositing():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:4, :, 3] = 255  # top half opaque
    rgba[4:, :, 3] = 128  # bottom half half-transparent
    out = photo_pixels(png(rgba, "RGBA", P3))
    converted = p3_to_srgb(np.array([200, 100, 50]))
    assert np.abs(out[:4] - converted).max() <= 2
    over_white = converted * 128 / 255 + 255 * (1 - 128 / 255)
    assert np.abs(out[4:] - over_white).max() <= 2


def test_alpha_is_kept_by_to_srgb():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = 128
    rgba[..., 3] = [[0, 64], [128, 255]]
    im = Image.open(io.BytesIO(png(rgba, "RGBA", LINEAR)))
    out = to_srgb(im)
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    assert np.abs(np.asarray(out, np.int16)[..., :3] - 188).max() <= 1


def test_srgb_profile_under_any_name_leaves_pixels_exactly_as_they_are():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    out = photo_pixels(png(pixels, "RGB", SRGB_UNDER_ANOTHER_NAME))
    assert np.array_equal(out, pixels)


def test_unreadable_profile_is_taken_as_srgb():
    pixels = np.full((4, 4, 3), 77, np.uint8)
    assert np.array_equal(photo_pixels(png(pixels, "RGB", b"\x00" * 200)), pixels)


def test_reencoding_to_jpeg_converts_to_srgb():
    grey = np.full((16, 16, 3), 128, np.uint8)
    with Image.open(io.BytesIO(to_jpeg(png(grey, "RGB", LINEAR)))) as im:
        out = np.asarray(im.convert("RGB"), np.int16)
        icc = im.info.get("icc_profile")
        assert icc is None or is_srgb(icc)  # no profile left that says otherwise
    assert np.abs(out - 188).max() <= 2


def test_a_rotated_display_p3_jpeg_is_turned_and_converted_at_intake():
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees
    colour = np.array([200, 100, 50], np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.tile(colour, (16, 24, 1))).save(
        buf, "JPEG", quality=100, exif=exif, icc_profile=P3
    )
    out = photo_pixels(buf.getvalue())
    assert out.shape == (24, 16, 3)
    assert np.abs(out - p3_to_srgb(colour)).max() <= 3


# 16-bit PNGs with an ICC profile: a grey profile on a grey-and-alpha PNG (which Pillow opens as
# RGBA) is applied like on any greyscale image, and a 16-bit RGB PNG's profile is applied.


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
