"""Every reader sees the same upright image: EXIF-rotated inputs are turned upright when packed."""

import io

import numpy as np
import pytest
from conftest import painted_workspace
from datasets import load_dataset
from icc_profiles import P3_COLOURANTS, matrix_profile, p3_to_srgb
from PIL import Image, ImageOps
from release_data import tar_samples

from canvas_data.images.jpeg import check_image, for_shard
from canvas_data.loading.loaders import text_to_image
from canvas_data.pipeline import pack_dataset

ROTATED = {1: 3, 2: 6, 3: 8}  # idx -> EXIF orientation (180 degrees, 90 CW, 90 CCW)


def rotated_jpeg(orientation: int, seed: int, icc: bytes | None = None) -> bytes:
    """A 64x40 JPEG (distinct halves, so a turn shows) with an EXIF orientation tag."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((64, 40), Image.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, exif=exif, **({"icc_profile": icc} if icc else {}))
    return buf.getvalue()


def upright(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.int16)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("orient")
    work, recipe = painted_workspace(root)
    sources = {}
    for idx, orientation in ROTATED.items():
        path = work / "Monet" / "Cats" / f"{idx}.jpg"
        sources[f"Monet/Cats/{idx}"] = data = rotated_jpeg(orientation, idx)
        path.write_bytes(data)
    out = root / "uc"
    report = pack_dataset(work, out, recipe=recipe, progress=False)
    assert not report.unreadable
    return out, sources


def test_packed_image_is_upright_and_untagged(packed):
    out, sources = packed
    samples = tar_samples(out)
    for key, data in sources.items():
        stored = samples[key]["jpg"]
        info = check_image(stored)
        assert info.orientation == 1
        assert (info.height, info.width) == upright(data).shape[:2]
        assert np.abs(upright(stored) - upright(data)).mean() < 8  # re-encoded; turned: ~60


def test_our_loader_and_load_dataset_see_the_same_pixels(packed, tmp_path):
    out, sources = packed
    for split in ("train", "test"):
        ours = text_to_image(out, split=split, transform=None)
        mine = {ours[i]["key"]: ours[i]["image"] for i in range(len(ours))}
        hf = load_dataset(str(out), split=split, cache_dir=str(tmp_path / "hf"))
        theirs = {
            f"{r['json']['style']}/{r['json']['object']}/{r['json']['idx']}": r["jpg"] for r in hf
        }
        for key in sources.keys() & mine.keys():
            a = np.asarray(mine[key], np.int16)
            b = np.asarray(theirs[key].convert("RGB"), np.int16)
            assert a.shape == b.shape == upright(sources[key]).shape
            assert np.abs(a - b).max() <= 2  # decoders may round differently, nothing more


def test_for_shard_keeps_upright_srgb_jpegs_byte_for_byte():
    data = rotated_jpeg(1, 0)
    assert for_shard(data, check_image(data), None, 95) == data
    assert for_shard(data, None, None, 95) == data  # checks off: the header is still read


def test_for_shard_converts_a_display_p3_jpeg_to_srgb():
    colour = np.array([200, 100, 50], np.uint8)
    buf = io.BytesIO()
    icc = matrix_profile("Display P3", P3_COLOURANTS)
    Image.fromarray(np.tile(colour, (16, 16, 1))).save(buf, "JPEG", quality=100, icc_profile=icc)
    stored = for_shard(buf.getvalue(), check_image(buf.getvalue()), None, 95)
    with Image.open(io.BytesIO(stored)) as im:
        assert "icc_profile" not in im.info
        assert np.abs(np.asarray(im, np.int16) - p3_to_srgb(colour)).max() <= 3
