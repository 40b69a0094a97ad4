import json

import pytest
import webdataset as wds
from datasets import load_dataset
from PIL import Image

from canvas_data.pack.verify import verify_shards
from canvas_data.pipeline import pack_dataset
from canvas_data.stylizers.runner import stylize_workspace
from canvas_data.taxonomy import OBJECTS_20, STYLES_61


def built(tmp_path, tiny_work, **kw):
    stylize_workspace(tiny_work, progress=False, workers=2)
    out = tmp_path / "uc"
    return out, pack_dataset(tiny_work, out, progress=False, **kw)


def read_all(out):
    """Every sample of every shard, read with plain webdataset."""
    urls = sorted(str(p) for p in (out / "data").glob("*.tar"))
    return list(wds.WebDataset(urls, shardshuffle=False).decode("pil"))


def test_round_trip_through_webdataset(tmp_path, tiny_work):
    out, report = built(tmp_path, tiny_work)
    samples = read_all(out)
    assert len(samples) == 5 * 2 * 3 == sum(report.samples.values())
    assert len({s["__key__"] for s in samples}) == len(samples)
    for s in samples:
        meta = s["json"]
        assert s["__key__"] == meta["key"] == f"{meta['style']}/{meta['object']}/{meta['idx']}"
        assert "." not in s["__key__"]
        assert STYLES_61[s["style.cls"]] == meta["style"]
        assert OBJECTS_20[s["object.cls"]] == meta["object"]
        assert s["txt"] == meta["caption"]
        assert meta["seed_key"] == f"Seed_Images/{meta['object']}/{meta['idx']}"
        assert isinstance(s["jpg"], Image.Image) and s["jpg"].size == (64, 64)
        if meta["style"] != "Seed_Images":
            assert meta["provenance"]["backend"] == "procedural"


def test_image_bytes_are_not_reencoded(tmp_path, tiny_work):
    out, _ = built(tmp_path, tiny_work)
    urls = sorted(str(p) for p in (out / "data").glob("*.tar"))
    for s in wds.WebDataset(urls, shardshuffle=False):
        assert s["jpg"] == (tiny_work / f"{s['__key__']}.jpg").read_bytes()


def test_split_by_seed_photo(tmp_path, tiny_work):
    out, report = built(tmp_path, tiny_work)
    assert report.samples == {"train": 20, "test": 10}
    split_of_photo = {}
    for s in read_all(out):
        meta = s["json"]
        assert split_of_photo.setdefault(meta["seed_key"], meta["split"]) == meta["split"]
        assert (meta["split"] == "test") == (meta["idx"] == 3)


def test_tars_are_reproducible_sorted_and_bounded(tmp_path, tiny_work):
    import tarfile

    out, _ = built(tmp_path, tiny_work)
    again = tmp_path / "again"
    pack_dataset(tiny_work, again, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == json.loads((again / "manifest.json").read_text())
    assert all(s["samples"] <= 10 for s in manifest["shards"]) and len(manifest["shards"]) == 3
    for shard in manifest["shards"]:
        with tarfile.open(out / shard["path"]) as tar:
            members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert {m.mtime for m in members} == {1708214400}


def test_load_dataset_gives_labelled_splits(tmp_path, tiny_work):
    out, _ = built(tmp_path, tiny_work)
    ds = load_dataset(str(out))
    assert set(ds) == {"train", "test"} and ds["train"].num_rows == 20
    features = ds["train"].features
    assert features["style.cls"].names == list(STYLES_61)
    assert features["object.cls"].names == list(OBJECTS_20)
    row = ds["test"][0]
    assert features["style.cls"].int2str(row["style.cls"]) == row["json"]["style"]
    assert row["jpg"].size == (64, 64)


def test_rerun_reuses_unchanged_shards_and_repacks_changed_ones(tmp_path, tiny_work):
    out, first = built(tmp_path, tiny_work)
    assert first.shards_written == 3
    second = pack_dataset(tiny_work, out, progress=False)
    assert (second.shards_written, second.shards_reused) == (0, 3)
    painted = tiny_work / "Winter" / "Cats" / "1.jpg"
    painted.write_bytes((tiny_work / "Monet" / "Cats" / "1.jpg").read_bytes())
    third = pack_dataset(tiny_work, out, progress=False)
    assert third.shards_written == 1
    assert verify_shards(out, progress=False).ok


def test_missing_images_and_stray_folders_are_reported(tmp_path, tiny_work):
    stylize_workspace(tiny_work, progress=False, workers=2)
    (tiny_work / "Monet" / "Human" / "2.jpg").unlink()
    (tiny_work / "Not_A_Style").mkdir()
    report = pack_dataset(tiny_work, tmp_path / "uc", progress=False)
    assert report.missing == ["Monet/Human/2"]
    assert report.unknown_folders == ["Not_A_Style"]
    assert sum(report.samples.values()) == 29


def test_verify_passes_then_names_the_shard_with_a_flipped_byte(tmp_path, tiny_work):
    out, _ = built(tmp_path, tiny_work)
    assert verify_shards(out, progress=False).ok
    shard = sorted((out / "data").glob("*.tar"))[1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 3] ^= 0x01
    shard.write_bytes(bytes(data))
    report = verify_shards(out, progress=False)
    assert not report.ok
    assert len(report.problems) == 1 and shard.name in report.problems[0]


def test_pack_shards_writes_no_card_and_calls_finish_last(tiny_work, tmp_path):
    """``pack_shards`` writes shards, manifest and recipe; the card is the caller's ``finish``."""
    from canvas_data.pack.shards import pack_shards

    stylize_workspace(tiny_work, progress=False, workers=2)
    bare = tmp_path / "bare"
    pack_shards(tiny_work, bare, progress=False)
    assert (bare / "manifest.json").is_file() and (bare / "recipe.yaml").is_file()
    assert not (bare / "README.md").exists()

    calls = []

    def finish(out, manifest, recipe, written):
        assert (out / "manifest.json").is_file()  # written before the hook runs
        calls.append((out, manifest["splits"], recipe.seed, sorted(written)))

    out = tmp_path / "hooked"
    report = pack_shards(tiny_work, out, progress=False, finish=finish)
    assert len(calls) == 1
    assert calls[0][0] == out and calls[0][1] == report.samples
    assert calls[0][3]  # the index of the tars just written


def test_pack_options_are_checked_when_made():
    from canvas_data.pack.shards import PackOptions

    with pytest.raises(ValueError, match=r"unknown formats \['zip'\]; choose from webdataset"):
        PackOptions(formats=("zip",))
    with pytest.raises(ValueError, match="unknown image check 'full'"):
        PackOptions(check="full")
    assert PackOptions(formats=["parquet", "parquet"], styles=["Monet"]).formats == ("parquet",)
