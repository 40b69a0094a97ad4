"""The ``idx`` filter: the release's forget sets (photos 1-3 of a cell) in one call, any view."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from conftest import fill_seed_photos, write_recipe
from datasets import load_dataset
from torch.utils.data import DataLoader

from canvas_data.loading.loaders import edit_pairs, load, style_classification, text_to_image
from canvas_data.loading.tasks import Selection, Task
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import stylize_workspace

STYLES = ["Van_Gogh", "Winter"]
OBJECTS = ["Cats", "Human"]
FORGET = {f"Van_Gogh/{o}/{i}" for o in OBJECTS for i in (1, 2, 3)}


@pytest.fixture(scope="module")
def five_photos(tmp_path_factory):
    """2 styles + photos x 2 objects x 5 photos (4 train, 1 test), 2 samples per shard."""
    root = tmp_path_factory.mktemp("idx")
    recipe = load_recipe(
        write_recipe(root, styles=STYLES, objects=OBJECTS, photos_per_object=5, resolution=32)
    )
    work = root / "work"
    fill_seed_photos(work, recipe)
    stylize_workspace(work, recipe=recipe, progress=False, workers=1)
    out = root / "uc"
    pack_dataset(work, out, recipe=recipe, max_samples=2, progress=False)
    return out


def stream_keys(ds):
    return [ex["key"] for ex in DataLoader(ds, batch_size=None)]


def test_train_holds_more_than_three_photos(five_photos):
    ds = style_classification(five_photos, styles="Van_Gogh", transform=None)
    cells = Counter(k.rsplit("/", 1)[0] for k in ds.keys)
    assert cells == {"Van_Gogh/Cats": 4, "Van_Gogh/Human": 4}


@pytest.mark.parametrize("idx", [range(1, 4), [3, 1, 2], (1, 2, 3, 3), np.arange(1, 4)])
def test_map_style_forget_set_is_photos_one_to_three(five_photos, idx):
    ds = style_classification(five_photos, styles=["Van_Gogh"], idx=idx, transform=None)
    assert sorted(ds.keys) == sorted(FORGET)
    assert {ds[i]["key"] for i in range(len(ds))} == FORGET


def test_streaming_forget_set_is_photos_one_to_three(five_photos):
    ds = style_classification(
        five_photos, styles=["Van_Gogh"], idx=range(1, 4), streaming=True, transform=None
    )
    keys = stream_keys(ds)
    assert sorted(keys) == sorted(FORGET)
    assert ds.num_samples == len(FORGET)


def test_resampled_epoch_size_counts_only_the_kept_photos(five_photos):
    ds = text_to_image(five_photos, idx=2, streaming=True, resampled=True, transform=None)
    assert ds.num_samples == 3 * len(OBJECTS)  # photo 2 of Seed_Images and both styles
    keys = stream_keys(ds)
    assert len(keys) == ds.num_samples
    assert {k.rsplit("/", 1)[1] for k in keys} == {"2"}


def test_retain_set_with_idx(five_photos):
    ds = text_to_image(five_photos, exclude_styles="Van_Gogh", idx=4, transform=None)
    kept = [f"{s}/{o}/4" for s in ("Seed_Images", "Winter") for o in OBJECTS]
    assert sorted(ds.keys) == sorted(kept)


def test_partner_views_keep_their_partners(five_photos):
    ds = edit_pairs(five_photos, styles="Winter", idx=[1, 3], transform=None)
    assert sorted(ds.keys) == sorted(f"Winter/{o}/{i}" for o in OBJECTS for i in (1, 3))
    example = ds[0]
    assert example["source"].shape == example["target"].shape


def test_datasets_view_with_idx(five_photos):
    train = load_dataset(str(five_photos), split="train")
    view = style_classification(train, styles="Van_Gogh", idx=range(1, 4), transform=None)
    assert sorted(view[i]["key"] for i in range(len(view))) == sorted(FORGET)


def test_test_split_photo_index(five_photos):
    ds = load(five_photos, Task(), split="test", idx=5, transform=None)
    assert {k.rsplit("/", 1)[1] for k in ds.keys} == {"5"}
    assert len(ds) == 3 * len(OBJECTS)


@pytest.mark.parametrize("idx", [0, -1, "3", [1, "2"], [], True, 2.0, [np.int64(0)]])
def test_bad_indices_are_refused(idx):
    with pytest.raises(ValueError, match="idx"):
        Selection.of(idx=idx)


@pytest.mark.parametrize("streaming", [False, True])
def test_an_index_no_sample_has_is_an_error(five_photos, streaming):
    with pytest.raises(ValueError, match="no .*train"):
        style_classification(five_photos, idx=9, streaming=streaming, transform=None)


# idx given as a 0-d array or tensor, or a tensor of indices, selects as the plain ints do.


@pytest.fixture(scope="module")
def packed(tiny_packed):
    return tiny_packed


@pytest.mark.parametrize(
    "given, plain",
    [
        (np.array(2), 2),
        (torch.tensor(2), 2),
        (torch.tensor([3, 1]), [1, 3]),
        (np.array([[1], [3]])[:, 0], [1, 3]),
        ([np.int64(1), torch.tensor(3)], [1, 3]),
    ],  # fmt: skip
)
def test_array_and_tensor_indices_read_as_ints(given, plain):
    assert Selection.of("train", idx=given) == Selection.of("train", idx=plain)


@pytest.mark.parametrize("bad", [np.array(0), torch.tensor(1.5), np.array([1.0, 2.0])])
def test_bad_array_indices_are_refused_in_one_line(bad):
    with pytest.raises(ValueError, match="^idx (holds|must be)"):
        Selection.of("train", idx=bad)


def test_a_0d_array_filters_a_view_and_a_resampled_stream(packed):
    view = text_to_image(packed, idx=np.array(1), transform=None)
    keys = {view[i]["key"] for i in range(len(view))}
    assert keys and {k.rsplit("/", 1)[1] for k in keys} == {"1"}
    stream = text_to_image(
        packed, idx=torch.tensor(1), transform=None, streaming=True, resampled=True, seed=0
    )
    drawn = [example["key"] for example in stream]  # an epoch: the selection's size
    assert len(drawn) == len(keys) and set(drawn) <= keys
