"""Shared fixtures: a tiny recipe and a tiny workspace built from real bundled photos."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from canvas_data.recipe import load_recipe, save_recipe
from canvas_data.workspace import seed_photo_path


def pytest_configure(config):
    """Tests never reach the network, and never read a cache that earlier runs filled.

    (`datasets` keys a local folder by its name and file sizes, so a stale entry could answer.)
    Runs before test modules import `datasets`, which reads these variables at import.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="canvas-data-tests-")
    atexit.register(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], ignore_errors=True)


TINY_STYLES = ["Monet", "Pencil_Drawing", "Van_Gogh", "Winter"]
TINY_OBJECTS = ["Cats", "Human"]


def write_recipe(folder: Path, **build) -> Path:
    """A small recipe extending the demo: 4 styles x 2 objects x 3 photos at 64 px."""
    data = {
        "extends": "demo",
        "name": "tiny",
        "build": {
            "styles": TINY_STYLES,
            "objects": TINY_OBJECTS,
            "photos_per_object": 3,
            "resolution": 64,
            "min_photo_side": 32,
            **build,
        },
        "shards": {"max_samples": 10},
        "photos": {"source": "folder", "licence": "made by the test"},
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def tiny_recipe(tmp_path):
    return load_recipe(write_recipe(tmp_path))


def fill_seed_photos(work: Path, recipe, seed: int = 0) -> None:
    """Random smooth seed photos for every object and idx of the recipe."""
    rng = np.random.default_rng(seed)
    size = recipe.resolution
    for obj in recipe.objects:
        for idx in range(1, recipe.photos_per_object + 1):
            small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            img = Image.fromarray(small).resize((size, size), Image.BICUBIC)
            path = seed_photo_path(work, obj, idx)
            path.parent.mkdir(parents=True, exist_ok=True)
            img.save(path, quality=90)
    save_recipe(recipe, work)


@pytest.fixture
def tiny_work(tmp_path, tiny_recipe):
    work = tmp_path / "work"
    fill_seed_photos(work, tiny_recipe)
    return work


def painted_workspace(root: Path):
    """A tiny recipe's workspace under ``root``, painted by the CPU stylizer: (work, recipe)."""
    from canvas_data.stylizers.runner import stylize_workspace

    recipe = load_recipe(write_recipe(root))
    work = root / "work"
    fill_seed_photos(work, recipe)
    stylize_workspace(work, recipe=recipe, progress=False, workers=1)
    return work, recipe


def packed_folder(root: Path) -> Path:
    """A tiny packed dataset under ``root / "uc"``, built from :func:`painted_workspace`."""
    from canvas_data.pipeline import pack_dataset

    work, recipe = painted_workspace(root)
    out = root / "uc"
    pack_dataset(work, out, recipe=recipe, progress=False)
    return out


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread: tiny models gain nothing from more, and on a small shared machine a
    second spinning thread can make them many times slower. ``OMP_NUM_THREADS`` keeps the
    commands run in the test at one too."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        yield
    torch.set_num_threads(threads)
