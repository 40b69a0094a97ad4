"""Every output location of every command is checked before any work: a file or a broken link
in the way, or a folder without write permission, ends the command at once with one line that
names the path that blocks (``canvas_data.out_paths.check_out``)."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from canvas_data.cli.build import main as build
from canvas_data.cli.eval import main as evaluate
from canvas_data.cli.train import main as train
from canvas_data.errors import one_line
from canvas_data.out_paths import check_out

OUTPUTS = {"--out", "--work", "--html", "--save-reference-stats"}
READ_ONLY = {("shards", "--work")}  # packing reads the workspace, writes --out


def output_options():
    """(group, command name, option) for every option of every command that names an output."""
    found = []
    for group in (build, train, evaluate):
        for name, command in group.commands.items():
            for param in command.params:
                for opt in set(param.opts) & OUTPUTS:
                    if (name, opt) not in READ_ONLY:
                        found.append(pytest.param(group, name, opt, id=f"{name} {opt}"))
    return found


def run(group, args):
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_the_commands_have_output_options():
    names = {p.values[1] for p in output_options()}
    assert {"sources", "demo", "export", "preview", "style", "evaluate"} <= names
    assert {"generate", "accuracy", "fid", "summarize", "profile", "storage"} <= names


@pytest.mark.parametrize(("group", "name", "opt"), output_options())
def test_a_file_in_the_way_stops_the_command_first(tmp_path, group, name, opt):
    (tmp_path / "afile").write_text("in the way")
    out = tmp_path / "afile" / "x" / "out.json"
    line = run(group, [name, opt, str(out)])  # all else missing: the output is checked first
    assert line == f"Error: {tmp_path / 'afile'}: is a file, not a folder", line
    assert (tmp_path / "afile").read_text() == "in the way"


@pytest.mark.parametrize(("group", "name", "opt"), output_options())
def test_a_broken_link_stops_the_command_first(tmp_path, group, name, opt):
    (tmp_path / "real").mkdir()
    link = tmp_path / "real" / "link"
    link.symlink_to(tmp_path / "gone")
    line = run(group, [name, opt, str(link / "out.json")])
    assert line.startswith(f"Error: {link}: is a broken link to "), line
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize("deeper", ["", "a", "a/b"])
def test_check_out_names_the_first_part_that_blocks(tmp_path, deeper):
    (tmp_path / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=f"^{tmp_path / 'f'}: is a file, not a folder$"):
        check_out(tmp_path / "f" / deeper)
    with pytest.raises(ValueError, match=f"^{tmp_path / 'link'}: is a broken link to "):
        check_out(tmp_path / "link" / deeper, file=True)


def test_check_out_takes_a_file_for_a_file_and_makes_nothing(tmp_path):
    (tmp_path / "f.json").write_text("{}")
    check_out(tmp_path / "f.json", file=True)
    check_out(tmp_path / "new" / "deeper")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_out(tmp_path / "f.json")


def test_a_link_loop_is_named_as_a_broken_link(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ValueError, match=f"^{tmp_path / 'a'}: is a broken link to "):
        check_out(tmp_path / "a" / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as caught:
            check_out(locked / "new" / "run")
        assert one_line(caught.value).startswith(f"{locked}: ")
        line = run(build, ["preview", "--out", str(locked / "p.jpg")])
        assert line.startswith(f"Error: {locked}: "), line
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("make", ["folder", "file"])
def test_real_failures_through_a_broken_link_name_the_link(tmp_path, make):
    """What the file system says (ENOENT, EEXIST) through a dangling link names the link."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone" / "target")
    with pytest.raises(OSError) as caught:
        if make == "folder":
            (link / "deep" / "er").mkdir(parents=True, exist_ok=True)
        else:
            (link / "x.json").write_text("{}")
    assert one_line(caught.value).startswith(f"{link}: is a broken link to "), caught.value


def test_a_missing_input_keeps_its_plain_reason(tmp_path):
    with pytest.raises(OSError) as caught:
        (tmp_path / "missing" / "x.json").read_text()
    assert one_line(caught.value) == f"{tmp_path / 'missing' / 'x.json'}: No such file or directory"


def test_the_demo_checks_its_derived_workspace_before_stage_one(tmp_path):
    """``--work`` defaults to OUT-work: a broken link there stops the demo before any stage."""
    from canvas_data.pipeline import run_demo

    (tmp_path / "uc-work").symlink_to(tmp_path / "gone")
    said = []
    with pytest.raises(ValueError, match=f"^{tmp_path / 'uc-work'}: is a broken link to "):
        run_demo(tmp_path / "uc", progress=False, echo=said.append)
    assert said == [] and sorted(p.name for p in tmp_path.iterdir()) == ["uc-work"]
