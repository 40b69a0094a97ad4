"""Recipe files built to exhaust the reader: YAML aliases that stand for billions of values
(a "billion laughs") and nesting deep enough to overflow the parser are refused at once with one
line naming the file, before anything checks, hashes or prints them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from canvas_data.cli.build import main
from canvas_data.recipe import load_recipe


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
