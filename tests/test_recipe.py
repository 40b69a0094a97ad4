from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from canvas_data.cli.build import main
from canvas_data.recipe import builtin_recipes, load_recipe, workspace_recipe
from canvas_data.taxonomy import OBJECTS_20, STYLES_60, STYLES_61


def test_full_recipe_is_the_release():
    r = load_recipe("unlearncanvas")
    assert r.styles == STYLES_60
    assert r.objects == OBJECTS_20
    assert r.taxonomy.styles == STYLES_61
    assert (r.photos_per_object, r.resolution, r.test_per_object) == (20, 1024, 2)


def test_every_style_has_a_prompt_and_a_cpu_chain():
    r = load_recipe("unlearncanvas")
    for name in STYLES_60:
        spec = r.style(name)
        assert len(spec.prompt.split()) >= 5, name
        assert spec.procedural, name


def test_demo_extends_the_full_recipe():
    demo, full = load_recipe("demo"), load_recipe("unlearncanvas")
    assert builtin_recipes() == ["demo", "unlearncanvas"]
    assert demo.styles == STYLES_60
    assert demo.resolution == 512 and set(demo.objects) < set(OBJECTS_20)
    assert demo.style("Van_Gogh") == full.style("Van_Gogh")
    assert demo.sha256 != full.sha256


def test_split_is_by_photo_and_keeps_18_2():
    r = load_recipe("unlearncanvas")
    photos = list(range(1, 21))
    assert [r.split_of(i, photos) for i in photos] == ["train"] * 18 + ["test"] * 2
    assert r.split_of(1, [1]) == "train"  # a lone photo is never all test


def test_custom_taxonomy_without_code(tmp_path):
    path = tmp_path / "cars.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "taxonomy": {"styles": ["Seed_Images", "Glitch"], "objects": ["Cars", "Boats"]},
                "styles": {"Glitch": {"prompt": "glitch art", "procedural": [{"op": "invert"}]}},
            }
        )
    )
    r = load_recipe(path)
    assert r.styles == ("Glitch",) and r.objects == ("Cars", "Boats")


def test_bad_recipes_say_why(tmp_path):
    with pytest.raises(FileNotFoundError, match="no recipe 'nope'"):
        load_recipe("nope")
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"extends": "demo", "build": {"objects": ["Unicorns"]}}))
    with pytest.raises(ValueError, match="Unicorns"):
        _ = load_recipe(path).objects


def test_workspace_keeps_its_recipe(tiny_work, tiny_recipe):
    assert workspace_recipe(tiny_work).sha256 == tiny_recipe.sha256
    assert workspace_recipe(tiny_work / "elsewhere").name == "unlearncanvas"


def test_recipes_found_after_a_plain_install(tmp_path):
    """Recipes and card templates are package data, not files of the source tree; every module
    of the source tree is installed."""
    repo = __import__("pathlib").Path(__file__).resolve().parents[1]
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(repo)],
        check=True, capture_output=True,
    )  # fmt: skip
    code = (
        "import canvas_data, canvas_data.recipe as r, importlib.resources as ir;"
        "assert 'site' in canvas_data.__file__, canvas_data.__file__;"
        "print(r.builtin_recipes(), len(r.load_recipe('demo').styles),"
        " ir.files('canvas_data.cards').joinpath('unlearncanvas.md').is_file())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target)},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert out.stdout.strip() == "['demo', 'unlearncanvas'] 60 True"
    # every module of every sub-package is installed (setup.cfg lists the packages)
    source = {p.relative_to(repo) for p in (repo / "canvas_data").rglob("*.py")}
    installed = {p.relative_to(target) for p in (target / "canvas_data").rglob("*.py")}
    assert source <= installed, sorted(map(str, source - installed))


@pytest.mark.parametrize("typo, hint", [("demoo", "did you mean 'demo'?"), ("./bse.yaml", "bse")])
def test_an_extends_typo_names_the_key_and_the_file(tmp_path, typo, hint):
    (tmp_path / "base.yaml").write_text("extends: demo\n")
    path = tmp_path / "mine.yaml"
    path.write_text(f"extends: {typo}\nname: mine\n")
    with pytest.raises(ValueError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert message.startswith(f"recipe {path}: extends: no recipe {typo!r}")
    assert hint in message and "\n" not in message


def test_an_extends_typo_in_a_parent_names_the_parent(tmp_path):
    (tmp_path / "base.yaml").write_text("extends: unlearncanvs\n")
    (tmp_path / "mine.yaml").write_text(f"extends: {tmp_path / 'base.yaml'}\n")
    with pytest.raises(ValueError, match=r"recipe .*base\.yaml: extends: no recipe 'unlearncanvs'"):
        load_recipe(tmp_path / "mine.yaml")


# Recipe files built to exhaust the reader: YAML aliases that stand for billions of values
# (a "billion laughs") and nesting deep enough to overflow the parser are refused at once with one
# line naming the file, before anything checks, hashes or prints them.


def billion_laughs(where: str) -> str:
    """A recipe whose ``where`` (``key`` or ``key.sub``) holds 9**10 strings in 11 lines."""
    head, _, sub = where.partition(".")
    indent = "  " if sub else ""
    lines = ["extends: unlearncanvas", f"{head}:"] if sub else ["extends: unlearncanvas"]
    lines.append(f'{indent}{sub or head}0: &l0 ["x","x","x","x","x","x","x","x","x"]')
    for level in range(1, 11):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"{indent}{sub or head}{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["responsible_ai.field", "styles.Abstractionism", "build.x"])
def test_an_alias_bomb_is_refused_naming_the_file(tmp_path, where):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(where))
    with pytest.raises(ValueError, match=rf"recipe {path}: more than \d+ values .*aliases"):
        load_recipe(path)


def test_an_alias_bomb_stops_the_command_with_one_line(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs("responsible_ai.field"))
    photos = tmp_path / "photos" / "Cats"
    photos.mkdir(parents=True)
    args = ["sources", "--photos", str(photos.parent), "--work", str(tmp_path / "w")]
    result = CliRunner().invoke(main, [*args, "--recipe", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and str(path) in result.output


@pytest.mark.parametrize("text", ["a: " + "[" * 5000 + "]" * 5000, "a:\n" + "- " * 3000 + "x"])
def test_nesting_deeper_than_any_recipe_is_one_line(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ValueError, match=rf"recipe {path}: .*(nested|deep)"):
        load_recipe(path)


def test_the_built_in_recipes_are_well_inside_the_limits():
    assert load_recipe("unlearncanvas").styles
    assert load_recipe("demo").styles
