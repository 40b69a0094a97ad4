"""``canvas-build push``: what would be uploaded, and the checks of the card. No network."""

import huggingface_hub.constants
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
