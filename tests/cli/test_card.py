"""`canvas-build preview`: the file it writes is in the format its name says, and where no --out
is given it goes beside the packed folder, never over a file that is there."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import packed_folder
from PIL import Image

from canvas_data.cli.build import main


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_folder(tmp_path_factory.mktemp("preview"))


@pytest.mark.parametrize("name, fmt", [("p.png", "PNG"), ("p.jpg", "JPEG"), ("p.webp", "WEBP")])
def test_the_suffix_chooses_the_format(packed, tmp_path, name, fmt):
    done = CliRunner().invoke(main, ["preview", str(packed), "--out", str(tmp_path / name)])
    assert done.exit_code == 0, done.output
    with Image.open(tmp_path / name) as im:
        assert im.format == fmt


@pytest.mark.parametrize("name", ["p.xyz", "p"])
def test_a_suffix_with_no_image_format_is_refused_before_any_work(packed, tmp_path, name):
    done = CliRunner().invoke(main, ["preview", str(packed), "--out", str(tmp_path / name)])
    assert done.exit_code == 2 and "name the file .jpg, .png or .webp" in done.output
    assert not (tmp_path / name).exists()


def test_without_out_it_writes_beside_the_folder_never_over_a_file(packed, tmp_path, monkeypatch):
    runner = CliRunner()
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    done = runner.invoke(main, ["preview", str(packed)])
    assert done.exit_code == 0, done.output
    beside = packed.parent / f"{packed.name}-preview.jpg"
    assert f"wrote {beside}" in done.output
    with Image.open(beside) as im:
        assert im.format == "JPEG"
    assert list(here.iterdir()) == []  # nothing in the cwd
    again = runner.invoke(main, ["preview", str(packed)])
    assert again.exit_code == 1 and again.output.count("\n") == 1
    assert f"{beside}: exists; pass --out {beside} to replace it" in again.output
    beside.unlink()
