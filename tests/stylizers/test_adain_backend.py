"""The ``adain`` stylizer: each photo painted from a reference of the style chosen by the item's
seed; sidecars, resume, ranks and bytes as the other backends; missing references stop the run
before anything is painted."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from conftest import TINY_STYLES, fill_seed_photos, write_recipe
from PIL import Image
from transfer_weights import save_decoder, save_vgg

from canvas_data.cli.build import main
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.adain_backend import AdaINStylizer
from canvas_data.stylizers.runner import plan_items, stylize_workspace
from canvas_data.workspace import image_path, sidecar_path

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("w")
    return save_vgg(root / "vgg_normalised.pth"), save_decoder(root / "decoder.pth")


def make_references(root, styles, n=3, seed=0):
    rng = np.random.default_rng(seed)
    for style in styles:
        for i in range(n):
            path = root / style / "Cats" / f"{i + 1}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
    return root


def outputs(work):
    return {
        p.relative_to(work).as_posix(): p.read_bytes()
        for p in work.rglob("*.jpg")
        if not p.relative_to(work).as_posix().startswith("Seed_Images/")
    }


def test_paints_every_item_deterministically_however_split(tmp_path, weights):
    recipe = load_recipe(write_recipe(tmp_path))
    refs = make_references(tmp_path / "refs", TINY_STYLES)
    options = {"vgg": str(weights[0]), "decoder": str(weights[1]), "references": str(refs)}
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    for work in (whole, parts):
        fill_seed_photos(work, recipe)
    report = stylize_workspace(whole, backend="adain", recipe=recipe, progress=False, **options)
    items = plan_items(recipe, whole)
    assert report.written == len(items) == 24 and not report.failed
    for rank in range(2):
        stylize_workspace(parts, backend="adain", recipe=recipe, progress=False,
                          num_shards=2, shard_index=rank, **options)  # fmt: skip
    assert outputs(whole) == outputs(parts)
    item = items[0]
    with Image.open(image_path(whole, item)) as im:
        assert im.size == (64, 64)
    prov = json.loads(sidecar_path(image_path(whole, item)).read_text())
    assert prov["backend"] == "adain" and prov["reference_count"] == 3
    assert prov["references"] == str(refs / item.style)
    files = sorted((refs / item.style).rglob("*.jpg"))
    assert prov["reference"] == str(files[prov["seed"] % len(files)])
    again = stylize_workspace(whole, backend="adain", recipe=recipe, progress=False, **options)
    assert again.written == 0 and again.already_done == 24


def test_the_reference_is_chosen_by_the_seed(tmp_path, weights):
    recipe = load_recipe(write_recipe(tmp_path))
    refs = make_references(tmp_path / "refs", ["Monet"], n=4)
    s = AdaINStylizer(recipe, vgg=str(weights[0]), decoder=str(weights[1]), references=str(refs))
    files = sorted((refs / "Monet").rglob("*.jpg"))
    assert [s.reference_for("Monet", seed) for seed in (0, 5, 7)] == [files[0], files[1], files[3]]


def test_a_recipe_folder_per_style_wins(tmp_path, weights):
    path = write_recipe(tmp_path)
    data = yaml.safe_load(path.read_text())
    own = make_references(tmp_path / "own", ["Monet"], n=2, seed=1) / "Monet"
    data["styles"] = {"Monet": {"references": str(own)}}
    path.write_text(yaml.safe_dump(data))
    recipe = load_recipe(path)
    s = AdaINStylizer(recipe, vgg=str(weights[0]), decoder=str(weights[1]),
                      references=str(tmp_path / "elsewhere"))  # fmt: skip
    assert s.references("Monet") == sorted(own.rglob("*.jpg"))
    assert s.references_folder("Winter") == tmp_path / "elsewhere" / "Winter"


def test_missing_references_stop_before_anything_is_painted(tmp_path, weights):
    recipe = load_recipe(write_recipe(tmp_path))
    work = tmp_path / "work"
    fill_seed_photos(work, recipe)
    refs = make_references(tmp_path / "refs", TINY_STYLES[:-1])  # Winter has none
    args = ["stylize", "--work", work, "--backend", "adain", "--vgg", weights[0],
            "--decoder", weights[1], "--references", refs, "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {refs / 'Winter'}: no reference images for Winter (.jpg, .png, .webp)"
    )
    assert outputs(work) == {}
    no_weights = CliRunner().invoke(
        main, ["stylize", "--work", str(work), "--backend", "adain", "--references", str(refs)]
    )
    assert no_weights.exit_code == 1 and "the adain backend needs --vgg" in no_weights.output
    wrong = CliRunner().invoke(
        main, ["stylize", "--work", str(work), "--backend", "procedural", "--vgg", "x.pth"]
    )
    assert wrong.exit_code == 2 and "--vgg only apply with --backend adain" in wrong.output
