"""Folders whose path holds glob characters: ``datasets`` cannot load them (its issue #7468),
so ``shards`` and ``verify`` say so in one line and the card warns; our loaders still read them."""

import shutil

import pytest
from click.testing import CliRunner
from conftest import painted_workspace
from datasets import load_dataset
from datasets.exceptions import DataFilesNotFoundError
from torch.utils.data import DataLoader

from canvas_data.card.loading import load_path_warning
from canvas_data.cli.build import main
from canvas_data.loading.loaders import style_classification


@pytest.fixture(scope="module")
def bracket_build(tmp_path_factory):
    """A tiny build packed by the CLI into ``runs[1]/uc``, and its workspace."""
    root = tmp_path_factory.mktemp("glob")
    work, _ = painted_workspace(root)
    out = root / "runs[1]" / "uc"
    result = CliRunner().invoke(
        main, ["shards", "--work", str(work), "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    return out, work, result


def warnings_in(output):
    return [line for line in output.splitlines() if line.startswith("warning:")]


def test_shards_warns_in_one_line(bracket_build):
    out, _, result = bracket_build
    (line,) = warnings_in(result.output)
    assert str(out.resolve()) in line
    assert "[" in line and "issues/7468" in line and "move it" in line


def test_verify_warns_and_still_passes(bracket_build):
    out, _, _ = bracket_build
    result = CliRunner().invoke(main, ["verify", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(warnings_in(result.output)) == 1


def test_the_warning_is_about_a_real_failure(bracket_build, tmp_path):
    out, _, _ = bracket_build
    with pytest.raises(DataFilesNotFoundError):
        load_dataset(str(out), cache_dir=str(tmp_path / "hf"))


def test_a_plain_path_gets_no_warning_and_loads(bracket_build, tmp_path):
    out, _, _ = bracket_build
    plain = tmp_path / "runs-1" / "uc"
    shutil.copytree(out, plain)
    result = CliRunner().invoke(main, ["verify", str(plain), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert warnings_in(result.output) == []
    assert len(load_dataset(str(plain), split="train", cache_dir=str(tmp_path / "hf")))


@pytest.mark.parametrize(("name", "chars"), [("a*b", "*"), ("a?b", "?"), ("x[y", "[")])
def test_every_glob_character_is_named(tmp_path, name, chars):
    warning = load_path_warning(tmp_path / name / "uc")
    assert warning is not None and f"characters {chars} " in warning
    assert load_path_warning(tmp_path / "a]b{1,2}" / "uc") is None  # not glob magic for datasets


def test_the_card_says_so(bracket_build):
    out, _, _ = bracket_build
    assert (
        "cannot load a folder whose path holds `[`, `*` or `?`" in (out / "README.md").read_text()
    )


@pytest.mark.parametrize("streaming", [False, True])
def test_our_loaders_read_such_a_folder(bracket_build, streaming):
    out, _, _ = bracket_build
    ds = style_classification(out, streaming=streaming, transform=None)
    keys = [ex["key"] for ex in DataLoader(ds, batch_size=None)]
    assert len(keys) > 0
