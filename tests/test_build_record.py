"""The workspace remembers how it was built: stages that contradict it refuse, stale paintings
are named by shards and verify and repainted by stylize --repaint-stale."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from canvas_data.build_record import BUILD_FILE, read_record
from canvas_data.cli.build import main
from canvas_data.errors import InputError

OBJECTS = ["Cats", "Human"]


def photo_folder(root, n=3, seed=0):
    rng = np.random.default_rng(seed)
    for obj in OBJECTS:
        (root / obj).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
            Image.fromarray(small).resize((80, 80)).save(root / obj / f"p{i}.png")
    return root


def recipe_file(path, **build):
    data = {
        "extends": "demo",
        "name": path.stem,
        "build": {
            "styles": ["Monet", "Winter", "Van_Gogh"],
            "objects": OBJECTS,
            "photos_per_object": 3,
            "resolution": 32,
            "min_photo_side": 32,
            **build,
        },
        "photos": {"source": "folder", "licence": "made by the test"},
    }
    path.write_text(yaml.safe_dump(data))
    return str(path)


def run(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--no-progress"])
    return result


@pytest.fixture
def built(tmp_path):
    """A workspace made with a 32 px recipe and painted in Monet and Winter only."""
    photos = photo_folder(tmp_path / "photos")
    work = tmp_path / "work"
    small = recipe_file(tmp_path / "small.yaml")
    assert run("sources", "--photos", photos, "--work", work, "--recipe", small).exit_code == 0
    got = run("stylize", "--work", work, "--styles", "Monet,Winter", "--workers", "1")
    assert got.exit_code == 0, got.output
    return tmp_path, photos, work


def test_sources_with_another_recipe_refuses_and_writes_nothing(built):
    tmp_path, photos, work = built
    big = recipe_file(tmp_path / "big.yaml", resolution=48)
    before = {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}
    result = run("sources", "--photos", photos, "--work", work, "--recipe", big)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {work / BUILD_FILE}: sources refused")
    assert "resolution 32 -> 48" in lines[0] and "--repaint-stale" in lines[0]
    assert {p: p.read_bytes() for p in work.rglob("*") if p.is_file()} == before


def test_a_rerun_without_recipe_uses_the_workspace_recipe(built):
    _, photos, work = built
    result = run("sources", "--photos", photos, "--work", work)
    assert result.exit_code == 0, result.output
    with Image.open(work / "Seed_Images" / "Cats" / "1.jpg") as im:
        assert im.size == (32, 32)


def test_new_recipe_makes_paintings_stale_until_repainted(built):
    tmp_path, photos, work = built
    big = recipe_file(tmp_path / "big.yaml", resolution=48)
    result = run("sources", "--photos", photos, "--work", work, "--recipe", big, "--repaint-stale")
    assert result.exit_code == 0, result.output
    assert read_record(work).resolution == 48
    out = tmp_path / "out"
    packed = run("shards", "--work", work, "--out", out)
    assert packed.exit_code == 1 and not (out / "manifest.json").exists()
    assert "12 stale paintings" in packed.output and "Monet/Cats/1" in packed.output
    assert "--repaint-stale" in packed.output
    checked = run("verify", work)
    assert checked.exit_code == 1
    assert "Winter/Human/3.jpg: stale, seed photo changed" in checked.output
    again = run("stylize", "--work", work, "--workers", "1", "--styles", "Monet,Winter")
    assert again.exit_code == 0 and "12 stale left" in again.output
    repaint = run("stylize", "--work", work, "--workers", "1", "--repaint-stale")
    assert repaint.exit_code == 0 and "12 stale ones repainted" in repaint.output
    assert run("verify", work).exit_code == 0
    assert run("shards", "--work", work, "--out", out).exit_code == 0
    for p in work.rglob("*.jpg"):
        with Image.open(p) as im:
            assert im.size == (48, 48), p


def test_a_changed_photo_makes_only_its_paintings_stale(built):
    tmp_path, photos, work = built
    Image.new("RGB", (90, 90), (200, 10, 10)).save(photos / "Cats" / "p1.png")
    assert run("sources", "--photos", photos, "--work", work).exit_code == 0
    packed = run("shards", "--work", work, "--out", tmp_path / "out")
    assert packed.exit_code == 1
    assert "2 stale paintings: Monet/Cats/2 (seed photo changed" in packed.output
    assert "Winter/Cats/2" in packed.output
    painted = json.loads((work / "Monet" / "Human" / "1.json").read_text())
    hint = f"canvas-build stylize --work {work} --styles Monet,Winter --objects Cats"
    hint += " --repaint-stale"
    assert f"run `{hint}` to repaint them" in packed.output
    repaint = run(*hint.split()[1:], "--workers", "1")
    assert repaint.exit_code == 0 and "stylized 2 images (2 stale ones repainted)" in repaint.output
    assert json.loads((work / "Monet" / "Human" / "1.json").read_text()) == painted


def test_shards_packs_the_styles_stylize_was_asked_for(built):
    tmp_path, _, work = built
    out = tmp_path / "out"
    result = run("shards", "--work", work, "--out", out)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert ", 0 missing," in lines[-1] and not any(li.startswith("missing") for li in lines)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["counts"]["train"]) == {"Seed_Images", "Monet", "Winter"}
    assert manifest["missing"] == []


def test_only_the_cells_asked_are_missing(tmp_path, built):
    _, _, work = built
    got = run("stylize", "--work", work, "--styles", "Van_Gogh", "--objects", "Cats")
    assert got.exit_code == 0, got.output
    (work / "Van_Gogh" / "Cats" / "2.jpg").unlink()
    result = run("shards", "--work", work, "--out", tmp_path / "out")
    assert result.exit_code == 0 and "missing 1 images: Van_Gogh/Cats/2" in result.output
    assert read_record(work).paintings["Van_Gogh"] == ["Cats"]


def test_stylize_with_another_recipe_refuses(built):
    tmp_path, _, work = built
    other = recipe_file(tmp_path / "other.yaml", resolution=40)
    result = run("stylize", "--work", work, "--recipe", other, "--workers", "1")
    assert result.exit_code == 1 and "stylize refused" in result.output
    assert "resolution 32 -> 40" in result.output and "sources --recipe" in result.output


def test_a_changed_style_chain_makes_its_paintings_stale(built):
    tmp_path, photos, work = built
    data = yaml.safe_load((work / "recipe.yaml").read_text())
    data["styles"]["Monet"]["procedural"] = [{"op": "posterize", "levels": 3}]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    result = run("sources", "--photos", photos, "--work", work, "--recipe", changed)
    assert result.exit_code == 1 and "recipe content" in result.output
    assert (
        run(
            "sources", "--photos", photos, "--work", work, "--recipe", changed, "--repaint-stale"
        ).exit_code
        == 0
    )
    checked = run("verify", work)
    assert checked.exit_code == 1 and "6 problems" in checked.output
    assert "Monet/Cats/1.jpg: stale, recipe or stylizer settings changed" in checked.output
    assert "Winter" not in checked.output


def test_a_damaged_record_is_one_line(built):
    tmp_path, _, work = built
    for text in ("{not json", '{"version": 1}', json.dumps({"recipe": 3})):
        (work / BUILD_FILE).write_text(text)
        with pytest.raises(InputError, match=f"^{work / BUILD_FILE}: not a build record"):
            read_record(work)
        result = run("shards", "--work", work, "--out", tmp_path / "out")
        assert result.exit_code == 1
        assert result.output.strip() == result.output.strip().splitlines()[0]
        assert result.output.startswith(f"Error: {work / BUILD_FILE}: not a build record")


def test_a_workspace_painted_before_records_still_packs_its_paintings(built):
    tmp_path, photos, work = built
    (work / BUILD_FILE).unlink()  # as a workspace made before build records
    assert run("sources", "--photos", photos, "--work", work).exit_code == 0
    assert read_record(work).paintings is None
    out = tmp_path / "out"
    result = run("shards", "--work", work, "--out", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"Monet", "Winter"} <= set(manifest["counts"]["train"])
    assert "missing 6 images: Van_Gogh/Cats/1" in result.output  # the recipe's styles, as before
