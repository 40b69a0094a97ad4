"""JPEGs with bytes after their end marker are valid; truncated ones are not."""

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import painted_workspace
from PIL import Image
from release_data import tar_samples

from canvas_data.images.jpeg import ImageError, check_image, for_shard, jpeg_end
from canvas_data.loading.loaders import text_to_image
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


def test_motion_photos_are_packed_and_truly_truncated_files_are_not(tmp_path):
    work, recipe = painted_workspace(tmp_path)
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
