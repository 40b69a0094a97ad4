"""Bad files, full disks and read-only folders end in one line that names the file and the reason,
and leave no temporary file behind."""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from canvas_data import atomic
from canvas_data.cli.build import main as build_main
from canvas_data.cli.eval import main as eval_main
from canvas_data.cli.train import main as train_main


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
    from canvas_data.cli.common import CanvasGroup

    for main in (build_main, train_main, eval_main):
        assert isinstance(main, CanvasGroup)
        assert "--debug" in invoke(main, ["--help"]).output


def test_a_bug_is_one_line_that_says_how_to_see_more(tmp_path, monkeypatch):
    import canvas_data.recipe as recipe

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'styles'")

    monkeypatch.setattr(recipe, "builtin_recipes", broken)
    one_error_line(invoke(build_main, ["recipes"]), "internal error", "AttributeError", "--debug")


@pytest.mark.parametrize("kind", [KeyError, IndexError])
def test_a_missing_key_or_index_in_the_toolkit_is_a_bug(monkeypatch, kind):
    import canvas_data.recipe as recipe

    def broken(*args, **kwargs):
        return {}["styles"] if kind is KeyError else [][3]

    monkeypatch.setattr(recipe, "builtin_recipes", broken)
    one_error_line(invoke(build_main, ["recipes"]), "internal error", kind.__name__, "--debug")


def test_unknown_names_a_user_gives_are_input_errors_not_bugs(tmp_path, tiny_work):
    from canvas_data.errors import InputError
    from canvas_data.recipe import load_recipe

    with pytest.raises(
        InputError, match=r"recipe 'unlearncanvas-demo': unknown style names \['Monnet'\]"
    ):
        load_recipe("demo").style("Monnet")
    args = ["stylize", "--work", tiny_work, "--recipe", tmp_path / "tiny.yaml"]
    line = one_error_line(invoke(build_main, [*args, "--styles", "Monnet"]), "Monnet")
    assert "internal error" not in line


def test_one_line_names_the_kind_and_cuts_long_reasons():
    from canvas_data.errors import one_line

    err = ZeroDivisionError("division\n  by zero")
    assert one_line(err) == "division by zero"
    assert one_line(err, kind=True) == "ZeroDivisionError: division by zero"
    cut = one_line(ValueError("x" * 500), kind=True, limit=40)
    assert len(cut) == 40 and cut.startswith("ValueError: xxx") and cut.endswith("...")
    assert one_line(KeyError("no style 'Monet'")) == "no style 'Monet'"  # not repr-quoted


def test_validation_line_is_one_line_per_fault_with_a_root_name():
    from pydantic import BaseModel, ConfigDict, ValidationError

    from canvas_data.errors import validation_line

    class Shard(BaseModel):
        model_config = ConfigDict(strict=True)
        path: str
        samples: int

    class Listing(BaseModel):
        model_config = ConfigDict(strict=True)
        shards: list[Shard]

    with pytest.raises(ValidationError) as bad:
        Listing.model_validate({"shards": [{"samples": "1" * 100}, {}, {}]})
    line = validation_line(bad.value, limit=2)
    assert "\n" not in line
    assert line.startswith("shards.0.path: missing; shards.0.samples: ")
    assert "got '1111" in line and "...'" not in line and line.count("1") < 70
    assert line.endswith("(and 4 more)")
    with pytest.raises(ValidationError) as bad:
        Listing.model_validate([])
    assert validation_line(bad.value, root="listing").startswith("listing: ")


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
    from canvas_data.classify.classifier import ClassifierInfo, build_model, save_run

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
    Image.new("RGB", (8, 8)).save(image)
    one_error_line(invoke(train_main, ["predict", pickled_run, image, "--device", "cpu"]), weights)
    answers = tmp_path / "answers"
    answers.mkdir()
    accuracy = ["accuracy", "--answers", answers, "--style-classifier", pickled_run,
                "--object-classifier", pickled_run, "--device", "cpu", "--no-progress",
                "--styles", "Cats,Dogs", "--objects", "Cats,Dogs"]  # fmt: skip
    one_error_line(invoke(eval_main, accuracy), weights)


def test_resume_from_a_damaged_checkpoint_is_one_line(tmp_path, pickled_run, tiny_packed):
    """Each file of the newest checkpoint, damaged in turn, is named before training starts."""
    import shutil

    from canvas_data.classify.train_checkpoints import COMPLETE, check_checkpoint
    from canvas_data.classify.train_settings import SETTINGS_FILE, TrainSettings

    good = tmp_path / "good"
    shutil.copytree(pickled_run, good)
    from safetensors.torch import save_file

    save_file(torch.load(pickled_run.parent / "state.pt"), good / "model.safetensors")
    (good / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    torch.save({"step": torch.arange(1000)}, good / "optimizer.pt")
    (good / COMPLETE).write_text("{}")  # saved whole: damage found later is an error
    check_checkpoint(good)  # an intact checkpoint passes
    out = tmp_path / "run"
    settings = TrainSettings(task="object", classes=["Cats", "Human"], backbone="tiny")
    atomic.write_json(out / SETTINGS_FILE, {"settings": dataclasses.asdict(settings)})
    data = tiny_packed
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
    from canvas_data.stylizers.random_pipelines import build_pipeline

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


# --- full disks and read-only folders: one line, no temporary file, earlier outputs intact ---


class FillingFile(io.FileIO):
    """A file on a disk with ``room`` bytes left (shared by all files of one ``Disk``)."""

    disk: Disk

    def write(self, data) -> int:
        self.disk.attempts += 1
        if self.disk.error is not None or len(data) > self.disk.room:
            err = self.disk.error or errno.ENOSPC
            self.disk.failures += 1
            raise OSError(err, os.strerror(err))
        self.disk.room -= len(data)
        return super().write(data)


class Disk:
    """Fault injection at the OS level: the files the toolkit writes (``atomic.open_file``)
    fill ``room`` bytes and then fail with ENOSPC, or fail at once with ``error``."""

    def __init__(self, room: int = 0, error: int | None = None) -> None:
        self.room, self.error = room, error
        self.opened: list[Path] = []
        self.attempts = self.failures = 0

    def open_file(self, path, buffering: int = -1):
        if self.error is not None and self.error != errno.ENOSPC:
            raise OSError(self.error, os.strerror(self.error), str(path))  # open() refuses
        self.opened.append(Path(path))
        raw = FillingFile(path, "wb")
        raw.disk = self
        return io.BufferedWriter(raw, buffer_size=8192) if buffering != 0 else raw


def partials(folder: Path) -> list[Path]:
    return sorted(folder.rglob(f".*{atomic.PARTIAL}*"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".pack" not in p.parts
    }


def test_the_atomic_writer_removes_its_temporary_file_on_any_error(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b.json"
    atomic.write_json(target, {"kept": True})
    with pytest.raises(KeyboardInterrupt), atomic.writing(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    monkeypatch.setattr(atomic, "open_file", Disk(room=3).open_file)
    with pytest.raises(atomic.WriteError) as caught:
        atomic.write_json(target, {"kept": False})
    assert caught.value.filename == str(target) and caught.value.errno == errno.ENOSPC
    assert json.loads(target.read_text()) == {"kept": True} and not partials(tmp_path)


def test_shards_on_a_full_disk_is_one_line_and_keeps_the_earlier_pack(
    tmp_path, monkeypatch, tiny_painted
):
    work, recipe = tiny_painted
    out = tmp_path / "uc"
    args = [
        "shards",
        "--work",
        work,
        "--out",
        out,
        "--recipe",
        work.parent / "tiny.yaml",
        "--no-progress",
    ]
    assert invoke(build_main, args).exit_code == 0
    before = snapshot(out)
    disk = Disk(room=20_000)
    monkeypatch.setattr(atomic, "open_file", disk.open_file)
    line = one_error_line(invoke(build_main, [*args, "--resolution", "32", "--no-progress"]))
    # the run stops at the shard that failed (its unfinished buffer may fail once more as the
    # file is closed to be removed): no later shard is opened
    assert "No space left on device" in line and disk.failures >= 1
    assert [p.parent.name for p in disk.opened if ".tar" in p.name] == ["data"]
    assert line.startswith(f"Error: {out / 'data'}") and line.split(": ")[1].endswith(".tar")
    assert not partials(out) and snapshot(out) == before  # the earlier pack, whole
    monkeypatch.undo()
    assert invoke(build_main, ["verify", out, "--no-progress"]).exit_code == 0


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_shards_into_a_read_only_folder_is_one_line(tmp_path, monkeypatch, code, tiny_painted):
    work, _ = tiny_painted
    out = tmp_path / "uc"
    monkeypatch.setattr(atomic, "open_file", Disk(error=code).open_file)
    args = [
        "shards",
        "--work",
        work,
        "--out",
        out,
        "--recipe",
        work.parent / "tiny.yaml",
        "--no-progress",
    ]
    one_error_line(invoke(build_main, args), str(out), os.strerror(code))
    assert not partials(out)


def test_stylize_stops_at_the_first_full_disk_error(tmp_path, tiny_work, monkeypatch):
    disk = Disk(room=15_000)  # a few paintings fit
    monkeypatch.setattr(atomic, "open_file", disk.open_file)
    args = ["stylize", "--work", tiny_work, "--workers", "1", "--no-progress"]
    line = one_error_line(invoke(build_main, args), str(tiny_work), "No space left on device")
    failed_file = Path(line.removeprefix("Error: ").split(": ")[0])
    assert disk.failures == 1
    assert disk.opened[-1] == atomic.temp_name(failed_file)  # nothing was tried after it
    assert not partials(tiny_work)
    done = sorted(tiny_work.glob("*/*/*.json"))
    assert 0 < len(done) < 24  # earlier items are whole: image and sidecar
    for side in done:
        assert json.loads(side.read_text())["key"]
        Image.open(side.with_suffix(".jpg")).load()
    monkeypatch.undo()
    rerun = invoke(build_main, args)
    assert rerun.exit_code == 0 and f"{len(done)} already done" in rerun.output


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_stylize_into_a_read_only_workspace_is_one_line(tmp_path, tiny_work, monkeypatch, code):
    monkeypatch.setattr(atomic, "open_file", Disk(error=code).open_file)
    args = ["stylize", "--work", tiny_work, "--workers", "1", "--no-progress"]
    one_error_line(invoke(build_main, args), str(tiny_work), os.strerror(code))
    assert not partials(tiny_work) and not list(tiny_work.glob("Monet/*/*"))


def test_an_output_folder_under_a_file_says_the_file_is_in_the_way(tmp_path, tiny_packed):
    """Any command that makes a folder where a file is: one line naming that file."""
    blocking = tmp_path / "afile"
    blocking.write_text("not a folder")
    result = invoke(build_main, ["demo", "--out", blocking / "uc", "--no-progress"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"Error: {blocking}: is a file, not a folder"
    packed = tiny_packed
    for out in (blocking / "uc", blocking / "deeper" / "uc"):
        line = one_error_line(invoke(build_main, ["preview", packed, "--out", out / "x.jpg"]))
        assert line == f"Error: {blocking}: is a file, not a folder"
    assert blocking.read_text() == "not a folder"


def test_a_sample_a_packed_folder_lacks_is_bad_input_though_a_key_error():
    from canvas_data.cli.common import as_click_error
    from canvas_data.pack.shard_index import MissingSample

    err = MissingSample("uc: no sample 'Monet/Cats/9' in the indexed splits")
    assert isinstance(err, KeyError)  # what a lookup by key raises
    line = as_click_error(err).message
    assert line == "uc: no sample 'Monet/Cats/9' in the indexed splits"
    assert "internal error" in as_click_error(KeyError("Monet/Cats/9")).message


@pytest.mark.parametrize("name", ["uc\n", "u\nError: fake", "u\x1b[2Jc", "tab\there"])
def test_a_file_name_with_control_characters_is_still_one_line(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "manifest.json").write_text("{")
    one_error_line(invoke(build_main, ["verify", folder]), "manifest.json")
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text("build: [")
    one_error_line(invoke(build_main, ["demo", "--recipe", recipe, "--out", tmp_path / "o"]))
    recipe.unlink()
    recipe.mkdir()  # a folder where a recipe file should be: an OSError naming it
    one_error_line(invoke(build_main, ["demo", "--recipe", recipe, "--out", tmp_path / "o"]))


@pytest.mark.parametrize("name", ["a\nError: b", "a\rb", "a\x1b[2Jb", "a\x00b"])
def test_one_line_escapes_control_characters_in_file_names(name):
    from canvas_data.errors import one_line

    for err in (
        OSError(errno.ENOSPC, "No space left on device", f"/w/{name}.jpg"),
        OSError(errno.EEXIST, "File exists", f"/w/{name}", f"/w/{name}2"),
    ):
        line = one_line(err)
        assert len(line.splitlines()) == 1 and line.isprintable(), line
        assert "/w/a" in line
