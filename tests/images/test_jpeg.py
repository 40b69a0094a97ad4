"""JPEGs with bytes after their end marker are valid; truncated ones are not."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from icc_profiles import P3_COLOURANTS, grey_profile, matrix_profile, p3_to_srgb
from PIL import Image, ImageOps
from release_data import tar_samples

from canvas_data.images.jpeg import ImageError, check_image, for_shard, jpeg_end
from canvas_data.images.normalize import to_rgb
from canvas_data.loading.loaders import text_to_image
from canvas_data.pack.shards import pack_shards
from canvas_data.pipeline import pack_dataset

VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 64  # 16 KB


def jpeg(seed: int = 0, size=(64, 48), **options) -> bytes:
    rng = np.random.default_rng(seed)
    noisy = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG", quality=90, **options)
    return buf.getvalue()


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


JPEGS = {
    "baseline": jpeg(),
    "progressive": jpeg(progressive=True),
    "restart markers": jpeg(restart_marker_blocks=4),
    "EXIF thumbnail-sized APP1": jpeg(exif=b"Exif\x00\x00" + b"\xff\xd9" * 3000),
}


@pytest.mark.parametrize("name", JPEGS)
def test_the_end_is_found_by_walking_the_stream(name):
    data = JPEGS[name]
    assert jpeg_end(data) == len(data)
    assert jpeg_end(data + VIDEO) == len(data)
    assert check_image(data + VIDEO).format == "JPEG"
    assert check_image(data + VIDEO, "decode").format == "JPEG"


@pytest.mark.parametrize("name", JPEGS)
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_jpegs_are_still_rejected(name, keep):
    data = JPEGS[name]
    cut = data[: int(len(data) * keep)]
    assert jpeg_end(cut) is None
    for damaged in (cut, cut + b"\x00" * 5000):  # padding does not make it whole
        with pytest.raises(ImageError, match="truncated|cannot identify"):  # cut in a header
            check_image(damaged)


def test_stray_bytes_between_segments_are_skipped_as_decoders_do():
    data = JPEGS["baseline"]
    app0_end = 4 + int.from_bytes(data[4:6], "big")  # SOI, then APP0 (JFIF)
    stray = data[:app0_end] + b"\x00\x00\xff" + data[app0_end:]
    assert pixels(stray).shape == pixels(data).shape  # libjpeg reads it
    assert jpeg_end(stray) == len(stray)
    assert for_shard(stray + VIDEO, check_image(stray + VIDEO), None, 95) == stray


def test_stored_bytes_are_the_jpeg_stream_alone():
    data = JPEGS["progressive"]
    assert for_shard(data + VIDEO, check_image(data + VIDEO), None, 95) == data


def test_an_mpo_is_its_first_image_without_the_index():
    first, second = (Image.fromarray(pixels(jpeg(s))) for s in (1, 2))
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[second], quality=90)
    mpo = buf.getvalue()
    info = check_image(mpo)
    assert info.format == "JPEG"
    stored = for_shard(mpo, info, None, 95)
    assert len(stored) < len(mpo)
    with Image.open(io.BytesIO(stored)) as im:
        assert im.format == "JPEG"
        assert np.array_equal(np.asarray(im.convert("RGB")), pixels(mpo))


def test_motion_photos_are_packed_and_truly_truncated_files_are_not(tmp_path, tiny_painted):
    work = shutil.copytree(tiny_painted[0], tmp_path / "work")
    recipe = tiny_painted[1]
    originals = {}
    for idx in (1, 2, 3):
        data = (work / "Van_Gogh" / "Human" / f"{idx}.jpg").read_bytes()
        originals[f"Van_Gogh/Human/{idx}"] = data
        (work / "Van_Gogh" / "Human" / f"{idx}.jpg").write_bytes(data + VIDEO)
    whole = (work / "Winter" / "Cats" / "2.jpg").read_bytes()
    (work / "Winter" / "Cats" / "2.jpg").write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "uc"
    report = pack_dataset(work, out, recipe=recipe, progress=False)
    assert [(Path(p).parts[-3:], "truncated" in why) for p, why in report.unreadable] == [
        (("Winter", "Cats", "2.jpg"), True)
    ]
    samples = tar_samples(out)
    assert "Winter/Cats/2" not in samples
    for key, data in originals.items():
        assert samples[key]["jpg"] == data  # the stream alone: no video in the shard
    ours = text_to_image(out, split="train", transform=None, styles="Van_Gogh", objects="Human")
    for i in range(len(ours)):
        assert np.array_equal(ours[i]["image"], pixels(originals[ours[i]["key"]]))


# Every reader sees the same upright image: EXIF-rotated inputs are turned upright when packed.


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
def packed(tiny_painted, tmp_path_factory):
    root = tmp_path_factory.mktemp("orient")
    work = shutil.copytree(tiny_painted[0], root / "work")
    recipe = tiny_painted[1]
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


# JPEGs that are not 3-channel RGB (CMYK, Adobe-inverted; greyscale, with a grey ICC profile)
# are stored as RGB, so ``load_dataset`` gives the same 3-channel sRGB pixels as our loaders.


def picture(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)).resize((64, 40))


def jpeg_modes(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


SOURCES = {
    1: lambda: jpeg_modes(picture(1).convert("CMYK")),  # Pillow writes Adobe-inverted CMYK
    2: lambda: jpeg_modes(picture(2).convert("L")),
    3: lambda: jpeg_modes(picture(3).convert("L"), icc_profile=grey_profile(1.0)),
}


def reference(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(to_rgb(im), np.int16)


def test_a_linear_grey_profile_is_applied():
    data = SOURCES[3]()
    with Image.open(io.BytesIO(data)) as im:
        plain = np.asarray(im.convert("RGB"), np.int16)
    assert np.abs(reference(data) - plain).mean() > 10  # linear light reads brighter in sRGB


@pytest.mark.parametrize("idx", sorted(SOURCES))
def test_for_shard_stores_three_channel_rgb(idx):
    data = SOURCES[idx]()
    stored = for_shard(data, check_image(data), None, 95)
    with Image.open(io.BytesIO(stored)) as im:
        assert im.mode == "RGB" and "icc_profile" not in im.info
        assert np.abs(np.asarray(im, np.int16) - reference(data)).mean() < 3


def test_our_loader_and_load_dataset_agree_on_cmyk_and_grey_sources(tmp_path, tiny_painted):
    work = shutil.copytree(tiny_painted[0], tmp_path / "work")
    recipe = tiny_painted[1]
    sources = {}
    for idx, make in SOURCES.items():
        sources[f"Monet/Cats/{idx}"] = data = make()
        (work / "Monet" / "Cats" / f"{idx}.jpg").write_bytes(data)
    out = tmp_path / "uc"
    assert not pack_shards(work, out, recipe=recipe, progress=False).unreadable
    samples = tar_samples(out)
    seen = 0
    for split in ("train", "test"):
        ours = text_to_image(out, split=split, transform=None)
        mine = {ours[i]["key"]: ours[i]["image"] for i in range(len(ours))}
        hf = load_dataset(str(out), split=split, cache_dir=str(tmp_path / "hf"))
        for row in hf:
            meta = row["json"]
            key = f"{meta['style']}/{meta['object']}/{meta['idx']}"
            if key not in sources:
                continue
            seen += 1
            theirs = row["jpg"]
            assert theirs.mode == "RGB", (key, theirs.mode)
            a, b = np.asarray(mine[key], np.int16), np.asarray(theirs, np.int16)
            assert a.shape == b.shape == reference(sources[key]).shape
            assert np.abs(a - b).max() <= 2
            assert np.abs(b - reference(sources[key])).mean() < 3
            assert check_image(samples[key]["jpg"]).mode == "RGB"
    assert seen == len(SOURCES)
