"""croissant.json: written without mlcroissant, validated and iterated with it."""

import json
import shutil

import mlcroissant as mlc
import numpy as np
import pytest
import webdataset as wds
from etils import epath
from mlcroissant._src.operation_graph.operations import extract

from canvas_data.card.croissant import CONFORMS_TO, croissant_metadata
from canvas_data.pack.packed import read_index
from canvas_data.recipe import Recipe, load_recipe
from canvas_data.taxonomy import OBJECTS_20, STYLES_61


@pytest.fixture(scope="module")
def packed(tiny_packed):
    return tiny_packed


@pytest.fixture(autouse=True)
def own_extract_cache(tmp_path, monkeypatch):
    """mlcroissant extracts tars into a cache keyed by their relative path: one per test."""
    monkeypatch.setattr(extract, "EXTRACT_PATH", epath.Path(tmp_path / "extract"))


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def test_distribution_lists_every_shard_with_its_sha256(packed):
    doc = json.loads((packed / "croissant.json").read_text())
    manifest = json.loads((packed / "manifest.json").read_text())
    assert doc["conformsTo"] == CONFORMS_TO and doc["@type"] == "sc:Dataset"
    tars = {
        f["contentUrl"]: f
        for f in doc["distribution"]
        if f.get("encodingFormat") == "application/x-tar"
    }
    assert {p: f["sha256"] for p, f in tars.items()} == {
        s["path"]: s["sha256"] for s in manifest["shards"]
    }
    (images,) = [f for f in doc["distribution"] if f["@type"] == "cr:FileSet"]
    assert len(images["containedIn"]) == len(manifest["shards"])
    assert doc["rai:dataUseCases"] and doc["rai:personalSensitiveInformation"]


def test_mlcroissant_loads_it_without_errors(packed):
    ds = mlc.Dataset(jsonld=str(packed / "croissant.json"))
    issues = ds.metadata.ctx.issues
    assert not issues.errors
    assert all("datePublished" in w for w in issues.warnings)  # the only remark, if any
    assert ds.metadata.data_biases and ds.metadata.data_use_cases  # RAI fields are read
    assert {r.name for r in ds.metadata.record_sets} == {"samples", "styles", "objects", "splits"}


def test_recipe_date_published_silences_the_last_warning(packed, tmp_path):
    recipe = load_recipe(packed / "recipe.yaml")
    manifest = json.loads((packed / "manifest.json").read_text())
    dated = Recipe(recipe.name, {**recipe.data, "date_published": "2025-01-31"}, recipe.source)
    doc = croissant_metadata(packed, manifest, dated, read_index(packed, manifest))
    path = shutil.copytree(packed, tmp_path / "uc") / "dated.json"  # beside the shards it names
    path.write_text(json.dumps(doc))
    ds = mlc.Dataset(jsonld=str(path))
    assert not ds.metadata.ctx.issues.errors and not ds.metadata.ctx.issues.warnings


def test_records_come_from_the_tars_with_their_labels(packed):
    urls = sorted(str(p) for p in (packed / "data").glob("*.tar"))
    truth = {s["__key__"]: s for s in wds.WebDataset(urls, shardshuffle=False).decode("pil")}
    ds = mlc.Dataset(jsonld=str(packed / "croissant.json"))
    records = list(ds.records("samples"))
    assert len(records) == len(truth) == 30
    for rec in records:
        key = text(rec["samples/key"])
        sample = truth[key]
        assert text(rec["samples/split"]) == sample["json"]["split"]
        assert rec["samples/style_index"] == sample["style.cls"]
        assert rec["samples/object_index"] == sample["object.cls"]
        assert text(rec["samples/style"]) == STYLES_61[sample["style.cls"]]
        assert text(rec["samples/caption"]) == sample["txt"]
        image = rec["samples/image"]
        assert image.size == (64, 64)
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(sample["jpg"]))


def test_class_names_are_record_sets(packed):
    ds = mlc.Dataset(jsonld=str(packed / "croissant.json"))
    styles = sorted(ds.records("styles"), key=lambda r: r["styles/index"])
    assert [text(r["styles/name"]) for r in styles] == list(STYLES_61)
    ds = mlc.Dataset(jsonld=str(packed / "croissant.json"))
    objects = sorted(ds.records("objects"), key=lambda r: r["objects/index"])
    assert [text(r["objects/name"]) for r in objects] == list(OBJECTS_20)
    assert {
        text(r["objects/name"]): r["objects/photos"] for r in objects if r["objects/photos"]
    } == {
        "Cats": 3,
        "Human": 3,
    }
    ds = mlc.Dataset(jsonld=str(packed / "croissant.json"))
    splits = {text(r["splits/name"]): text(r["splits/url"]) for r in ds.records("splits")}
    assert splits == {"train": "cr:TrainingSplit", "test": "cr:TestSplit"}


def test_a_changed_shard_fails_its_checksum(packed, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(packed, copy)
    tar = sorted((copy / "data").glob("*.tar"))[0]
    data = bytearray(tar.read_bytes())
    data[-2000] ^= 0xFF  # inside the last member's bytes or padding
    tar.write_bytes(bytes(data))
    ds = mlc.Dataset(jsonld=str(copy / "croissant.json"))
    with pytest.raises(mlc.GenerationError) as failed:
        list(ds.records("samples"))
    assert "Hash of downloaded file" in str(failed.value.__cause__)
    assert tar.name in str(failed.value.__cause__)
