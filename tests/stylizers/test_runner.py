import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from conftest import error_line, write_recipe
from PIL import Image

from canvas_data.cli.build import main
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.paint_items import is_done
from canvas_data.stylizers.runner import (
    StylizeOptions,
    plan_items,
    shard_of_work,
    stylize_workspace,
)
from canvas_data.workspace import image_path, sidecar_path


def outputs(work):
    """Every painted image (not seed photos) and its bytes."""
    return {
        p.relative_to(work).as_posix(): p.read_bytes()
        for p in work.rglob("*.jpg")
        if not p.relative_to(work).as_posix().startswith("Seed_Images/")
    }


def test_paints_every_item_with_provenance(tiny_work, tiny_recipe):
    report = stylize_workspace(tiny_work, progress=False, workers=2)
    items = plan_items(tiny_recipe, tiny_work)
    assert len(items) == 4 * 2 * 3 and report.written == len(items) and not report.failed
    for item in items:
        with Image.open(image_path(tiny_work, item)) as im:
            assert im.size == (64, 64) and im.mode == "RGB"
        prov = json.loads(sidecar_path(image_path(tiny_work, item)).read_text())
        assert prov["key"] == item.key and prov["backend"] == "procedural"
        assert prov["seed_photo"] == f"Seed_Images/{item.obj}/{item.idx}.jpg"
        assert prov["recipe_sha256"] == tiny_recipe.sha256 and prov["chain"]


def test_rerun_does_nothing(tiny_work):
    stylize_workspace(tiny_work, progress=False, workers=1)
    before = {p: p.stat().st_mtime_ns for p in tiny_work.rglob("*") if p.is_file()}
    again = stylize_workspace(tiny_work, progress=False, workers=1)
    assert again.written == 0 and again.already_done == again.planned == 24
    assert {p: p.stat().st_mtime_ns for p in tiny_work.rglob("*") if p.is_file()} == before


def test_same_seed_same_bytes_however_the_work_is_split(tmp_path, tiny_recipe):
    from conftest import fill_seed_photos

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    fill_seed_photos(whole, tiny_recipe)
    fill_seed_photos(parts, tiny_recipe)
    stylize_workspace(whole, progress=False, workers=2)
    for rank in range(3):
        stylize_workspace(parts, progress=False, workers=1, num_shards=3, shard_index=rank)
    assert outputs(whole) == outputs(parts) and len(outputs(whole)) == 24


def test_ranks_are_disjoint_and_complete(tiny_work, tiny_recipe):
    items = plan_items(tiny_recipe, tiny_work)
    shares = [set(shard_of_work(items, 8, r)) for r in range(8)]
    assert sum(len(s) for s in shares) == len(items)
    assert set().union(*shares) == set(items)
    with pytest.raises(ValueError):
        shard_of_work(items, 2, 2)


def test_subset_and_unknown_names(tiny_work):
    report = stylize_workspace(tiny_work, styles=["Winter"], objects=["Cats"], progress=False)
    assert report.planned == 3
    with pytest.raises(ValueError, match="Dadaism"):
        stylize_workspace(tiny_work, styles=["Dadaism"], progress=False)


def test_unreadable_seed_photo_is_reported_and_the_rest_goes_on(tiny_work):
    (tiny_work / "Seed_Images" / "Cats" / "2.jpg").write_bytes(b"not a jpeg")
    report = stylize_workspace(tiny_work, progress=False, workers=1)
    assert len(report.failed) == 4 and all("/Cats/2" in key for key, _ in report.failed)
    assert report.written == 20
    assert "cannot read seed photo" in report.failed[0][1]


@pytest.mark.slow
def test_killed_run_resumes_with_nothing_lost_or_repeated(tmp_path, tiny_recipe):
    from conftest import fill_seed_photos

    reference, work = tmp_path / "reference", tmp_path / "killed"
    for w in (reference, work):
        fill_seed_photos(w, tiny_recipe)
    stylize_workspace(reference, progress=False, workers=1)
    cmd = [sys.executable, "-m", "canvas_data.cli", "stylize", "--work", str(work),
           "--workers", "1", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(list(work.rglob("[0-9]*.json"))) < 6 and time.time() < deadline:
        time.sleep(0.005)  # the seed photos have no sidecars: these are painted images
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sum(is_done(work, it) for it in plan_items(tiny_recipe, work))
    assert 0 < done_before < 24, "the kill should land mid-way"
    subprocess.run(cmd, check=True, capture_output=True)
    assert outputs(work) == outputs(reference)
    assert not list(work.rglob(".*partial*"))


# A workspace with nothing to paint fails.


def test_stylize_with_nothing_planned_fails_in_one_line(tmp_path):
    recipe = write_recipe(tmp_path)
    work = tmp_path / "w"
    work.mkdir()
    args = ["stylize", "--work", str(work), "--recipe", str(recipe), "--no-progress"]
    line = error_line(CliRunner().invoke(main, args))
    assert "nothing to stylize" in line and "canvas-build sources" in line
    with pytest.raises(ValueError, match="nothing to stylize"):
        stylize_workspace(work, recipe=load_recipe(recipe), progress=False)


def test_keywords_split_into_the_runs_fields_and_the_stylizers_options():
    options = StylizeOptions.from_fields(
        {"backend": "diffusers", "workers": 2, "styles": ["Monet"], "model": "m", "steps": 4}
    )
    assert (options.backend, options.workers, options.styles) == ("diffusers", 2, ("Monet",))
    assert options.stylizer == {"model": "m", "steps": 4}
    assert options.objects is None and options.num_shards == 1


def test_options_and_keywords_together_are_refused(tmp_path):
    with pytest.raises(TypeError, match="workers given with options"):
        stylize_workspace(tmp_path, StylizeOptions(), workers=2)


def test_other_stylizer_settings_are_refused_then_repaint_the_style(tiny_work):
    from canvas_data.build_record import BuildConflict, read_record

    first = stylize_workspace(tiny_work, styles=["Monet"], workers=1, progress=False)
    assert first.written == 6
    with pytest.raises(BuildConflict, match=r"Monet painted with procedural, this run asks "):
        stylize_workspace(tiny_work, styles=["Monet"], workers=1, progress=False, min_side=16)
    other = stylize_workspace(tiny_work, styles=["Winter"], workers=1, progress=False, min_side=16)
    assert other.written == 6  # a style not painted yet takes any settings
    again = stylize_workspace(
        tiny_work, styles=["Monet"], workers=1, progress=False, min_side=16, repaint_stale=True
    )
    assert again.written == again.repainted == 6
    record = read_record(tiny_work)
    assert (
        record.stylizers["Monet"].options == {"min_side": 16} == record.stylizers["Winter"].options
    )
    prov = json.loads((tiny_work / "Monet" / "Cats" / "1.json").read_text())
    assert prov["options"]["min_side"] == 16
