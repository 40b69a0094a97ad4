"""`canvas-train`: a tiny ViT learns the CPU stylizer's styles on a small build, a resumed run is
the same run, and the run folder has everything a user needs."""

import json

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

pytest.importorskip("transformers")

from safetensors.torch import load_file  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from canvas_data.classify.classifier import load_classifier  # noqa: E402
from canvas_data.classify.train import train_classifier  # noqa: E402
from canvas_data.classify.train_checkpoints import last_checkpoint  # noqa: E402
from canvas_data.classify.train_settings import TrainSettings, resolve_classes  # noqa: E402
from canvas_data.cli.train import main  # noqa: E402
from canvas_data.pipeline import run_demo  # noqa: E402
from canvas_data.taxonomy import OBJECTS_20, STYLES_51, STYLES_61  # noqa: E402

# a demo build, then training: slow
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

STYLES = [
    "Monet",
    "Pencil_Drawing",
    "Van_Gogh",
    "Winter",
    "Pop_Art",
    "Mosaic",
    "Neon_Lines",
    "Ukiyoe",
    "Watercolor",
    "Cubism",
]
OBJECTS = ["Architectures", "Cats", "Flowers", "Human", "Towers"]
QUICK = [
    "--model",
    "tiny",
    "--image-size",
    "64",
    "--batch-size",
    "16",
    "--workers",
    "0",
    "--no-progress",
]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """The demo's bundled photos in 10 styles at 128 px: 165 train and 55 test images."""
    root = tmp_path_factory.mktemp("train")
    recipe = root / "small.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "extends": "demo",
                "name": "small",
                "build": {"styles": STYLES, "resolution": 128, "min_photo_side": 64},
            }
        )
    )
    done = run_demo(root / "uc", recipe=recipe, workers=1, progress=False, echo=lambda *a: None)
    assert done.ok
    return done


def train(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_a_tiny_vit_learns_the_styles(build, tmp_path):
    out = tmp_path / "run"
    result = train(
        [
            "style",
            "--data",
            str(build.out),
            "--out",
            str(out),
            "--styles",
            "built",
            "--epochs",
            "10",
            *QUICK,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "11 classes" in result.output.splitlines()[-1]
    for name in (
        "model.safetensors",
        "config.json",
        "classes.json",
        "metrics.json",
        "confusion.png",
        "train.json",
    ):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["n"] == 55
    # 11 classes (chance: 9%); measured 78.2% with these settings (80.0% on two threads).
    assert metrics["top1"] >= 0.6
    assert sum(c["n"] for c in metrics["per_class"].values()) == 55
    assert metrics["training"]["global_step"] == 110
    assert metrics["training"]["best_accuracy"] == pytest.approx(metrics["top1"])
    # The saved model says the same, image by image, through the Python API.
    clf = load_classifier(out, device="cpu")
    assert clf.info.image_size == 64 and "Seed_Images" in clf.classes
    test = [(s, o) for s in clf.classes for o in OBJECTS]
    found = clf.predict([build.work / s / o / "4.jpg" for s, o in test], batch_size=16)
    hits = np.mean([label == s for label, (s, _) in zip(found.labels, test, strict=True)])
    assert hits == pytest.approx(metrics["top1"])
    # evaluate writes the same figures again
    again = tmp_path / "again"
    result = train(
        [
            "evaluate",
            str(out),
            "--data",
            str(build.out),
            "--out",
            str(again),
            "--workers",
            "0",
            "--no-progress",
        ]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((again / "metrics.json").read_text())["top1"] == metrics["top1"]
    result = train(["predict", str(out), str(build.work / "Monet/Cats/4.jpg"), "--top", "2"])
    assert result.exit_code == 0 and len(result.output.strip().split("\t")) == 5


class StopAt(TrainerCallback):
    """Stops training after a given step, as a kill would (the last checkpoint stays)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def settings(build, **changes):
    order, classes = resolve_classes("style", "built", build.out)
    options = {
        "task": "style",
        "classes": classes,
        "order": order,
        "backbone": "tiny",
        "image_size": 32,
        "epochs": 3,
        "batch_size": 16,
        "eval_steps": 4,
    } | changes
    return TrainSettings(**options)


def test_resume_continues_the_same_run(build, tmp_path):
    quiet = {"progress": False, "echo": lambda *a: None}
    whole = train_classifier(build.out, tmp_path / "whole", settings(build), **quiet)
    assert whole.finished and whole.global_step == 33  # 11 steps per epoch
    cut = train_classifier(
        build.out, tmp_path / "cut", settings(build), callbacks=[StopAt(14)], **quiet
    )
    assert not cut.finished and cut.global_step == 14
    assert not (tmp_path / "cut/model.safetensors").exists()
    assert last_checkpoint(tmp_path / "cut").name == "checkpoint-12"  # in the second epoch
    with pytest.raises(ValueError, match="lr: None -> 0.01"):
        train_classifier(
            build.out, tmp_path / "cut", settings(build, lr=0.01), resume=True, **quiet
        )
    with pytest.raises(ValueError, match="holds a training run already"):
        train_classifier(build.out, tmp_path / "cut", settings(build), **quiet)
    resumed = train_classifier(
        build.out, tmp_path / "cut", settings(build, workers=1), resume=True, **quiet
    )
    assert resumed.finished and resumed.global_step == 33
    a = load_file(tmp_path / "whole/model.safetensors")
    b = load_file(tmp_path / "cut/model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.evaluation.top1 == whole.evaluation.top1
    history = json.loads((tmp_path / "cut/metrics.json").read_text())["training"]["evaluations"]
    steps = [e["step"] for e in history]  # each evaluation once, resumed or not
    assert steps[:8] == [4, 8, 12, 16, 20, 24, 28, 32] and len(set(steps)) == len(steps)


def test_class_orders(build):
    assert resolve_classes("style", "dataset", build.out) == ("release-61", list(STYLES_61))
    assert resolve_classes("style", "50", build.out) == ("release-51", list(STYLES_51))
    order, built = resolve_classes("style", "built", build.out)
    assert order == "custom" and set(built) == {*STYLES, "Seed_Images"}
    assert built == [s for s in STYLES_61 if s in built]  # taxonomy order
    pair = ["Winter", "Monet"]
    assert resolve_classes("style", pair, build.out) == ("custom", pair)
    assert resolve_classes("object", "dataset", build.out) == ("release-20", list(OBJECTS_20))
    assert resolve_classes("object", "built", build.out) == ("custom", OBJECTS)
    with pytest.raises(ValueError, match="unknown style names \\['Glitch'\\]"):
        resolve_classes("style", ["Glitch"], build.out)


def test_object_command_and_one_line_errors(build, tmp_path):
    out = tmp_path / "objects"
    args = [
        "object",
        "--data",
        str(build.out),
        "--out",
        str(out),
        "--objects",
        "built",
        "--epochs",
        "1",
        "--image-size",
        "32",
        *QUICK[:2],
        *QUICK[4:],
    ]
    result = train(args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "classes.json").read_text())["classes"] == OBJECTS
    again = train(args)
    assert again.exit_code == 1
    assert again.output.strip().splitlines()[-1].startswith("Error: ")
    assert "holds a training run already; add --resume" in again.output
    bad = train(["style", "--data", str(build.work), "--out", str(tmp_path / "x"), *QUICK])
    assert bad.exit_code == 1 and "manifest.json: no manifest" in bad.output
    bad = train(
        [
            "style",
            "--data",
            str(build.out),
            "--out",
            str(tmp_path / "y"),
            "--styles",
            "Monet",
            *QUICK,
        ]
    )
    assert bad.exit_code == 1 and "at least 2 classes" in bad.output
    for command in ("style", "object", "import-release", "evaluate", "predict"):
        help_text = train([command, "--help"]).output
        assert "--help" in help_text and "Usage: " in help_text


@pytest.mark.parametrize("task", ["style", "object"])
def test_all_names_every_class_of_the_build(build, task):
    assert resolve_classes(task, "all", build.out) == resolve_classes(task, "dataset", build.out)
