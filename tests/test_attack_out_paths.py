"""Output folders that overlap what a command reads: packing into the workspace, exporting into
the packed folder (also through a symlink) are refused before anything is written; a pack whose
--out holds a workspace being painted leaves that workspace's files in progress alone."""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner
from conftest import painted_workspace

from canvas_data.atomic import PARTIAL
from canvas_data.cli.build import main
from canvas_data.pipeline import pack_dataset


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack-out")
    work, recipe = painted_workspace(root)
    pack_dataset(work, root / "uc", recipe=recipe, progress=False)
    return root


def snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def one_line_error(args):
    result = CliRunner().invoke(main, [*args, "--no-progress"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], result.output
    return lines[0]


@pytest.mark.parametrize("out", [".", "sub", "sub/deeper"])
def test_shards_refuses_an_out_folder_in_the_workspace(built, tmp_path, out):
    work = shutil.copytree(built / "work", tmp_path / "work")
    before = snapshot(work)
    line = one_line_error(["shards", "--work", str(work), "--out", str(work / out)])
    assert "--out" in line and "--work" in line
    assert snapshot(work) == before


@pytest.mark.parametrize("out", [".", "data", "Cartoon"])
def test_export_refuses_an_out_folder_in_the_packed_folder(built, tmp_path, out):
    packed = shutil.copytree(built / "uc", tmp_path / "uc")
    link = tmp_path / "link"
    link.symlink_to(packed)
    before = snapshot(packed)
    for target in (packed / out, link / out):
        line = one_line_error(["export", str(packed), "--out", str(target)])
        assert "packed folder" in line
    assert snapshot(packed) == before


def test_a_pack_leaves_the_partial_files_of_a_workspace_under_its_out_folder(built, tmp_path):
    """``--out .`` with the workspace a sub-folder: a painter's file in progress survives."""
    root = tmp_path / "root"
    work = shutil.copytree(built / "work", root / "work")
    cell = next(p for p in work.iterdir() if p.is_dir() and p.name != "Seed_Images")
    obj = next(p for p in cell.iterdir() if p.is_dir())
    in_progress = obj / f".99.jpg{PARTIAL}{os.getpid()}"  # a live writer: this process
    in_progress.write_bytes(b"half a jpeg")

    pack_dataset(work, root, progress=False)

    assert in_progress.read_bytes() == b"half a jpeg"
    assert (root / "manifest.json").is_file()
