"""Near-miss names get the closest valid name and the list of valid ones, wherever given."""

from __future__ import annotations

from click.testing import CliRunner
from conftest import error_line

from canvas_data.cli.build import main


def test_unknown_styles_and_objects_on_the_command_line(tiny_work, tmp_path):
    run = CliRunner().invoke
    base = ["stylize", "--work", str(tiny_work), "--no-progress"]
    line = error_line(run(main, [*base, "--styles", "Monnet,Winter"]))
    assert "unknown style names ['Monnet'] (did you mean 'Monet'?)" in line
    assert "valid styles: Monet, Pencil_Drawing, Van_Gogh, Winter" in line
    line = error_line(run(main, [*base, "--objects", "Cat"]))
    assert "unknown object names ['Cat'] (did you mean 'Cats'?); valid objects: Cats, Human" in line
    out = tmp_path / "out"
    args = ["shards", "--work", str(tiny_work), "--out", str(out), "--styles", "van gogh"]
    line = error_line(run(main, args))
    assert "(did you mean 'Van_Gogh'?)" in line and "valid styles: Abstractionism" in line
