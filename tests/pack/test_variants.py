"""Pack-time variants: the 50-style head, Parquet output (with or without tars)."""

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from datasets import load_dataset
from release_data import make_release, manifest, release_recipe, tar_samples

from canvas_data.cli.build import main
from canvas_data.cli.common import parse_styles
from canvas_data.pack.parquet import ParquetShardWriter, verify_packed
from canvas_data.pack.shard_formats import sample_record
from canvas_data.pack.variants import variant_recipe
from canvas_data.parquet_read import iter_rows
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.taxonomy import OBJECTS_20, STYLES_51, STYLES_61


def test_fifty_style_head_uses_the_51_way_order(tmp_path):
    release = make_release(tmp_path / "release", styles=("Monet", "Pointillism", "Van_Gogh"))
    out = tmp_path / "out"
    args = ["shards", "--work", str(release), "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(main, [*args, "--styles", "50"])
    assert result.exit_code == 0, result.output
    assert "outside the taxonomy" not in result.stderr  # Pointillism is left out, not a stray
    m = manifest(out)
    assert m["name"] == "unlearncanvas-50styles"
    assert m["taxonomy"]["styles"] == list(STYLES_51) and STYLES_51[38] == "Seed_Images"
    samples = tar_samples(out)
    assert {k.split("/")[0] for k in samples} == {"Seed_Images", "Monet", "Van_Gogh"}
    for key, s in samples.items():
        assert STYLES_51[int(s["style.cls"])] == key.split("/")[0]
    assert int(samples["Seed_Images/Cats/1"]["style.cls"]) == 38
    assert int(samples["Van_Gogh/Cats/1"]["style.cls"]) == STYLES_51.index("Van_Gogh") == 45
    assert STYLES_61.index("Van_Gogh") == 55  # re-mapped, not the 61-way index
    card = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    style_feature = next(f for f in card["dataset_info"]["features"] if f["name"] == "style.cls")
    assert list(style_feature["dtype"]["class_label"]["names"].values()) == list(STYLES_51)
    kept = load_recipe(out / "recipe.yaml")
    assert kept.taxonomy.styles == STYLES_51 and "Pointillism" not in kept.styles


def test_variant_recipe_and_styles_option():
    full = load_recipe("unlearncanvas")
    assert parse_styles("50", heads=True) == "50"
    assert parse_styles("Monet, Winter") == ["Monet", "Winter"]
    fifty = variant_recipe(full, styles="50")
    assert len(fifty.styles) == 50 and fifty.taxonomy.styles == STYLES_51
    assert variant_recipe(fifty, styles="60").taxonomy.styles == STYLES_61
    assert variant_recipe(fifty, styles="60").name == "unlearncanvas-60styles"
    some = variant_recipe(full, styles=["Winter", "Monet"], resolution=256)
    assert some.styles == ("Monet", "Winter") and some.resolution == 256
    assert some.name == "unlearncanvas-2styles-256px"
    with pytest.raises(ValueError, match="Not_A_Style"):
        variant_recipe(full, styles=["Not_A_Style"])


def test_both_formats_hold_the_same_samples_and_load_with_labels(tmp_path):
    release = make_release(tmp_path / "release")
    recipe = load_recipe(release_recipe(tmp_path))
    out = tmp_path / "out"
    pack_dataset(release, out, recipe=recipe, formats=("webdataset", "parquet"), progress=False)
    m = manifest(out)
    assert m["formats"] == ["webdataset", "parquet"]
    assert [p["path"] for p in m["parquet"]] == [
        s["path"].replace("data/", "parquet/").replace(".tar", ".parquet") for s in m["shards"]
    ]
    tars = tar_samples(out)
    rows = {r["key"]: r for p in m["parquet"] for r in iter_rows(out / p["path"])}
    assert set(rows) == set(tars) and len(rows) == 18
    for key, row in rows.items():
        assert row["image"] == {"bytes": tars[key]["jpg"], "path": f"{key}.jpg"}
        assert row["style"] == int(tars[key]["style.cls"])
        assert row["caption"] == tars[key]["txt"].decode()
    ds = load_dataset(str(out), data_dir="parquet")
    assert ds["train"].num_rows + ds["test"].num_rows == 18
    features = ds["train"].features
    assert features["style"].names == list(STYLES_61)
    assert features["object"].names == list(OBJECTS_20)
    row = ds["test"][0]
    assert row["image"].size == (48, 48) and row["split"] == "test"
    assert features["style"].int2str(row["style"]) == row["key"].split("/")[0]
    assert load_dataset(str(out))["train"].features["style.cls"].names == list(STYLES_61)
    assert verify_packed(out, progress=False).ok


def test_parquet_only_is_the_default_config_and_verify_names_a_damaged_file(tmp_path):
    release = make_release(tmp_path / "release")
    recipe = load_recipe(release_recipe(tmp_path))
    out = tmp_path / "out"
    pack_dataset(release, out, recipe=recipe, formats=("webdataset",), progress=False)
    pack_dataset(release, out, recipe=recipe, formats=("parquet",), progress=False)
    assert not list((out / "data").glob("*.tar"))  # the dropped format's shards are gone
    ds = load_dataset(str(out))
    assert set(ds) == {"train", "test"} and "image" in ds["train"].column_names
    assert ds["train"].features["style"].names == list(STYLES_61)
    assert verify_packed(out, progress=False).ok
    result = CliRunner().invoke(main, ["verify", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    shard = out / manifest(out)["parquet"][1]["path"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    report = verify_packed(out, progress=False)
    assert not report.ok and shard.name in report.problems[0]


def test_parquet_row_groups_are_small(tmp_path):
    release = make_release(tmp_path / "release")
    recipe = load_recipe(release_recipe(tmp_path))
    path = tmp_path / "one.parquet"
    writer = ParquetShardWriter(path, recipe, row_group_rows=4)
    sample_list = []
    from canvas_data.pack.shard_plan import inventory

    sample_list = inventory(release, recipe).samples[:10]
    for sample in sample_list:
        writer.write(*sample_record(sample, recipe))
    writer.close()
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4, 4, 2]
    out = tmp_path / "out"
    pack_dataset(release, out, recipe=recipe, formats=("parquet",), max_samples=500, progress=False)
    packed = pq.ParquetFile(out / manifest(out)["parquet"][0]["path"]).metadata
    assert (
        packed.num_rows > 1
        and max(packed.row_group(i).num_rows for i in range(packed.num_row_groups)) <= 100
    )
