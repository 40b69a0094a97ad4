"""Embedded ICC profiles are converted to sRGB by what they do, before alpha is composited."""

import io

import numpy as np
import pytest
from icc_profiles import P3_COLOURANTS, matrix_profile, p3_to_srgb, srgb_encode
from PIL import Image, ImageCms

from canvas_data.images.colour import is_srgb, to_srgb
from canvas_data.images.jpeg import to_jpeg
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
