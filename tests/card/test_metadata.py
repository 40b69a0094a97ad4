"""The card's YAML header says what the recipe says: its licence as the Hub's identifier."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner
from conftest import packed_folder

from canvas_data.cli.build import main


def header(folder) -> dict:
    text = (folder / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_folder(tmp_path_factory.mktemp("card"))


@pytest.mark.parametrize(
    "declared, expected",
    [
        ("cc-by-4.0", "cc-by-4.0"),
        ("CC-BY-NC-SA-4.0", "cc-by-nc-sa-4.0"),
        ("Apache-2.0", "apache-2.0"),
        ("free for research, ask before other uses", "other"),
        ("MIT OR Apache-2.0", "other"),  # an expression, no single identifier
        (None, "other"),
    ],
)
def test_the_recipes_license_reaches_the_yaml_header(packed, tmp_path, declared, expected):
    recipe = yaml.safe_load((packed / "recipe.yaml").read_text())
    recipe.pop("license", None)
    if declared:
        recipe["license"] = declared
    path = tmp_path / "licensed.yaml"
    path.write_text(yaml.safe_dump(recipe))
    done = CliRunner().invoke(main, ["card", str(packed), "--recipe", str(path)])
    assert done.exit_code == 0, done.output
    assert header(packed)["license"] == expected
    if declared:  # and the text says the same terms
        assert declared in (packed / "README.md").read_text()
