"""Commands say what runs and what they found: empty results fail, near-miss names get hints."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_recipe
from PIL import Image

from canvas_data.cli.build import main
from canvas_data.cli.eval import main as eval_main
from canvas_data.intake.photos import intake_photos
from canvas_data.metrics.scores import target_domain
from canvas_data.pipeline import check_targets
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import stylize_workspace

README = Path(__file__).resolve().parents[1] / "README.md"


def _jpeg(seed: int = 0, size: tuple[int, int] = (96, 80)) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


def _one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


# ---------------------------------------------------------------- (a) the FID Inception file


def test_fid_says_the_torchscript_file_is_a_program():
    help_text = " ".join(CliRunner().invoke(eval_main, ["fid", "--help"]).output.split())
    assert "a program" in help_text and "runs its code" in help_text
    assert "weights-only" in help_text and "weights_only=True" in help_text
    section = README.read_text().split("### How this FID differs", 1)[1].split("\n## ", 1)[0]
    assert "It is not only weights: `torch.jit.load` runs the code" in " ".join(section.split())


# ---------------------------------------------------------------- (b) nothing found is a failure


def test_sources_with_no_usable_photo_fails_in_one_line(tmp_path):
    recipe = write_recipe(tmp_path)
    photos = tmp_path / "photos"
    (photos / "Cats").mkdir(parents=True)
    (photos / "Cats" / "1.jpg").write_bytes(b"not a photo")
    (photos / "Human").mkdir()
    args = ["sources", "--photos", str(photos), "--work", str(tmp_path / "w"), "--recipe"]
    line = _one_line_error(CliRunner().invoke(main, [*args, str(recipe), "--no-progress"]))
    assert f"no usable photo in {photos}" in line


def test_sources_from_a_manifest_with_no_usable_row_fails(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("url,object,licence\nfile:///etc/passwd,Cats,CC0\n")
    result = CliRunner().invoke(
        main,
        ["sources", "--manifest", str(manifest), "--work", str(tmp_path / "w"), "--recipe",
         str(write_recipe(tmp_path)), "--no-progress", "--retries", "0"],
    )  # fmt: skip
    assert f"no usable photo in {manifest}" in _one_line_error(result)


def test_stylize_with_nothing_planned_fails_in_one_line(tmp_path):
    recipe = write_recipe(tmp_path)
    work = tmp_path / "w"
    work.mkdir()
    args = ["stylize", "--work", str(work), "--recipe", str(recipe), "--no-progress"]
    line = _one_line_error(CliRunner().invoke(main, args))
    assert "nothing to stylize" in line and "canvas-build sources" in line
    with pytest.raises(ValueError, match="nothing to stylize"):
        stylize_workspace(work, recipe=load_recipe(recipe), progress=False)


# ---------------------------------------------------------------- (c) near-miss folder names


@pytest.mark.parametrize("folder", ["cat", "Cat", "cats_", "Catz"])
def test_a_folder_named_almost_like_an_object_gets_a_suggestion(tmp_path, folder):
    recipe = load_recipe(write_recipe(tmp_path))
    photos = tmp_path / "photos"
    (photos / folder).mkdir(parents=True)
    (photos / folder / "1.jpg").write_bytes(_jpeg())
    (photos / "Human").mkdir()
    (photos / "Human" / "1.jpg").write_bytes(_jpeg(1))
    report = intake_photos(photos, tmp_path / "w", recipe, progress=False)
    assert report.near_misses == {folder: "Cats"}
    assert f"{folder} (did you mean Cats?)" in report.summary()


def test_the_failure_line_names_the_near_miss(tmp_path):
    photos = tmp_path / "photos"
    (photos / "cat").mkdir(parents=True)
    (photos / "cat" / "1.jpg").write_bytes(_jpeg())
    args = ["sources", "--photos", str(photos), "--work", str(tmp_path / "w")]
    result = CliRunner().invoke(main, [*args, "--recipe", str(write_recipe(tmp_path))])
    assert "cat/ -> Cats?" in _one_line_error(result)


# ---------------------------------------------------------------- (d) unknown names everywhere


def test_unknown_styles_and_objects_on_the_command_line(tiny_work, tmp_path):
    run = CliRunner().invoke
    base = ["stylize", "--work", str(tiny_work), "--no-progress"]
    line = _one_line_error(run(main, [*base, "--styles", "Monnet,Winter"]))
    assert "unknown style names ['Monnet'] (did you mean 'Monet'?)" in line
    assert "valid styles: Monet, Pencil_Drawing, Van_Gogh, Winter" in line
    line = _one_line_error(run(main, [*base, "--objects", "Cat"]))
    assert "unknown object names ['Cat'] (did you mean 'Cats'?); valid objects: Cats, Human" in line
    out = tmp_path / "out"
    args = ["shards", "--work", str(tiny_work), "--out", str(out), "--styles", "van gogh"]
    line = _one_line_error(run(main, args))
    assert "(did you mean 'Van_Gogh'?)" in line and "valid styles: Abstractionism" in line


def test_an_unknown_target_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        target_domain("VanGogh", ["Van_Gogh", "Monet"], ["Cats", "Dogs"])
    message = str(err.value)
    assert "(did you mean 'Van_Gogh'?)" in message
    assert "valid targets: Van_Gogh, Monet, Cats, Dogs" in message


# ---------------------------------------------------------------- (e) the demo's output folder


def test_demo_refuses_a_folder_that_holds_something_else(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my notes\n")
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--no-progress"])
    line = _one_line_error(result)
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
