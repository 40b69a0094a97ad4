"""Bad files, full disks and read-only folders end in one line that names the file and the reason,
and leave no temporary file behind."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from click.testing import CliRunner

from canvas_data import atomic
from canvas_data.cli import main as build_main
from canvas_data.cli_eval import main as eval_main
from canvas_data.cli_train import main as train_main


def one_error_line(result, *needles: str) -> str:
    """The run failed with exactly one line, ``Error: ...`` containing ``needles``, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not a crash
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def invoke(main, args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


# --- every command of every group: one line, --debug for the traceback ---


@pytest.mark.parametrize("text", ["{", "{}", "[]", '{"taxonomy": {}, "shards": 3}', "\xff"])
def test_verify_on_a_broken_manifest_is_one_line(tmp_path, text):
    folder = tmp_path / "uc"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(text.encode("latin-1"))
    line = one_error_line(invoke(build_main, ["verify", folder]), str(folder / "manifest.json"))
    assert "manifest" in line.split("manifest.json", 1)[1]  # says what the file should be


def test_debug_option_and_environment_show_the_traceback(tmp_path, monkeypatch):
    folder = tmp_path / "uc"
    folder.mkdir()
    (folder / "manifest.json").write_text("{")
    shown = invoke(build_main, ["--debug", "verify", folder])
    assert shown.exit_code == 1 and not isinstance(shown.exception, SystemExit)
    monkeypatch.setenv("CANVAS_DEBUG", "1")
    shown = invoke(build_main, ["verify", folder])
    assert not isinstance(shown.exception, SystemExit)
    monkeypatch.setenv("CANVAS_DEBUG", "0")
    one_error_line(invoke(build_main, ["verify", folder]), "manifest.json")


def test_usage_errors_keep_click_exit_code_2(tmp_path):
    for main, args in [
        (build_main, ["shards", "--work", tmp_path]),
        (train_main, ["evaluate"]),
        (eval_main, ["accuracy", "--answers", tmp_path / "nope"]),
    ]:
        result = invoke(main, args)
        assert result.exit_code == 2 and "Usage:" in result.output, result.output


def test_every_command_of_every_group_goes_through_the_wrapper():
    from canvas_data.cli_common import CanvasGroup

    for main in (build_main, train_main, eval_main):
        assert isinstance(main, CanvasGroup)
        assert "--debug" in invoke(main, ["--help"]).output


def test_a_bug_is_one_line_that_says_how_to_see_more(tmp_path, monkeypatch):
    import canvas_data.recipe as recipe

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'styles'")

    monkeypatch.setattr(recipe, "builtin_recipes", broken)
    one_error_line(invoke(build_main, ["recipes"]), "internal error", "AttributeError", "--debug")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("build:\n  styles: [Monet\n  objects: Cats\n", "line "),
        ("build: !!python/object:os.system {}\n", "python/object"),
        ("build: {styles: [Monet]}\n\tbad: tab\n", "line "),
    ],
)
def test_a_recipe_with_broken_yaml_is_one_line(tmp_path, tiny_work, text, reason):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    stylize = ["stylize", "--work", tiny_work, "--recipe", bad, "--no-progress"]
    shards = ["shards", "--work", tiny_work, "--out", tmp_path / "o", "--recipe", bad]
    for args in (stylize, shards):
        one_error_line(invoke(build_main, args), str(bad), reason)


@pytest.fixture(scope="module")
def pickled_run(tmp_path_factory):
    """A classifier run folder whose ``model.safetensors`` is really a ``torch.save`` pickle."""
    from canvas_data.classifier import ClassifierInfo, build_model, save_run

    run = tmp_path_factory.mktemp("pickled") / "run"
    torch.manual_seed(0)
    model = build_model("tiny", ["Cats", "Dogs"], image_size=32)
    save_run(model, ClassifierInfo(task="object", classes=["Cats", "Dogs"], image_size=32), run)
    torch.save(model.state_dict(), run / "model.safetensors")
    torch.save(model.state_dict(), run.parent / "state.pt")
    return run


def test_a_pickle_named_model_safetensors_is_one_line(tmp_path, pickled_run):
    weights = str(pickled_run / "model.safetensors")
    evaluate = ["evaluate", pickled_run, "--data", tmp_path, "--device", "cpu", "--no-progress"]
    one_error_line(invoke(train_main, evaluate), weights)
    image = tmp_path / "a.jpg"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(image)
    one_error_line(invoke(train_main, ["predict", pickled_run, image, "--device", "cpu"]), weights)
    answers = tmp_path / "answers"
    answers.mkdir()
    accuracy = ["accuracy", "--answers", answers, "--style-classifier", pickled_run,
                "--object-classifier", pickled_run, "--device", "cpu", "--no-progress"]  # fmt: skip
    one_error_line(invoke(eval_main, accuracy), weights)


def test_resume_from_a_damaged_checkpoint_is_one_line(tmp_path, pickled_run):
    """Each file of the newest checkpoint, damaged in turn, is named before training starts."""
    import shutil

    from conftest import packed_folder

    from canvas_data.train_classifier import SETTINGS_FILE, TrainSettings, check_checkpoint

    good = tmp_path / "good"
    shutil.copytree(pickled_run, good)
    from safetensors.torch import save_file

    save_file(torch.load(pickled_run.parent / "state.pt"), good / "model.safetensors")
    (good / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    torch.save({"step": torch.arange(1000)}, good / "optimizer.pt")
    check_checkpoint(good)  # an intact checkpoint passes
    out = tmp_path / "run"
    settings = TrainSettings(task="object", classes=["Cats", "Human"], backbone="tiny")
    atomic.write_json(out / SETTINGS_FILE, {"settings": dataclasses.asdict(settings)})
    data = packed_folder(tmp_path)
    args = ["object", "--data", data, "--out", out, "--objects", "Cats,Human", "--model",
            "tiny", "--resume", "--workers", "0", "--no-progress"]  # fmt: skip
    damages = {
        "trainer_state.json": lambda p: p.write_text('{"global_step": '),
        "optimizer.pt": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        "model.safetensors": lambda p: p.write_bytes(b"\x00" * 64),
    }
    for name, damage in damages.items():
        checkpoint = out / "checkpoints" / "checkpoint-4"
        shutil.rmtree(checkpoint, ignore_errors=True)
        shutil.copytree(good, checkpoint)
        damage(checkpoint / name)
        one_error_line(invoke(train_main, args), str(checkpoint / name))


def test_generate_with_a_bad_unet_file_is_one_line(tmp_path):
    pytest.importorskip("diffusers")
    from canvas_data.random_pipelines import build_pipeline

    pipeline = build_pipeline("tiny", tmp_path / "tiny")
    for name, content in [("unet.safetensors", None), ("unet.pt", b"not a pickle"),
                          ("unet.bin", b"")]:  # fmt: skip
        unet = tmp_path / name
        if content is None:
            torch.save({"x": torch.zeros(2)}, unet)  # a pickle under a safetensors name
        else:
            unet.write_bytes(content)
        args = ["generate", "--model", pipeline, "--out", tmp_path / "a", "--unet", unet,
                "--themes", "Van_Gogh", "--objects", "Cats", "--seeds", "188", "--steps", "1",
                "--resolution", "32", "--device", "cpu", "--no-progress"]  # fmt: skip
        one_error_line(invoke(eval_main, args), str(unet))
