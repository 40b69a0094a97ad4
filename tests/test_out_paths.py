"""Every output location of every command is checked before any work: a file or a broken link
in the way, or a folder without write permission, ends the command at once with one line that
names the path that blocks (``canvas_data.out_paths.check_out``)."""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner

from canvas_data.atomic import PARTIAL
from canvas_data.cli.build import main
from canvas_data.cli.build import main as build
from canvas_data.cli.eval import main as evaluate
from canvas_data.cli.train import main as train
from canvas_data.errors import one_line
from canvas_data.out_paths import check_out
from canvas_data.pipeline import pack_dataset

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


# Output folders that overlap what a command reads: packing into the workspace, exporting into
# the packed folder (also through a symlink) are refused before anything is written; a pack whose
# --out holds a workspace being painted leaves that workspace's files in progress alone.


@pytest.fixture(scope="module")
def built(tiny_packed):
    """The folder that holds the shared tiny workspace (``work``) and its packed folder (``uc``)."""
    return tiny_packed.parent


def snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def one_line_error(args):
    result = CliRunner().invoke(main, [*args, "--no-progress"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], result.output
    return lines[0]


@pytest.mark.parametrize("out", [".", "sub", "sub/deeper"])
def test_shards_refuses_an_out_folder_in_the_workspace(built, tmp_path, out):
    work = shutil.copytree(built / "work", tmp_path / "work")
    before = snapshot(work)
    line = one_line_error(["shards", "--work", str(work), "--out", str(work / out)])
    assert "--out" in line and "--work" in line
    assert snapshot(work) == before


@pytest.mark.parametrize("out", [".", "data", "Cartoon"])
def test_export_refuses_an_out_folder_in_the_packed_folder(built, tmp_path, out):
    packed = shutil.copytree(built / "uc", tmp_path / "uc")
    link = tmp_path / "link"
    link.symlink_to(packed)
    before = snapshot(packed)
    for target in (packed / out, link / out):
        line = one_line_error(["export", str(packed), "--out", str(target)])
        assert "packed folder" in line
    assert snapshot(packed) == before


def test_a_pack_leaves_the_partial_files_of_a_workspace_under_its_out_folder(built, tmp_path):
    """``--out .`` with the workspace a sub-folder: a painter's file in progress survives."""
    root = tmp_path / "root"
    work = shutil.copytree(built / "work", root / "work")
    cell = next(p for p in work.iterdir() if p.is_dir() and p.name != "Seed_Images")
    obj = next(p for p in cell.iterdir() if p.is_dir())
    in_progress = obj / f".99.jpg{PARTIAL}{os.getpid()}"  # a live writer: this process
    in_progress.write_bytes(b"half a jpeg")

    pack_dataset(work, root, progress=False)

    assert in_progress.read_bytes() == b"half a jpeg"
    assert (root / "manifest.json").is_file()


# A dangling symbolic link where an output folder goes: each command says so in one line that
# names the link, not "File exists" or "No such file or directory".


@pytest.fixture(scope="module")
def built_dangling(tiny_packed):
    return tiny_packed.parent


def error_line(command, args):
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
def test_a_dangling_link_in_the_out_path_is_named_as_such(
    built_dangling, tmp_path, command, deeper
):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone" / "target")
    out = str(link / "x") if deeper else str(link)
    main, args = commands(built_dangling, out)[command]
    line = error_line(main, args)
    assert line.startswith(f"Error: {link}:"), line
    assert "File exists" not in line and "No such file" not in line, line
    assert "link" in line, line
