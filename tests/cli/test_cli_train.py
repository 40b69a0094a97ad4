"""`canvas-train predict` and `evaluate` on the inputs a user gets wrong: an image among many that
cannot be read, a run folder whose training was interrupted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("transformers")

from transformers import TrainerCallback  # noqa: E402

from canvas_data.classify.classifier import ClassifierInfo, build_model, save_run  # noqa: E402
from canvas_data.cli.train import main  # noqa: E402

CLASSES = ["Monet", "Van_Gogh", "Seed_Images"]


@pytest.fixture
def run(tmp_path):
    torch.manual_seed(0)
    model = build_model("tiny", CLASSES, image_size=32)
    return save_run(model, ClassifierInfo(task="style", classes=CLASSES, image_size=32),
                    tmp_path / "run")  # fmt: skip


def test_predict_names_the_file_it_cannot_read_and_classifies_the_rest(tmp_path, run):
    rng = np.random.default_rng(0)
    good = []
    for i in range(3):
        path = tmp_path / f"good{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
        good.append(path)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    files = [good[0], bad, good[1], empty, good[2]]
    done = CliRunner().invoke(main, ["predict", str(run), *map(str, files), "--batch-size", "2"])
    assert done.exit_code == 1, done.output
    lines = done.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(p) for p in good]
    assert all(line.split("\t")[1] in CLASSES for line in lines)
    assert str(bad) in done.stderr and str(empty) in done.stderr
    assert "2 of 5 images could not be read" in done.stderr
    assert "Traceback" not in done.output


class StopAt(TrainerCallback):
    """Stops training after a given step, as a kill would (the last checkpoint stays)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


@pytest.mark.slow
def test_evaluate_on_an_interrupted_run_says_so_and_suggests_resume(tmp_path):
    from conftest import packed_folder

    from canvas_data.classify.train import train_classifier
    from canvas_data.classify.train_settings import TrainSettings, resolve_classes

    data = packed_folder(tmp_path)
    order, classes = resolve_classes("style", "built", data)
    settings = TrainSettings(task="style", classes=classes, order=order, backbone="tiny",
                             image_size=32, epochs=2, batch_size=4, eval_steps=1)  # fmt: skip
    cut = train_classifier(data, tmp_path / "cut", settings, callbacks=[StopAt(1)],
                           progress=False, echo=lambda *a: None)  # fmt: skip
    assert not cut.finished
    for args in (["evaluate", str(tmp_path / "cut"), "--data", str(data), "--workers", "0"],
                 ["predict", str(tmp_path / "cut"), str(data / "preview.jpg")]):  # fmt: skip
        done = CliRunner().invoke(main, args)
        assert done.exit_code == 1, done.output
        assert done.output.count("\n") == 1 and "has not finished" in done.output
        resume = f"canvas-train style --data {data} --out {tmp_path / 'cut'} --resume"
        assert resume in done.output
