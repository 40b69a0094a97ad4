"""A sample key that a packed folder holds twice, in two shards, with a manifest made to match:
``verify`` names the repeated key and both shards (as ``export`` does), whether both shards are
of one split or one is of train and the other of test, in tars and in Parquet files."""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_tar_samples import rehash

from canvas_data.cli.build import main
from canvas_data.pipeline import pack_dataset
from canvas_data.workspace import sha256_file


@pytest.fixture(scope="module")
def packed(tiny_packed):
    return tiny_packed


def members(path):
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def write_tar(path, entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


def copy_first_sample(folder, source, target, split):
    """Append ``source``'s first sample to ``target`` and make the manifest count it."""
    entries = members(folder / source)
    key = entries[0][0].split(".", 1)[0]
    write_tar(
        folder / target,
        members(folder / target) + [e for e in entries if e[0].split(".", 1)[0] == key],
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    cell = key.rsplit("/", 1)[0]
    style, obj = cell.split("/")
    for entry in manifest["shards"]:
        if entry["path"] == target:
            entry["samples"] += 1
            entry["counts"][cell] = entry["counts"].get(cell, 0) + 1
    manifest["counts"][split][style][obj] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    rehash(folder)
    return key


@pytest.mark.parametrize(
    ("target", "split"), [("data/train-000001.tar", "train"), ("data/test-000000.tar", "test")]
)
def test_verify_names_a_key_held_by_two_shards(packed, tmp_path, target, split):
    folder = shutil.copytree(packed, tmp_path / "uc")
    assert (folder / target).exists()
    key = copy_first_sample(folder, "data/train-000000.tar", target, split)
    export = CliRunner().invoke(
        main, ["export", str(folder), "--out", str(tmp_path / "e"), "--no-progress"]
    )
    assert export.exit_code == 1 and repr(key) in export.output, export.output
    verify = CliRunner().invoke(main, ["verify", str(folder), "--no-progress"])
    assert verify.exit_code == 1, verify.output
    assert repr(key) in verify.output, verify.output
    named = [line for line in verify.output.splitlines() if repr(key) in line]
    assert len(named) == 1, verify.output
    assert str(folder / target) in named[0] and str(folder / "data/train-000000.tar") in named[0]
    assert ("the train and the test split" in named[0]) == (split == "test"), named[0]
    assert "FAILED with 1 problems" in verify.output, verify.output


@pytest.fixture(scope="module")
def parquet_packed(tiny_painted, tmp_path_factory):
    """A tiny packed folder of Parquet files only."""
    work, recipe = tiny_painted
    out = tmp_path_factory.mktemp("attack-repeats-parquet") / "uc"
    pack_dataset(work, out, recipe=recipe, formats=("parquet",), progress=False)
    return out


def copy_first_row(folder, source, target, split):
    """Append ``source``'s first row to ``target`` (as a row of ``split``) and make the
    manifest count it and match the files' sizes and hashes."""
    first = pq.read_table(folder / source).slice(0, 1)
    first = first.set_column(
        first.schema.get_field_index("split"), "split", pa.array([split], pa.string())
    )
    table = pa.concat_tables([pq.read_table(folder / target), first])
    pq.write_table(table, folder / target)
    key = first.column("key")[0].as_py()
    manifest = json.loads((folder / "manifest.json").read_text())
    cell = key.rsplit("/", 1)[0]
    style, obj = cell.split("/")
    for entry in manifest["parquet"]:
        if entry["path"] == target:
            entry["samples"] += 1
            entry["counts"][cell] = entry["counts"].get(cell, 0) + 1
        file = folder / entry["path"]
        entry["sha256"], entry["bytes"] = sha256_file(file), file.stat().st_size
    manifest["counts"][split][style][obj] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return key


@pytest.mark.parametrize(
    ("target", "split"),
    [("parquet/train-000001.parquet", "train"), ("parquet/test-000000.parquet", "test")],
)
def test_verify_names_a_key_held_by_two_parquet_files(parquet_packed, tmp_path, target, split):
    folder = shutil.copytree(parquet_packed, tmp_path / "uc")
    assert (folder / target).exists()
    key = copy_first_row(folder, "parquet/train-000000.parquet", target, split)
    export = CliRunner().invoke(
        main, ["export", str(folder), "--out", str(tmp_path / "e"), "--no-progress"]
    )
    assert export.exit_code == 1 and repr(key) in export.output, export.output
    verify = CliRunner().invoke(main, ["verify", str(folder), "--no-progress"])
    assert verify.exit_code == 1, verify.output
    named = [line for line in verify.output.splitlines() if repr(key) in line]
    assert len(named) == 1, verify.output
    assert str(folder / target) in named[0], named[0]
    assert str(folder / "parquet/train-000000.parquet") in named[0], named[0]
    assert ("the train and the test split" in named[0]) == (split == "test"), named[0]
    assert "FAILED with 1 problems" in verify.output, verify.output
