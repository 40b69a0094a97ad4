"""Manifest fields of the wrong type or range are refused with one line naming the file and the
field, by every reader of a packed folder (verify, export, card, preview, the loaders), instead
of failing inside with a ``TypeError`` or going on with nonsense."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from canvas_data.cli.build import main
from canvas_data.errors import InputError
from canvas_data.loading.loaders import style_classification
from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.pipeline import pack_dataset


@pytest.fixture(scope="module")
def packed(tiny_painted, tmp_path_factory):
    work, recipe = tiny_painted
    out = tmp_path_factory.mktemp("attack") / "uc"
    pack_dataset(work, out, recipe=recipe, formats=("webdataset", "parquet"), progress=False)
    return out


def _first(m, key, value):
    m["shards"][0][key] = value


# name -> (tamper, the field the error must name)
CASES = {
    "shard_is_string": (lambda m: m.__setitem__("shards", ["data/train-000000.tar"]), "shards.0"),
    "shard_is_int": (lambda m: m.__setitem__("shards", [1]), "shards.0"),
    "shard_is_null": (lambda m: m.__setitem__("shards", [None]), "shards.0"),
    "shard_is_list": (lambda m: m.__setitem__("shards", [[1, 2]]), "shards.0"),
    "samples_negative": (lambda m: _first(m, "samples", -5), "shards.0.samples"),
    "samples_string": (lambda m: _first(m, "samples", "16"), "shards.0.samples"),
    "split_path": (lambda m: _first(m, "split", "../../x"), "shards.0.split"),
    "sha256_int": (lambda m: _first(m, "sha256", 5), "shards.0.sha256"),
    "cell_counts_list": (lambda m: _first(m, "counts", [1, 2]), "shards.0.counts"),
    "counts_split_int": (lambda m: m.__setitem__("counts", {"train": 5}), "counts.train"),
    "splits_string": (lambda m: m.__setitem__("splits", "x"), "splits"),
    "splits_missing": (lambda m: m.pop("splits"), "splits"),
    "parquet_string": (lambda m: m.__setitem__("parquet", "x"), "parquet"),
    "parquet_entry_string": (lambda m: m.__setitem__("parquet", ["a.parquet"]), "parquet.0"),
    "shard_listed_twice": (lambda m: m["shards"].append(dict(m["shards"][0])), "listed twice"),
}

COMMANDS = {
    "verify": lambda f, tmp: ["verify", str(f), "--no-progress"],
    "export": lambda f, tmp: ["export", str(f), "--out", str(tmp / "exp"), "--no-progress"],
    "card": lambda f, tmp: ["card", str(f)],
    "preview": lambda f, tmp: ["preview", str(f), "--out", str(tmp / "sheet.jpg")],
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_mistyped_manifest_field_is_one_line_naming_file_and_field(
    packed, tmp_path, case, command
):
    folder = shutil.copytree(packed, tmp_path / "uc")
    manifest = json.loads((folder / "manifest.json").read_text())
    tamper, field = CASES[case]
    tamper(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}

    result = CliRunner().invoke(main, COMMANDS[command](folder, tmp_path))

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "internal error" not in lines[0]
    assert str(folder / "manifest.json") in lines[0] and field in lines[0], lines[0]
    assert not (tmp_path / "exp").exists() or not any((tmp_path / "exp").rglob("*.jpg"))
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == before


def test_the_loaders_refuse_a_mistyped_manifest_naming_the_field(packed, tmp_path):
    folder = shutil.copytree(packed, tmp_path / "uc")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][0]["samples"] = "16"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"manifest\.json: .*shards\.0\.samples"):
        style_classification(folder)


def test_a_manifest_nested_too_deep_is_one_line_from_every_command(packed, tmp_path):
    folder = shutil.copytree(packed, tmp_path / "uc")
    (folder / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    for command in COMMANDS.values():
        result = CliRunner().invoke(main, command(folder, tmp_path))
        assert result.exit_code == 1
        assert "internal error" not in result.output
        assert str(folder / "manifest.json") in result.output, result.output


BARE = {"taxonomy": {}, "splits": {"train": 1}, "shards": [], "counts": {"train": {}}}


def test_left_out_or_null_fields_read_as_the_defaults():
    spec = manifest_spec({**BARE, "backends": None, "parquet": None})
    assert spec.toolkit_version == "unknown"
    assert spec.backends == {} and spec.parquet == [] and spec.missing == []
    assert spec.taxonomy.styles == "release-61"
    assert manifest_spec(spec) is spec


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"splits": None}, "splits: "),
        ({"shards": [{"path": "a.tar", "split": "val", "samples": -1}]}, "shards.0.split"),
        ({"counts": {"train": {"Monet": {"Cats": "3"}}}}, "counts.train.Monet.Cats"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(change, needle):
    with pytest.raises(InputError) as bad:
        manifest_spec({**BARE, **change}, "uc/manifest.json")
    line = str(bad.value)
    assert line.startswith("uc/manifest.json: not a valid packed folder's manifest: ")
    assert needle in line and "\n" not in line
