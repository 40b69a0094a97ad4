import pytest
from click.testing import CliRunner

from canvas_data.cli.build import main

COMMANDS = ["sources", "stylize", "shards", "verify", "demo", "recipes"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage: main" in result.output or "Usage: canvas-build" in result.output
    assert len(result.output.splitlines()) > 5


def test_top_level_help_lists_the_stages():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_recipes_lists_the_builtins():
    result = CliRunner().invoke(main, ["recipes"])
    assert result.exit_code == 0
    assert (
        "demo" in result.output and "60 styles x 20 objects x 20 photos at 1024 px" in result.output
    )


def test_bad_recipe_is_a_one_line_error(tmp_path):
    (tmp_path / "photos").mkdir()
    args = ["sources", "--photos", str(tmp_path / "photos"), "--work", str(tmp_path / "w")]
    result = CliRunner().invoke(main, [*args, "--recipe", "nope"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no recipe 'nope'")
    assert len(result.output.strip().splitlines()) == 1


def test_verify_of_a_folder_without_manifest_fails(tmp_path):
    result = CliRunner().invoke(main, ["verify", str(tmp_path), "--no-progress"])
    assert result.exit_code == 1 and "manifest.json: missing" in result.output


def test_stylize_a_missing_workspace_says_so(tmp_path):
    result = CliRunner().invoke(
        main, ["shards", "--work", str(tmp_path), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1 and "no images" in result.output
