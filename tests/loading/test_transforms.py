"""The albumentations presets: sizes, ranges, joint crops and flips, overrides, seeding."""

import albumentations as A
import numpy as np
import pytest
import torch

from canvas_data.loading.transforms import (
    ImageTransform,
    classifier_eval_transform,
    make_transform,
    train_transform,
    worker_seed,
)


def gradient(h: int = 300, w: int = 400) -> np.ndarray:
    """An image whose every pixel differs from its neighbours: crops and flips are visible."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], axis=-1).astype(np.uint8)


def test_train_preset_square_crop_resize_crop_to_tensor():
    t = train_transform(128, crop=96)
    out = t(gradient())["image"]
    assert isinstance(out, torch.Tensor) and out.shape == (3, 96, 96)
    assert out.dtype == torch.float32 and out.min() >= -1.0 and out.max() <= 1.0
    assert t.decode_size == 128 and t.name == "train"


def test_train_preset_takes_the_centre_square():
    img = gradient(100, 300)  # landscape: the centre square is columns 100..199
    out = train_transform(100, flip=0.0, normalize=False, tensor=False)(img)["image"]
    assert out.shape == (100, 100, 3)
    assert np.array_equal(out, img[:, 100:200])


def test_train_flip_and_crop_are_shared_by_joint_images():
    t = train_transform(64, crop=40, flip=0.5, normalize=False, tensor=False)
    t.reseed(3)
    img = gradient(64, 64)
    flipped = 0
    for _ in range(20):
        out = t.apply({"target": img, "source": img.copy()})
        assert np.array_equal(out["target"], out["source"])
        flipped += out["target"][0, 0, 0] > out["target"][0, -1, 0]  # red falls to the right
    assert 0 < flipped < 20


def test_flip_probability_one_mirrors():
    img = gradient(64, 64)
    out = train_transform(64, flip=1.0, normalize=False, tensor=False)(img)["image"]
    assert np.array_equal(out, img[:, ::-1])


def test_classifier_eval_is_224_bilinear_normalised_half_half():
    t = classifier_eval_transform()
    flat = np.full((500, 300, 3), 51, np.uint8)  # aspect not kept
    out = t(flat)["image"]
    assert out.shape == (3, 224, 224)
    assert torch.allclose(out, torch.full_like(out, (51 / 255 - 0.5) / 0.5), atol=1e-5)
    assert t.decode_size == 224


def test_classifier_eval_override_size_and_raw_arrays():
    out = classifier_eval_transform(384, normalize=False, tensor=False)(gradient())["image"]
    assert out.shape == (384, 384, 3) and out.dtype == np.uint8


def test_make_transform_names_presets_and_wraps_albumentations():
    assert make_transform("train").name == "train"
    assert make_transform("classifier-eval").decode_size == 224
    assert make_transform(None)(gradient())["image"].shape == (300, 400, 3)
    custom = make_transform(A.Compose([A.Resize(32, 32)]), decode_size=32)
    assert custom.decode_size == 32 and custom(gradient())["image"].shape == (32, 32, 3)
    assert make_transform(A.HorizontalFlip(p=1.0)).decode_size is None  # full decode by default
    with pytest.raises(ValueError, match="unknown transform preset 'eval'"):
        make_transform("eval")
    with pytest.raises(TypeError, match="albumentations transform"):
        make_transform(lambda image: image)


def test_make_transform_copies_so_datasets_never_share_random_state():
    preset = train_transform(64, crop=32)
    a, b = make_transform(preset), make_transform(preset)
    assert isinstance(a, ImageTransform) and a.pipeline is not b.pipeline


def test_bad_overrides_are_rejected():
    with pytest.raises(ValueError, match="crop 600 is larger"):
        train_transform(512, crop=600)
    with pytest.raises(ValueError, match="flip must be a probability"):
        train_transform(flip=2)


def test_reseed_makes_crops_reproducible_and_worker_seeds_distinct():
    img = gradient()
    t = train_transform(128, crop=64, normalize=False, tensor=False)
    t.reseed(worker_seed(0, 0, 0, 0))
    first = [t(img)["image"] for _ in range(4)]
    t.reseed(worker_seed(0, 0, 0, 0))
    assert all(np.array_equal(a, t(img)["image"]) for a in first)
    seeds = {worker_seed(7, epoch, rank, worker) for epoch in range(3) for rank in range(2)
             for worker in range(4)}  # fmt: skip
    assert len(seeds) == 24
    assert worker_seed(7, 1, 0, 0) == worker_seed(7, 1, 0, 0)
