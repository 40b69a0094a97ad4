"""A training run killed or out of disk space while saving a checkpoint: ``--resume`` sets the
incomplete checkpoint aside (saying so) and goes on from the one before; a full disk is one line
naming the checkpoint folder."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

pytest.importorskip("transformers")

from transformers import TrainerCallback  # noqa: E402

from canvas_data.classify.train import train_classifier  # noqa: E402
from canvas_data.classify.train_checkpoints import (  # noqa: E402
    COMPLETE,
    last_checkpoint,
    resume_checkpoint,
)
from canvas_data.classify.train_settings import TrainSettings, resolve_classes  # noqa: E402
from canvas_data.errors import one_line  # noqa: E402
from canvas_data.pipeline import run_demo  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
QUIET = {"progress": False, "echo": lambda *a: None}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    recipe = root / "two.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "extends": "demo",
                "name": "two",
                "build": {"styles": ["Monet", "Van_Gogh"], "resolution": 64, "min_photo_side": 32},
            }
        )
    )
    done = run_demo(root / "uc", recipe=recipe, workers=1, progress=False, echo=lambda *a: None)
    assert done.ok
    return done.out


def settings(data, **changes):
    order, classes = resolve_classes("style", "built", data)
    options = {"task": "style", "classes": classes, "order": order, "backbone": "tiny",
               "image_size": 32, "epochs": 2, "batch_size": 16, "eval_steps": 2}  # fmt: skip
    return TrainSettings(**(options | changes))


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


@pytest.fixture(scope="module")
def cut(build, tmp_path_factory):
    """A run stopped after step 5: whole checkpoints at steps 2 and 4."""
    run = tmp_path_factory.mktemp("cut") / "run"
    done = train_classifier(build, run, settings(build), callbacks=[StopAt(5)], **QUIET)
    assert not done.finished
    newest = last_checkpoint(run)
    assert newest.name == "checkpoint-4" and (newest / COMPLETE).is_file()
    return run


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {  # what a kill leaves, at several moments of a save
    "empty folder": lambda c: [p.unlink() for p in c.iterdir()],
    "no trainer state": lambda c: (c / "trainer_state.json").unlink(),
    "optimizer cut short": lambda c: truncate(c / "optimizer.pt"),
    "weights cut short": lambda c: truncate(c / "model.safetensors"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_resume_sets_an_incomplete_checkpoint_aside(build, cut, tmp_path, kind):
    run = shutil.copytree(cut, tmp_path / "run")
    partial = run / "checkpoints" / "checkpoint-6"  # a later save, killed half-way
    shutil.copytree(run / "checkpoints" / "checkpoint-4", partial)
    (partial / COMPLETE).unlink()
    DAMAGE[kind](partial)
    said = []
    assert resume_checkpoint(run, said.append).name == "checkpoint-4"
    assert "checkpoint-6: incomplete" in said[0] and "set aside" in said[0]
    assert (run / "checkpoints" / "incomplete-checkpoint-6").is_dir()
    resumed = train_classifier(build, run, settings(build), resume=True, **QUIET)
    assert resumed.finished and (run / "model.safetensors").is_file()


def test_a_damaged_checkpoint_marked_whole_is_still_an_error(cut, tmp_path):
    run = shutil.copytree(cut, tmp_path / "run")
    truncate(run / "checkpoints" / "checkpoint-4" / "optimizer.pt")
    with pytest.raises(ValueError, match="optimizer.pt"):
        resume_checkpoint(run, print)


KILL = """
import os, signal, sys, torch
from pathlib import Path
import test_train_checkpoints as t

real, calls = torch.save, [0]
def save(obj, f, *a, **k):  # the second file of the second checkpoint: written half, then killed
    calls[0] += 1
    if calls[0] == int(sys.argv[3]):
        real(obj, f, *a, **k)
        Path(f).write_bytes(Path(f).read_bytes()[:100])
        os.kill(os.getpid(), getattr(signal, sys.argv[4]))
    return real(obj, f, *a, **k)
torch.save = save
torch.set_num_threads(1)
data = Path(sys.argv[1])
t.train_classifier(data, Path(sys.argv[2]), t.settings(data), **t.QUIET)
"""


@pytest.mark.slow
@pytest.mark.parametrize("signal_name, call", [("SIGKILL", 4), ("SIGKILL", 5), ("SIGTERM", 4)])
def test_a_run_killed_while_saving_resumes(build, tmp_path, signal_name, call):
    run = tmp_path / "run"
    here = str(__import__("pathlib").Path(__file__).parent)
    killed = subprocess.run(
        [sys.executable, "-c", KILL, str(build), str(run), str(call), signal_name],
        cwd=here, env={**__import__("os").environ, "PYTHONPATH": here}, timeout=600,
        capture_output=True, text=True,
    )  # fmt: skip
    assert killed.returncode < 0, killed.stderr[-2000:]
    said = []
    resumed = train_classifier(build, run, settings(build), resume=True, progress=False,
                               echo=said.append)  # fmt: skip
    assert resumed.finished
    assert any("incomplete" in line for line in said), said


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0"
                     " PytorchStreamWriter failed writing file data/0: file write failed"),
    ],
    ids=["ENOSPC", "EDQUOT", "torch"],
)  # fmt: skip
def test_a_full_disk_while_saving_is_one_line_naming_the_checkpoint(
    build, tmp_path, monkeypatch, failure
):
    def full(*args, **kwargs):
        raise failure

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError) as err:
        train_classifier(build, tmp_path / "run", settings(build), **QUIET)
    line = one_line(err.value)
    assert "checkpoint-2" in line and "\n" not in line, line
    monkeypatch.undo()
    resumed = train_classifier(build, tmp_path / "run", settings(build), resume=True, **QUIET)
    assert resumed.finished


@pytest.mark.parametrize("name", ["optimizer.pt", "rng_state.pth", "scheduler.pt"])
def test_a_file_the_weights_only_loader_refuses_is_one_line_naming_it(build, cut, tmp_path, name):
    import functools

    run = shutil.copytree(cut, tmp_path / "run")
    path = run / "checkpoints" / "checkpoint-4" / name
    torch.save({"state": functools.partial(print, "pwned")}, path)
    with pytest.raises(ValueError) as err:
        train_classifier(build, run, settings(build), resume=True, **QUIET)
    line = one_line(err.value)
    assert str(path) in line and "weights-only" in line and len(line) < 400, line
