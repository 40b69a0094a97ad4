"""End to end, as a newcomer runs it: `canvas-build demo` in an empty folder, then load it."""

import subprocess
import sys

import pytest
import webdataset as wds
from datasets import ClassLabel, load_dataset

from canvas_data.recipe import load_recipe
from canvas_data.taxonomy import OBJECTS_20, STYLES_61

CLI = [sys.executable, "-m", "canvas_data.cli"]

pytestmark = pytest.mark.slow  # the demo build: 60 styles over bundled photos


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty")
    run = subprocess.run(
        [*CLI, "demo", "--no-progress"], cwd=folder, capture_output=True, text=True, check=True
    )
    return folder, run.stdout


def test_demo_prints_what_it_built_and_how_to_load_it(demo_dir):
    _, stdout = demo_dir
    assert "verified" in stdout and "OK" in stdout
    assert "load_dataset('unlearncanvas')" in stdout


def test_load_dataset_by_name_from_the_folder(demo_dir, monkeypatch):
    folder, _ = demo_dir
    monkeypatch.chdir(folder)
    ds = load_dataset("unlearncanvas")
    recipe = load_recipe("demo")
    photos = recipe.photos_per_object * len(recipe.objects)
    assert ds["train"].num_rows == (photos - len(recipe.objects)) * 61
    assert ds["test"].num_rows == len(recipe.objects) * 61
    style, obj = ds["train"].features["style.cls"], ds["train"].features["object.cls"]
    assert isinstance(style, ClassLabel) and style.names == list(STYLES_61)
    assert isinstance(obj, ClassLabel) and obj.names == list(OBJECTS_20)
    assert ds["test"][0]["jpg"].size == (512, 512)


def test_plain_webdataset_reads_every_sample(demo_dir):
    folder, _ = demo_dir
    urls = sorted(str(p) for p in (folder / "unlearncanvas" / "data").glob("*.tar"))
    keys = [s["__key__"] for s in wds.WebDataset(urls, shardshuffle=False)]
    assert len(keys) == len(set(keys)) == 5 * 4 * 61


def test_rerun_redoes_nothing(demo_dir):
    folder, _ = demo_dir
    run = subprocess.run(
        [*CLI, "demo", "--no-progress"], cwd=folder, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "stylized 0 images" in run.stdout and "(0 written" in run.stdout


def test_verify_fails_after_one_flipped_byte(demo_dir, tmp_path):
    folder, _ = demo_dir
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(folder / "unlearncanvas"), str(copy)], check=True)
    ok = subprocess.run(
        [*CLI, "verify", str(copy), "--no-progress"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    shard = sorted((copy / "data").glob("train-*.tar"))[0]
    data = bytearray(shard.read_bytes())
    data[4096] ^= 0x80
    shard.write_bytes(bytes(data))
    bad = subprocess.run(
        [*CLI, "verify", str(copy), "--no-progress"], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert shard.name in bad.stderr
