"""Shared fixtures: a tiny recipe and a tiny workspace built from real bundled photos."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import time
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

    Torch runs one thread per test process (the commands and the processes they start follow
    ``OMP_NUM_THREADS``): tests start many processes on few cores, and a command's own choice
    (``canvas_data.threads``) is tested apart, with the variable removed.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
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


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="session")
def tiny_painted(tmp_path_factory):
    """``(work, recipe)``: one tiny painted workspace for the whole run (4 styles x 2 objects x 3
    photos, 64 px), with its recipe at ``work.parent / "tiny.yaml"``.

    Read only: pack from it freely (packing writes nothing into a workspace); a test that changes
    it works on a copy (``shutil.copytree``). The run fails if a test changed it.
    """
    work, recipe = painted_workspace(tmp_path_factory.mktemp("tiny-build"))
    before = _digests(work)
    yield work, recipe
    assert _digests(work) == before, f"a test changed the shared workspace {work}"


@pytest.fixture(scope="session")
def tiny_packed(tiny_painted):
    """One tiny packed folder for the whole run: :func:`tiny_painted` packed at
    ``work.parent / "uc"`` (WebDataset tars, manifest, card), as ``canvas-build shards`` writes it.

    Read only: a test that changes it works on a copy (``shutil.copytree``). The run fails if a
    test changed it.
    """
    from canvas_data.pipeline import pack_dataset

    work, recipe = tiny_painted
    out = work.parent / "uc"
    pack_dataset(work, out, recipe=recipe, progress=False)
    before = _digests(out)
    yield out
    assert _digests(out) == before, f"a test changed the shared packed folder {out}"


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


def error_line(result) -> str:
    """The one ``Error:`` line of a failed command run with click's ``CliRunner``; no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def wait_for(condition, what: str, limit: float = 30.0, step: float = 0.05):
    """Poll ``condition`` until it holds (a bound against hanging, not a speed assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {limit} s")
