"""The decode cache: same examples as without it, read back in later epochs, robust to damage."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from datasets import Dataset
from torch.utils.data import DataLoader

from canvas_data.images.decode import decode_image
from canvas_data.loading.cache import DecodeCache, dataset_id, size_tag
from canvas_data.loading.loaders import edit_pairs, text_to_image
from canvas_data.loading.transforms import train_transform
from canvas_data.pack.shard_index import ShardIndex


@pytest.fixture(scope="module")
def packed(tiny_packed):
    """A tiny packed dataset: 64 px images, 10 samples per shard."""
    return tiny_packed


def examples(ds, epoch=0):
    ds.set_epoch(epoch)
    return list(ds) if hasattr(ds, "urls") else [ds[i] for i in range(len(ds))]


def assert_same(a, b):
    assert [x["key"] for x in a] == [y["key"] for y in b]
    for x, y in zip(a, b, strict=True):
        for name, value in x.items():
            if isinstance(value, torch.Tensor | np.ndarray):
                assert np.array_equal(np.asarray(value), np.asarray(y[name])), (x["key"], name)
            else:
                assert value == y[name]


def cached_files(cache_dir):
    return sorted(p for p in cache_dir.rglob("*") if p.is_file())


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize("view", [text_to_image, edit_pairs])
def test_cached_examples_are_the_uncached_ones(packed, tmp_path, view, streaming):
    # decoded at 32 px (half the stored size), random crop and flip: seeded, so runs compare
    options = {"streaming": streaming, "transform": train_transform(32, crop=24), "seed": 3}
    plain = examples(view(packed, **options))
    cached = view(packed, cache_dir=tmp_path, **options)
    filled = examples(cached)  # the first run decodes and writes
    files = cached_files(tmp_path)
    read_back = examples(view(packed, cache_dir=tmp_path, **options))  # the next one reads
    assert_same(plain, filled)
    assert_same(plain, read_back)
    keys = {ex["key"] for ex in plain}
    if view is edit_pairs:  # the seed photos are decoded too
        keys |= {"Seed_Images/" + key.split("/", 1)[1] for key in keys}
    assert sorted(files) == sorted(cached.cache.path(key) for key in keys)
    assert cached_files(tmp_path) == files  # nothing rewritten, nothing left half-written


def test_a_later_epoch_reads_pixels_from_the_cache(packed, tmp_path):
    ds = text_to_image(packed, transform=None, decode_size=32, cache_dir=tmp_path)
    first = ds[0]
    assert first["image"].shape == (32, 32, 3)  # decoded at half of the stored 64 px
    marked = np.full((32, 32, 3), 7, np.uint8)
    ds.cache.put(first["key"], marked)
    assert np.array_equal(ds[0]["image"], marked)
    ds[0]["image"][:] = 0  # a caller may write into what it gets
    assert np.array_equal(ds[0]["image"], marked)


def test_a_cache_file_is_a_standard_npy_array(packed, tmp_path):
    ds = text_to_image(packed, transform=None, decode_size=32, cache_dir=tmp_path)
    first = ds[0]
    path = ds.cache.path(first["key"])
    assert path.suffix == ".npy"
    stored = np.load(path, allow_pickle=False)
    assert stored.dtype == np.uint8 and stored.shape == (32, 32, 3)
    assert np.array_equal(stored, first["image"])


def test_any_npy_version_of_an_rgb_array_is_read(packed, tmp_path):
    ds = text_to_image(packed, transform=None, decode_size=32, cache_dir=tmp_path)
    key = ds[0]["key"]
    marked = np.full((32, 32, 3), 9, np.uint8)
    with open(ds.cache.path(key), "wb") as f:
        np.lib.format.write_array(f, marked, version=(2, 0))
    assert np.array_equal(ds[0]["image"], marked)


def _cut_short(path):
    path.write_bytes(path.read_bytes()[:100])


def _trailing_bytes(path):
    path.write_bytes(path.read_bytes() + b"extra")


def _header_damaged(path):
    data = bytearray(path.read_bytes())
    data[20:30] = b"{'descr': "
    path.write_bytes(bytes(data))


def _not_npy(path):
    path.write_text("not an array")


def _pickled_objects(path):
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _wrong_dtype(path):
    np.save(path, np.zeros((32, 32, 3), np.float32))


def _wrong_shape(path):
    np.save(path, np.zeros((32, 32), np.uint8))


@pytest.mark.parametrize(
    "damage",
    [
        _cut_short,
        _trailing_bytes,
        _header_damaged,
        _not_npy,
        _pickled_objects,
        _wrong_dtype,
        _wrong_shape,
    ],
)
def test_a_damaged_cache_file_is_decoded_again(packed, tmp_path, caplog, damage):
    ds = text_to_image(packed, transform=None, decode_size=32, cache_dir=tmp_path)
    key = ds[0]["key"]
    path = ds.cache.path(key)
    damage(path)
    with caplog.at_level(logging.WARNING, logger="canvas_data.loading.cache"):
        image = ds[0]["image"]
    assert f"{path}: damaged decode-cache file" in caplog.text
    truth = decode_image(ShardIndex(packed, ("train",)).read(key), min_size=32)
    assert np.array_equal(image, truth)
    assert np.array_equal(ds.cache.get(key), truth)  # rewritten whole


def test_a_cache_that_cannot_be_written_warns_once_and_goes_on(packed, tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    plain = examples(text_to_image(packed, transform=None, decode_size=32))
    with caplog.at_level(logging.WARNING, logger="canvas_data.loading.cache"):
        cached = examples(text_to_image(packed, transform=None, decode_size=32, cache_dir=blocked))
    assert_same(plain, cached)
    warnings = [r for r in caplog.records if "cannot write the decode cache" in r.getMessage()]
    assert len(warnings) == 1


def test_each_decode_size_and_each_build_has_its_own_folder(packed, tmp_path):
    small = text_to_image(packed, transform=None, decode_size=16, cache_dir=tmp_path)
    large = text_to_image(packed, transform=None, decode_size=None, cache_dir=tmp_path)
    assert small[0]["image"].shape == (16, 16, 3)
    assert large[0]["image"].shape == (64, 64, 3)
    assert (small.cache.folder.name, large.cache.folder.name) == ("min16x16", "full")
    assert size_tag((48, 32)) == "min48x32"
    assert small.cache.folder.parent == large.cache.folder.parent == tmp_path / dataset_id(packed)
    with pytest.raises(ValueError, match="not a sample key"):
        DecodeCache(tmp_path, 16).path("Monet/../../etc")


def test_a_rebuilt_dataset_does_not_read_the_old_cache(packed, tmp_path):
    old = text_to_image(packed, transform=None, decode_size=32, cache_dir=tmp_path / "cache")
    key = old[0]["key"]
    old.cache.put(key, np.full((32, 32, 3), 7, np.uint8))
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(packed, rebuilt)
    manifest = json.loads((rebuilt / "manifest.json").read_text())
    manifest["recipe"] = f"{manifest.get('recipe')}-rebuilt"
    (rebuilt / "manifest.json").write_text(json.dumps(manifest))
    new = text_to_image(rebuilt, transform=None, decode_size=32, cache_dir=tmp_path / "cache")
    assert new.cache.folder != old.cache.folder
    assert new[0]["key"] == key and not np.array_equal(new[0]["image"], old[0]["image"])


def test_dataloader_workers_share_one_cache(packed, tmp_path):
    ds = edit_pairs(packed, streaming=True, decode_size=32, cache_dir=tmp_path)
    keys = [k for b in DataLoader(ds, batch_size=4, num_workers=2) for k in b["key"]]
    assert len(keys) == len(set(keys)) == ds.num_samples
    sources = {p.relative_to(ds.cache.folder).parts[0] for p in cached_files(tmp_path)}
    assert "Seed_Images" in sources and len(sources) > 1
    assert not list(tmp_path.rglob(".*.partial-*"))


def test_cache_dir_needs_a_dataset_folder():
    with pytest.raises(ValueError, match="cache_dir applies to a dataset folder"):
        text_to_image(Dataset.from_dict({"image": [b""]}), cache_dir="/tmp/x")
