"""A dangling symbolic link where an output folder goes: each command says so in one line that
names the link, not "File exists" or "No such file or directory"."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import painted_workspace

from canvas_data.cli.build import main as build
from canvas_data.cli.train import main as train
from canvas_data.pipeline import pack_dataset


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack-links")
    work, recipe = painted_workspace(root)
    pack_dataset(work, root / "uc", recipe=recipe, progress=False)
    return root


def one_line(command, args):
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def commands(root, out):
    return {
        "shards": (build, ["shards", "--work", str(root / "work"), "--out", out, "--no-progress"]),
        "export": (build, ["export", str(root / "uc"), "--out", out, "--no-progress"]),
        "preview": (build, ["preview", str(root / "uc"), "--out", f"{out}/p.jpg"]),
        "train": (
            train,
            [
                "style",
                "--data",
                str(root / "uc"),
                "--model",
                "tiny",
                "--epochs",
                "0.1",
                "--out",
                out,
                "--no-progress",
            ],
        ),  # fmt: skip
    }


@pytest.mark.parametrize("deeper", [False, True])
@pytest.mark.parametrize("command", ["shards", "export", "preview", "train"])
def test_a_dangling_link_in_the_out_path_is_named_as_such(built, tmp_path, command, deeper):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone" / "target")
    out = str(link / "x") if deeper else str(link)
    main, args = commands(built, out)[command]
    line = one_line(main, args)
    assert line.startswith(f"Error: {link}:"), line
    assert "File exists" not in line and "No such file" not in line, line
    assert "link" in line, line
