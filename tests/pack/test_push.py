"""``push`` uploads only regular files inside the folder, after checking it as ``verify`` does:
a link to a token file, anywhere in the folder, is named and nothing goes."""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner
from conftest import packed_folder

from canvas_data.cli.build import main
from canvas_data.pack.push import plan_push


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_folder(tmp_path_factory.mktemp("push"))


@pytest.fixture
def folder(packed, tmp_path):
    return shutil.copytree(packed, tmp_path / "uc")


def secret(tmp_path):
    token = tmp_path / "token"
    token.write_text("hf_SECRET")
    return token


LINKS = {
    "file at the top": lambda f, t: os.symlink(t, f / "token.txt"),
    "file in data": lambda f, t: os.symlink(t, f / "data" / "notes.txt"),
    "folder": lambda f, t: os.symlink(t.parent, f / "extra"),
    "link inside the folder": lambda f, t: os.symlink(f / "README.md", f / "README-copy.md"),
    "FIFO": lambda f, t: os.mkfifo(f / "pipe"),
}


@pytest.mark.parametrize("kind", sorted(LINKS))
def test_links_and_special_files_are_refused_and_never_listed(folder, tmp_path, kind):
    LINKS[kind](folder, secret(tmp_path))
    plan = plan_push(folder)
    assert plan.problems and any("link" in p or "regular" in p for p in plan.problems)
    assert all(os.path.isfile(folder / rel) and not os.path.islink(folder / rel)
               for rel, _ in plan.files)  # fmt: skip
    run = CliRunner().invoke(main, ["push", str(folder), "--repo-id", "me/uc", "--dry-run"])
    assert run.exit_code != 0 and "not uploaded" in run.output, run.output
    assert "would upload" not in run.output


@pytest.mark.parametrize("damage", ["member", "hash"])
def test_push_checks_members_and_hashes_first(folder, damage):
    import tarfile

    from test_tar_samples import add_first, header, rehash

    tar = sorted((folder / "data").glob("*.tar"))[0]
    info = tarfile.TarInfo("Monet/Cats/1.JPG")  # a member no reader takes
    info.size = 3
    add_first(tar, header(info) + b"abc".ljust(512, b"\0"))
    if damage == "member":  # the manifest made to match: only reading the members finds it
        rehash(folder)
    plan = plan_push(folder)
    assert plan.problems, "a damaged shard would be uploaded"
    assert any(tar.name in p for p in plan.problems)
