"""A sample key that a packed folder holds twice, in two shards, with a manifest made to match:
``verify`` names the repeated key (as ``export`` does), whether both shards are of one split or
one is of train and the other of test."""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import pytest
from click.testing import CliRunner
from conftest import packed_folder
from test_attack_tar import rehash

from canvas_data.cli.build import main


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_folder(tmp_path_factory.mktemp("attack-repeats"))


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
