"""Reduced-scale JPEG decode: same shape as a full decode plus resize, close in content."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from canvas_data.images.decode import dct_scale, decode_image, image_size

BACKENDS = ["pillow", "simplejpeg"]


def encoded(size: int, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    """A real photo (scikit-image's astronaut) at ``size`` px, encoded."""
    img = Image.fromarray(data.astronaut()).resize((size, size), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.convert(mode).save(buf, fmt, quality=92)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo_1024():
    return encoded(1024)


def full_then_resize(blob: bytes, size: int) -> np.ndarray:
    img = Image.open(io.BytesIO(blob)).convert("RGB")
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [128, 224, 256, 512])
def test_reduced_decode_matches_full_decode(photo_1024, size, backend):
    fast = decode_image(photo_1024, size=size, backend=backend)
    slow = full_then_resize(photo_1024, size)
    assert fast.shape == slow.shape == (size, size, 3)
    assert fast.dtype == np.uint8
    diff = np.abs(fast.astype(int) - slow.astype(int))
    assert diff.mean() < 2.5
    assert np.percentile(diff, 99) < 20


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("min_size", "side"), [(256, 256), (224, 256), (300, 512), (512, 512)])
def test_min_size_decodes_at_the_smallest_scale_large_enough(photo_1024, min_size, side, backend):
    out = decode_image(photo_1024, min_size=min_size, backend=backend)
    assert out.shape == (side, side, 3)  # 1024 / 4 = 256 >= 224; 1024 / 2 = 512 >= 300


@pytest.mark.parametrize("min_size", [None, 100, 256, (128, 300)])
def test_backends_agree(photo_1024, min_size):
    turbo = decode_image(photo_1024, min_size=min_size, backend="simplejpeg")
    pillow = decode_image(photo_1024, min_size=min_size, backend="pillow")
    assert turbo.shape == pillow.shape
    assert np.abs(turbo.astype(int) - pillow.astype(int)).max() <= 1


def test_dct_scale_needs_both_sides():
    assert dct_scale((1024, 1024), (128, 300)) == 2
    assert dct_scale((1024, 768), (256, 96)) == 4
    assert dct_scale((1024, 1024), (1000, 1000)) == 1
    assert dct_scale((1024, 1024), None) == 1


def test_no_size_is_a_full_decode(photo_1024):
    full = np.asarray(Image.open(io.BytesIO(photo_1024)).convert("RGB"))
    assert np.array_equal(decode_image(photo_1024, backend="pillow"), full)


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_output_is_writable_rgb_for_grey_jpegs(backend):
    out = decode_image(encoded(256, mode="L"), min_size=64, backend=backend)
    assert out.shape == (64, 64, 3) and out.flags.writeable
    assert np.array_equal(out[..., 0], out[..., 2])


def test_other_formats_and_cmyk_go_through_pillow():
    png = decode_image(encoded(100, fmt="PNG"), min_size=25)  # not a JPEG: full size
    assert png.shape == (100, 100, 3)
    cmyk = encoded(128, mode="CMYK")
    auto = decode_image(cmyk, min_size=64)
    assert auto.shape == (64, 64, 3)
    assert np.array_equal(auto, decode_image(cmyk, min_size=64, backend="pillow"))
    with pytest.raises(ValueError, match="cannot convert CMYK"):
        decode_image(cmyk, backend="simplejpeg")


def test_image_size_reads_the_header_only(photo_1024):
    assert image_size(photo_1024) == (1024, 1024)


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
@pytest.mark.parametrize("blob", [b"", b"not an image", encoded(64)[:200]])
def test_bad_bytes_name_the_sample(blob, backend):
    with pytest.raises(ValueError, match="Van_Gogh/Cats/3: cannot decode image"):
        decode_image(blob, min_size=32, name="Van_Gogh/Cats/3", backend=backend)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown decode backend 'cv2'"):
        decode_image(b"", backend="cv2")


def test_image_files_are_read_only_up_to_a_limit(tmp_path):
    from canvas_data.images.decode import read_image_file

    small = tmp_path / "small.jpg"
    small.write_bytes(b"\xff\xd8" + bytes(998))
    assert read_image_file(small, limit=1000) == small.read_bytes()
    big = tmp_path / "big.jpg"
    big.write_bytes(bytes(1001))
    with pytest.raises(ValueError, match=r"big\.jpg: larger than 1,000 bytes"):
        read_image_file(big, limit=1000)
    endless = tmp_path / "endless.jpg"
    endless.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"endless\.jpg: larger than"):
        read_image_file(endless, limit=1000)
