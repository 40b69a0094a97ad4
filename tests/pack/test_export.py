"""Exports in the release's layout, and round trips folder -> shards -> export -> shards."""

import json

from click.testing import CliRunner
from datasets import load_dataset
from release_data import make_release, manifest, release_recipe, tar_samples

from canvas_data.cli.build import main
from canvas_data.pack.export import export_release
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import stylize_workspace


def shard_hashes(out):
    return {s["path"]: s["sha256"] for s in manifest(out)["shards"]}


def test_release_folder_round_trips_through_shards_and_export(tmp_path):
    release = make_release(tmp_path / "release")
    recipe = load_recipe(release_recipe(tmp_path))
    first, exported, second = tmp_path / "first", tmp_path / "export", tmp_path / "second"
    pack_dataset(release, first, recipe=recipe, progress=False)
    runner = CliRunner()
    result = runner.invoke(main, ["export", str(first), "--out", str(exported), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "exported 18 images" in result.output
    for path in release.rglob("*.jpg"):  # the release's layout, bytes unchanged
        assert (exported / path.relative_to(release)).read_bytes() == path.read_bytes()
    args = ["shards", "--work", str(exported), "--out", str(second), "--no-progress"]
    result = runner.invoke(main, args)  # no --recipe: the export keeps the one it was packed with
    assert result.exit_code == 0, result.output
    assert tar_samples(second) == tar_samples(first) != {}
    assert shard_hashes(second) == shard_hashes(first)  # byte for byte the same tars

    lines = [json.loads(x) for x in (exported / "metadata.jsonl").read_text().splitlines()]
    assert len(lines) == 18 and set(lines[0]) == {"file_name", "text"}
    assert {"file_name": "Van_Gogh/Cats/2.jpg", "text": "A Cats image in Van Gogh style"} in lines
    assert {"file_name": "Seed_Images/Human/1.jpg", "text": "A Human image in photo style"} in lines


def test_export_is_what_imagefolder_and_text_to_image_training_read(tmp_path):
    release = make_release(tmp_path / "release")
    recipe = load_recipe(release_recipe(tmp_path))
    pack_dataset(release, tmp_path / "packed", recipe=recipe, progress=False)
    report = export_release(
        tmp_path / "packed", tmp_path / "export", splits=["train"], progress=False
    )
    assert report.images == 12  # photos 1 and 2 of each object and their paintings
    ds = load_dataset("imagefolder", data_dir=str(tmp_path / "export"), split="train")
    assert ds.column_names == ["image", "text"] and ds.num_rows == 12
    texts = set(ds["text"])
    assert "A Cats image in Monet style" in texts and "A Human image in photo style" in texts
    assert ds[0]["image"].size == (48, 48)
    assert not (tmp_path / "export" / "Monet" / "Cats" / "3.jpg").exists()  # a test photo


def test_stylized_workspace_round_trips_with_provenance(tmp_path, tiny_work):
    stylize_workspace(tiny_work, progress=False, workers=2)
    first, exported, second = tmp_path / "first", tmp_path / "export", tmp_path / "second"
    pack_dataset(tiny_work, first, progress=False)
    export_release(first, exported, progress=False)
    again = export_release(first, exported, progress=False)
    assert again.shards_reused == again.shards == 3
    pack_dataset(exported, second, progress=False)
    samples = tar_samples(second)
    assert samples == tar_samples(first)
    meta = json.loads(samples["Monet/Cats/1"]["json"])
    assert meta["provenance"]["backend"] == "procedural"


def test_export_from_parquet_only(tmp_path):
    release = make_release(tmp_path / "release")
    recipe = load_recipe(release_recipe(tmp_path))
    pack_dataset(release, tmp_path / "packed", recipe=recipe, formats=("parquet",), progress=False)
    report = export_release(tmp_path / "packed", tmp_path / "export", progress=False)
    assert report.images == 18
    for path in release.rglob("*.jpg"):
        assert (tmp_path / "export" / path.relative_to(release)).read_bytes() == path.read_bytes()


def test_export_of_a_split_it_lacks_is_a_one_line_error(tmp_path):
    release = make_release(tmp_path / "release")
    pack_dataset(
        release, tmp_path / "p", recipe=load_recipe(release_recipe(tmp_path)), progress=False
    )
    args = ["export", str(tmp_path / "p"), "--out", str(tmp_path / "e"), "--split", "validation"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "no split ['validation']" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_export_into_a_folder_holding_other_files_refuses_unless_overwrite(tmp_path):
    release = make_release(tmp_path / "release")
    packed, out = tmp_path / "packed", tmp_path / "mine"
    pack_dataset(release, packed, recipe=load_recipe(release_recipe(tmp_path)), progress=False)
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    args = ["export", str(packed), "--out", str(out), "--no-progress"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and refused.output.count("\n") == 1
    assert f"{out} holds other files (notes.txt)" in refused.output
    assert "--overwrite" in refused.output and sorted(p.name for p in out.iterdir()) == [
        "notes.txt"
    ]
    done = CliRunner().invoke(main, [*args, "--overwrite"])
    assert done.exit_code == 0, done.output
    assert (out / "notes.txt").read_text() == "the user's" and (out / "metadata.jsonl").is_file()
    again = CliRunner().invoke(main, args)  # an earlier export: resumed without --overwrite
    assert again.exit_code == 0, again.output
