"""The stages run in order: the demo's output folders are checked before anything is written."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import error_line

from canvas_data.cli.build import main
from canvas_data.pipeline import check_targets
from canvas_data.recipe import load_recipe


def test_demo_refuses_a_folder_that_holds_something_else(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my notes\n")
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--no-progress"])
    line = error_line(result)
    assert str(out) in line and "--overwrite" in line and "README.md" in line
    assert (out / "README.md").read_text() == "my notes\n"
    assert not (tmp_path / "mine-work").exists()  # refused before anything was written


def test_demo_targets_accept_new_empty_and_earlier_demo_folders(tmp_path):
    recipe = load_recipe("demo")
    out, work = tmp_path / "uc", tmp_path / "uc-work"
    check_targets(out, work, recipe)  # new
    out.mkdir()
    work.mkdir()
    check_targets(out, work, recipe)  # empty
    (out / "data").mkdir()
    (work / "Seed_Images").mkdir()
    (work / ".bundled-photos").mkdir()
    check_targets(out, work, recipe)  # an unfinished run
    (out / "README.md").write_text("card")
    (out / "manifest.json").write_text(json.dumps({"name": recipe.name}))
    (work / "recipe.yaml").write_text(recipe.to_yaml())
    check_targets(out, work, recipe)  # an earlier run
    (out / "manifest.json").write_text(json.dumps({"name": "another-dataset"}))
    with pytest.raises(ValueError, match="not an earlier demo output of 'unlearncanvas-demo'"):
        check_targets(out, work, recipe)
    (out / "manifest.json").write_text(json.dumps({"name": recipe.name}))
    (work / "recipe.yaml").write_text("name: something-else\n")
    with pytest.raises(ValueError, match=str(work)):
        check_targets(out, work, recipe)
