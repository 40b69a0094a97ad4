"""A release checkpoint that is some other file under a checkpoint's name (text named
``.safetensors``, a pickle of another protocol, a zip that is no checkpoint) stops
``canvas-train import-release`` with exactly one line naming the file: no parser's own message
without the file, no warning lines from torch. The line says what the file is not: empty, neither
a zip archive nor a pickle, another pickle or zip, cut short, not a regular file (a FIFO, a
device)."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

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


def import_release(path, out):
    return CliRunner().invoke(
        main, ["import-release", str(path), "--task", "style", "--out", str(out)]
    )


STATE = {"model_state_dict": {"cls_token": torch.zeros(1, 1, 8)}}


def torch_zip_cut_short(path):
    torch.save(STATE, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def legacy_cut_after_magic_number(path):
    torch.save(STATE, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes()[:15])  # the magic number's pickle, then nothing


NOT_CHECKPOINT = "not a PyTorch checkpoint"
NEITHER = f"{NOT_CHECKPOINT} (neither a zip archive nor a pickle)"
OTHER_PICKLE = f"{NOT_CHECKPOINT} (a pickle, but not one that torch.save wrote)"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), f"{NOT_CHECKPOINT}: empty file"),
        (lambda p: p.write_text("this is a text file\n"), NEITHER),
        (lambda p: p.write_text('{"model_state_dict": {}}'), NEITHER),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), NEITHER),
        (lambda p: p.write_bytes(b"\x1f\x8b\x08\x00" + bytes(64)), NEITHER),  # gzip
        (
            lambda p: p.write_bytes(pickle.dumps(STATE["model_state_dict"], protocol=0)),
            OTHER_PICKLE,
        ),
        (lambda p: p.write_bytes(pickle.dumps({"a": [1, 2]}, protocol=5)), OTHER_PICKLE),
        (lambda p: p.write_bytes(b"\x80\x02"), OTHER_PICKLE),
        (plain_zip, f"{NOT_CHECKPOINT} (a zip archive without the data.pkl torch.save writes)"),
        (torch_zip_cut_short, f"{NOT_CHECKPOINT} (a damaged or cut-short zip archive: "),
        (lambda p: save_file({"w": torch.zeros(2)}, p), f"{NOT_CHECKPOINT} (a safetensors file"),
        (legacy_cut_after_magic_number, "a PyTorch checkpoint cut short (the file ends early)"),
    ],
)
def test_the_line_says_what_the_file_is_not(tmp_path, make, reason, recwarn):
    path = tmp_path / "vit.pth"
    make(path)
    result = import_release(path, tmp_path / "run")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: {reason}"), result.output
    assert not (tmp_path / "run").exists()
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]


def test_a_checkpoint_path_that_is_a_device_says_so(tmp_path):
    path = Path("/dev/null")
    result = import_release(path, tmp_path / "run")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}: not a regular file (a character device)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("via_link", [False, True])
def test_a_fifo_is_named_as_one_and_never_opened(tmp_path, via_link):
    fifo = tmp_path / "vit.pth"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    path = fifo
    if via_link:
        path = tmp_path / "link.pth"
        path.symlink_to(fifo)
    result = import_release(path, tmp_path / "run")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}: not a regular file (a FIFO)"
