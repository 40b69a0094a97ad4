"""`canvas-eval profile` and `storage` without --out: the record goes beside the input (storage)
or in the working directory (profile), and never over a file that is there."""

from __future__ import annotations

import json
import sys

import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from canvas_data.cli.eval import main


def test_storage_writes_beside_the_unlearned_weights_and_never_over_a_file(tmp_path, monkeypatch):
    method = tmp_path / "results" / "ESD"
    method.mkdir(parents=True)
    base, unlearned = tmp_path / "base.safetensors", method / "unet.safetensors"
    save_file({"w": torch.zeros(4), "b": torch.zeros(2)}, str(base))
    save_file({"w": torch.ones(4), "b": torch.zeros(2)}, str(unlearned))
    runner = CliRunner()
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    args = ["storage", "--base", str(base), "--unlearned", str(unlearned)]
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    record = json.loads((method / "storage.json").read_text())
    assert record["changed_tensors"] == 1
    assert not list(here.iterdir())
    again = runner.invoke(main, args)
    assert again.exit_code == 1 and "storage.json: exists; pass --out" in again.output
    assert json.loads((method / "storage.json").read_text()) == record


def test_profile_never_writes_over_a_record_in_the_working_directory(tmp_path, monkeypatch):
    runner = CliRunner()
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    earlier = here / "profile.json"
    earlier.write_text('{"earlier": true}')
    marker = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    done = runner.invoke(main, ["profile", "--", *command])
    assert done.exit_code == 1 and "profile.json: exists; pass --out" in done.output
    assert not marker.exists()  # refused before the command ran
    assert json.loads(earlier.read_text()) == {"earlier": True}
