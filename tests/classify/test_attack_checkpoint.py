"""A release checkpoint that is some other file under a checkpoint's name (text named
``.safetensors``, a pickle of another protocol, a zip that is no checkpoint) stops
``canvas-train import-release`` with exactly one line naming the file: no parser's own message
without the file, no warning lines from torch."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from canvas_data.cli.train import main


def text_as_safetensors(path):
    path.write_text("this is not a safetensors file\n")


def pickle_protocol_4(path):
    path.write_bytes(pickle.dumps({"model_state_dict": {"a": 1}}, protocol=4))


def plain_zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("model.safetensors", text_as_safetensors),
        ("vit.pth", pickle_protocol_4),
        ("vit.pt", plain_zip),
        ("empty.safetensors", lambda p: p.write_bytes(b"")),
    ],
)
def test_a_checkpoint_that_is_another_file_is_one_line_naming_it(tmp_path, name, make, recwarn):
    path = tmp_path / name
    make(path)
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["import-release", str(path), "--task", "style", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: {path}: ") and "internal error" not in lines[0]
    assert not out.exists() or not any(out.rglob("*.safetensors"))
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]


def test_a_checkpoint_path_that_is_a_device_says_so(tmp_path):
    path = Path("/dev/null")
    result = CliRunner().invoke(
        main, ["import-release", str(path), "--task", "style", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}: not a checkpoint file (a folder or a device)"
