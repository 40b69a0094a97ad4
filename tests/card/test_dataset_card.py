"""The dataset card, rendered from a tiny packed build: counts, sections, YAML and loading."""

import csv
import json
import re
import shutil

import pytest
import webdataset as wds
import yaml
from conftest import TINY_OBJECTS, TINY_STYLES
from datasets import ClassLabel, load_dataset

from canvas_data.card.dataset_card import render_card, rewrite_card
from canvas_data.card.metadata import card_metadata
from canvas_data.pack.packed import read_index
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import STYLES_61
from canvas_data.workspace import sidecar_path

MODEL = "example-org/tiny-sd-img2img"


@pytest.fixture(scope="module")
def packed(tiny_painted, tmp_path_factory):
    """A tiny build (4 styles x 2 objects x 3 photos) whose seed photos record a licence and
    whose paintings record a model, as a diffusion backend's provenance would."""
    root = tmp_path_factory.mktemp("card")
    work, recipe = tiny_painted
    work = shutil.copytree(work, root / "work")
    for photo in (work / "Seed_Images").rglob("*.jpg"):
        side = {"licence": "CC0 1.0", "author": f"{photo.parent.name} photographer {photo.stem}"}
        sidecar_path(photo).write_text(json.dumps(side))
    for side in (work / "Van_Gogh").rglob("*.json"):
        prov = json.loads(side.read_text())
        prov.update(backend="diffusers", model=MODEL, steps=30)
        side.write_text(json.dumps(prov))
    out = root / "uc"
    pack_dataset(work, out, recipe=recipe, progress=False)
    return out, recipe


def body_and_header(out):
    text = (out / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_every_file_is_written_beside_the_shards(packed):
    out, _ = packed
    for name in ("README.md", "preview.jpg", "croissant.json", "samples.csv", "manifest.json"):
        assert (out / name).is_file(), name


def test_yaml_header_is_the_loading_metadata(packed):
    out, recipe = packed
    header, _ = body_and_header(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert header == card_metadata(manifest, recipe)
    assert header["configs"][0]["data_files"] == [
        {"split": "train", "path": "data/train-*.tar"},
        {"split": "test", "path": "data/test-*.tar"},
    ]


def test_load_dataset_still_returns_labelled_splits(packed):
    out, _ = packed
    ds = load_dataset(str(out))
    assert {s: len(ds[s]) for s in ds} == {"train": 20, "test": 10}
    style = ds["train"].features["style.cls"]
    assert isinstance(style, ClassLabel) and style.names == list(STYLES_61)
    for row in ds["test"]:
        assert style.int2str(row["style.cls"]) == row["json"]["style"]
        assert row["json"]["idx"] == 3


def test_card_opens_with_the_preview_and_states_the_counts(packed):
    out, _ = packed
    _, body = body_and_header(out)
    lines = [line for line in body.splitlines() if line.strip()]
    assert lines[0] == "# UnlearnCanvas (tiny)"
    assert lines[1].startswith("![") and lines[1].endswith("](preview.jpg)")
    assert "| images | 30 (20 train, 10 test) |" in body
    assert "| train | 20 | 4 | 2 | 0." in body  # images, photos, shards, MB
    assert "| test | 10 | 2 | 1 | 0." in body
    # class-index order with counts per split: Monet is 34 of 61 and 28 of the 51-way head
    assert "| 34 | Monet | 28 | 4 | 2 | 6 |" in body
    assert "| 47 | Seed_Images | 38 | 4 | 2 | 6 |" in body
    assert "| 3 | Blue_Blooming |  | - | - | - |" in body
    assert "| 4 | Cats | 3 | 10 | 5 | 15 |" in body
    assert "| 0 | Architectures | - | - | - | - |" in body
    section = body.split("## Style classes")[1].split("## Object classes")[0]
    rows = [line.split(" | ") for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert [r[1] for r in rows] == list(STYLES_61)  # every class, in class-index order
    assert [int(r[0].strip("| ")) for r in rows] == list(range(61))
    assert "each of the 10 (style, object) cells (photos included) holds 3 images" in body
    assert "64 x 64 px" in body
    assert "$" not in body.replace("$CROISSANT_CACHE", "")


def test_card_records_how_it_was_built(packed):
    out, recipe = packed
    _, body = body_and_header(out)
    assert f"`tiny`, sha256 `{recipe.sha256[:16]}`" in body
    assert "`procedural` (18 paintings), `diffusers` (6 paintings)" in body
    assert f"`model: {MODEL}`" in body
    assert "diffusers `steps`: `30`" in body
    assert f"recipe seed {recipe.seed}" in body
    for style in TINY_STYLES:  # the prompts table, collapsed
        assert f"| {style} | {recipe.style(style).prompt} |" in body
    assert "<details>" in body
    assert "| CC0 1.0 | 6 |" in body  # per-photo licences from the photos' provenance
    assert "6 distinct authors" in body
    assert "made by the test" in body  # the recipe's own licence declaration
    assert "image 18" in body and "standard FID" in body  # how it differs from the release
    assert "@article{zhang2024unlearncanvas" in body
    for heading in ("## Load it", "## How it differs from the release", "## Responsible use"):
        assert heading in body


def test_samples_csv_lists_every_packed_sample(packed):
    out, _ = packed
    with open(out / "samples.csv", newline="") as f:
        rows = {r["key"]: r for r in csv.DictReader(f)}
    urls = sorted(str(p) for p in (out / "data").glob("*.tar"))
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode())
    assert set(rows) == {s["__key__"] for s in samples}
    for s in samples:
        row = rows[s["__key__"]]
        assert row["split"] == s["json"]["split"]
        assert int(row["style_index"]) == s["style.cls"]
        assert int(row["object_index"]) == s["object.cls"]
        assert row["caption"] == s["txt"]
        assert (row["width"], row["height"]) == ("64", "64")
        assert int(row["bytes"]) == len(s["jpg"])
        assert row["shard"] in {p.split("/uc/")[1] for p in urls}


def test_bundled_photos_are_credited(packed):
    out, recipe = packed
    manifest = json.loads((out / "manifest.json").read_text())
    bundled = Recipe(
        recipe.name, {**recipe.data, "photos": {"source": "bundled", "licence": "x"}}, "t"
    )
    body = render_card(manifest, bundled, read_index(out, manifest), "uc")
    assert "chelsea.png" in body and "Stefan van der Walt" in body
    assert "CC-BY 2.0" in body


def test_rewrite_card_uses_the_recipe_overrides(packed, tmp_path):
    out, recipe = packed
    data = {
        **recipe.data,
        "description": "Edited words.",
        "responsible_ai": {"dataBiases": "Only two objects."},
    }
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data))
    rewrite_card(out, edited)
    _, body = body_and_header(out)
    assert "Edited words." in body and "- **Biases.** Only two objects." in body
    croissant = json.loads((out / "croissant.json").read_text())
    assert croissant["rai:dataBiases"] == "Only two objects."
    rewrite_card(out)  # back to the folder's own recipe.yaml
    assert "Edited words." not in body_and_header(out)[1]


def test_unknown_responsible_ai_field_is_a_one_line_error(packed, tmp_path):
    out, recipe = packed
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**recipe.data, "responsible_ai": {"biasses": "typo"}}))
    with pytest.raises(ValueError, match="biasses"):
        rewrite_card(out, bad)


def test_tiny_objects_are_the_only_ones_counted(packed):
    out, _ = packed
    _, body = body_and_header(out)
    for obj in TINY_OBJECTS:
        assert f"| {obj} | 3 | 10 | 5 | 15 |" in body


@pytest.mark.parametrize(("test_per_object", "expected"), [(2, None), (0, "all photos")])
def test_the_split_sentence_is_the_split_made(tmp_path, test_per_object, expected):
    """One object short of photos gets fewer test photos: the card says what the data holds."""
    from conftest import fill_seed_photos, write_recipe

    from canvas_data.recipe import load_recipe

    recipe = load_recipe(write_recipe(tmp_path, photos_per_object=4))
    data = {**recipe.data, "split": {"test_per_object": test_per_object}}
    recipe = Recipe(name=recipe.name, data=data, source=recipe.source)
    work, out = tmp_path / "work", tmp_path / "uc"
    fill_seed_photos(work, recipe)
    for idx in (3, 4):
        (work / "Seed_Images" / "Human" / f"{idx}.jpg").unlink()
    pack_dataset(work, out, recipe=recipe, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    test = manifest["counts"].get("test", {}).get("Seed_Images", {})
    body = (out / "README.md").read_text()
    if expected is None:
        assert test == {"Cats": 2, "Human": 1}
        assert "the last photos of every object (highest idx; Cats 2 of 4, Human 1 of 2)" in body
        assert "last 2 photos of every object" not in body
    else:
        assert test == {}
        assert "all photos and their paintings are `train`; there is no `test` split" in body
