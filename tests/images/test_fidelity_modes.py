"""JPEGs that are not 3-channel RGB (CMYK, Adobe-inverted; greyscale, with a grey ICC profile)
are stored as RGB, so ``load_dataset`` gives the same 3-channel sRGB pixels as our loaders."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import painted_workspace
from datasets import load_dataset
from icc_profiles import grey_profile
from PIL import Image
from release_data import tar_samples

from canvas_data.images.jpeg import check_image, for_shard
from canvas_data.images.normalize import to_rgb
from canvas_data.loading.loaders import text_to_image
from canvas_data.pack.shards import pack_shards


def picture(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)).resize((64, 40))


def jpeg(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


SOURCES = {
    1: lambda: jpeg(picture(1).convert("CMYK")),  # Pillow writes Adobe-inverted CMYK
    2: lambda: jpeg(picture(2).convert("L")),
    3: lambda: jpeg(picture(3).convert("L"), icc_profile=grey_profile(1.0)),
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


def test_our_loader_and_load_dataset_agree_on_cmyk_and_grey_sources(tmp_path):
    work, recipe = painted_workspace(tmp_path)
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
