"""``canvas-build push``: what would be uploaded, and the checks of the card. No network."""

import os
import shutil

import huggingface_hub.constants
import pytest
from click.testing import CliRunner
from release_data import make_release, manifest, release_recipe

from canvas_data.cli.build import main
from canvas_data.pack.push import plan_push
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe


def packed(tmp_path, formats=("webdataset",)):
    release = make_release(tmp_path / "release")
    out = tmp_path / "out"
    recipe = load_recipe(release_recipe(tmp_path))
    pack_dataset(release, out, recipe=recipe, formats=formats, progress=False)
    return out


def test_dry_run_lists_the_files_that_would_go_and_nothing_hidden(tmp_path):
    out = packed(tmp_path, formats=("webdataset", "parquet"))
    (out / ".pack" / "stray.json").write_text("{}")
    result = CliRunner().invoke(main, ["push", str(out), "--repo-id", "me/uc", "--dry-run"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[-1] for line in result.stdout.splitlines()[:-1]]
    shards = [s["path"] for s in manifest(out)["shards"] + manifest(out)["parquet"]]
    assert {"README.md", "manifest.json", "recipe.yaml", *shards} <= set(listed)
    assert not any(part.startswith(".") for rel in listed for part in rel.split("/"))
    plan = plan_push(out)
    assert listed == [rel for rel, _ in plan.files] and plan.problems == []
    assert result.stdout.splitlines()[-1] == (
        f"dry run: would upload {plan.summary()} to datasets/me/uc"
    )


def test_a_card_that_points_at_missing_shards_is_refused(tmp_path):
    out = packed(tmp_path)
    test_shard = next(s for s in manifest(out)["shards"] if s["split"] == "test")
    (out / test_shard["path"]).unlink()
    (out / "loader.py").write_text("# a loading script\n")
    result = CliRunner().invoke(main, ["push", str(out), "--repo-id", "me/uc", "--dry-run"])
    assert result.exit_code == 1
    err = result.stderr
    assert "config 'default' split 'test': data/test-*.tar matches no file" in err
    assert f"{out / test_shard['path']}: listed in the manifest, missing" in err
    assert "loading scripts ['loader.py']" in err
    assert err.strip().splitlines()[-1] == f"Error: {out}: not uploaded, 3 problems"


def test_bad_repo_id_and_missing_card(tmp_path):
    out = packed(tmp_path)
    result = CliRunner().invoke(main, ["push", str(out), "--repo-id", "no-owner"])
    assert result.exit_code == 1 and "expected ORG/NAME" in result.output
    (out / "README.md").unlink()
    assert plan_push(out).problems == [f"{out / 'README.md'}: missing (the dataset card)"]


def test_the_upload_path_reaches_the_hub_client_and_stops_there_offline(tmp_path, monkeypatch):
    """Offline mode blocks every request before it is sent: the real path runs, nothing leaves."""
    out = packed(tmp_path)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    result = CliRunner().invoke(main, ["push", str(out), "--repo-id", "me/uc"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: upload to me/uc failed: Cannot reach https://")
    assert "offline mode is enabled" in result.output


# --- only regular files inside the folder, checked as verify checks them, go ---


@pytest.fixture
def folder(tiny_packed, tmp_path):
    """A copy of the tiny packed folder, to add links and damage to."""
    return shutil.copytree(tiny_packed, tmp_path / "uc")


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
