"""What the three console commands share, one vocabulary: every command of canvas-build,
canvas-train and canvas-eval is walked, and the shared options must have the same names,
meanings and choices; every option says what it does and shows its default."""

from __future__ import annotations

import click
import pytest

from canvas_data.cli.build import main as build
from canvas_data.cli.common import DTYPES, parse_styles
from canvas_data.cli.eval import main as evaluate
from canvas_data.cli.train import main as train
from canvas_data.taxonomy import SEED_STYLE, STYLES_50, STYLES_60


def commands():
    """(path, command, context) of every command of the three groups."""
    found = []

    def walk(cmd: click.Command, ctx: click.Context, path: str) -> None:
        found.append((path, cmd, ctx))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                sub_ctx = click.Context(sub, info_name=name, parent=ctx, **sub.context_settings)
                walk(sub, sub_ctx, f"{path} {name}")

    groups = (("canvas-build", build), ("canvas-train", train), ("canvas-eval", evaluate))
    for name, group in groups:
        walk(group, click.Context(group, info_name=name, **group.context_settings), name)
    return found


def visible_options(cmd: click.Command, ctx: click.Context):
    """(option, its --help line) of every option --help shows."""
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option):
            record = param.get_help_record(ctx)
            if record is not None:
                yield param, record


def unset(value) -> bool:
    """click's mark of an option declared without a default."""
    return getattr(value, "name", None) == "UNSET"


ALL = commands()


def test_the_walk_finds_every_command():
    paths = {path for path, _, _ in ALL}
    for expected in ("canvas-build stylize", "canvas-train evaluate", "canvas-eval accuracy"):
        assert expected in paths
    assert len(paths) >= 20


@pytest.mark.parametrize("path,cmd,ctx", ALL, ids=[p for p, _, _ in ALL])
def test_shared_option_names_and_meanings(path, cmd, ctx):
    for param, (names, text) in visible_options(cmd, ctx):
        shown = {n.strip().split(" ")[0] for n in names.split(",") if n.strip()}
        assert "--themes" not in shown, f"{path}: --themes is --styles now"
        if "--workers" in shown:
            assert "process" in text.lower(), f"{path} --workers: {text}"
        if "--threads" in shown:
            assert "thread" in text.lower(), f"{path} --threads: {text}"
        if "--dtype" in shown:
            assert tuple(param.type.choices) == DTYPES, path


@pytest.mark.parametrize("path,cmd,ctx", ALL, ids=[p for p, _, _ in ALL])
def test_every_option_with_a_default_shows_it(path, cmd, ctx):
    for param, (names, text) in visible_options(cmd, ctx):
        if param.is_eager or param.name == "debug":
            continue  # --help, --version, --debug
        if param.is_flag and not param.secondary_opts and not param.get_default(ctx):
            continue  # a switch that is off unless given
        default = param.get_default(ctx)
        if param.required or param.multiple or default is None or unset(default):
            continue  # nothing to show: without the option, it is not used
        assert "default" in text.lower(), f"{path} {names}: no default shown: {text}"


def invoke_params(cmd: click.Command, args: list[str]) -> dict:
    """The parameters a command would run with (its callbacks run, the command does not)."""
    with cmd.make_context(cmd.name, args) as ctx:
        return dict(ctx.params)


def test_old_spellings_feed_the_new_options(tmp_path):
    accuracy = evaluate.get_command(None, "accuracy")
    runs = ["--answers", str(tmp_path), "--style-classifier", str(tmp_path)]
    runs += ["--object-classifier", str(tmp_path)]
    new = invoke_params(accuracy, [*runs, "--styles", "50,Seed_Images", "--decode-threads", "2"])
    old = invoke_params(accuracy, [*runs, "--themes", "50,Seed_Images", "--workers", "2"])
    assert new["themes"] == old["themes"] == [*STYLES_50, SEED_STYLE]
    assert new["workers"] == old["workers"] == 2  # decode threads: --workers is hidden
    sources = build.get_command(None, "sources")
    web = ["--work", str(tmp_path / "w"), "--manifest", str(tmp_path / "m.csv")]
    (tmp_path / "m.csv").write_text("url,object\n")
    assert invoke_params(sources, [*web, "--workers", "3"])["threads"] == 3


def test_help_shows_the_new_name_only():
    accuracy = evaluate.get_command(None, "accuracy")
    ctx = click.Context(accuracy, info_name="accuracy")
    shown = " ".join(names for _, (names, _) in visible_options(accuracy, ctx))
    assert "--styles" in shown and "--decode-threads" in shown
    assert "--themes" not in shown and "--workers" not in shown


def test_one_styles_parser():
    assert parse_styles(None) is None and parse_styles("  ") is None
    assert parse_styles("60") == list(STYLES_60)
    assert parse_styles("60", heads=True) == "60"
    assert parse_styles("ALL") == "all"
    assert parse_styles("Monet, Van_Gogh,Monet") == ["Monet", "Van_Gogh"]
    assert parse_styles("built", words=("built",)) == "built"
    with pytest.raises(click.BadParameter, match="stands alone"):
        parse_styles("all,Monet")
    with pytest.raises(click.BadParameter, match="Seed_Images is the photos"):
        parse_styles("Monet,Seed_Images", seed_images=False)
    with pytest.raises(click.BadParameter, match="no style"):
        parse_styles(",")


def test_import_release_lists_only_what_it_writes():
    command = train.get_command(None, "import-release")
    ctx = click.Context(command, info_name="import-release")
    out = next(p for p in command.get_params(ctx) if p.name == "out")
    text = out.get_help_record(ctx)[1]
    assert "model.safetensors" in text
    for never in ("checkpoints", "train.json", "metrics.json", "confusion.png"):
        assert never not in text


PROBE = """
import json, sys
from importlib import import_module
module, *args = sys.argv[1:]
try:
    import_module(module).main(args)
except SystemExit as end:
    print(json.dumps({"code": end.code, "torch": "torch" in sys.modules}))
"""


def fresh_run(module: str, *args) -> tuple[dict, str]:
    """A command run in a fresh interpreter: its exit code, whether it imported torch, stderr."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def classifier_run(folder, task: str, classes: list[str]):
    import json

    folder.mkdir()
    info = {"task": task, "classes": classes, "image_size": 32}
    (folder / "classes.json").write_text(json.dumps(info))
    return folder


@pytest.fixture(scope="module")
def accuracy_args(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    (root / "answers").mkdir()
    style = classifier_run(root / "style", "style", [*STYLES_50, SEED_STYLE])
    objects = classifier_run(root / "object", "object", ["Cats", "Dogs"])
    return ["accuracy", "--answers", root / "answers", "--style-classifier", style]+[
        "--object-classifier", objects, "--objects", "Cats,Dogs"]  # fmt: skip


@pytest.mark.parametrize(
    "bad, code, said",
    [
        (["--styles", "Van_Gohg"], 1, "no class for Van_Gohg"),
        (["--target", "Van_Gohg"], 1, "Van_Gohg"),
        (["--objects", "Cats,Dgos"], 1, "no class for Dgos"),
        (["--device", "gpu"], 2, "'gpu' is not auto, cpu, cuda, cuda:N or mps"),
        (["--dtype", "float61"], 2, "float61"),
    ],
)
def test_a_typo_in_accuracy_fails_before_torch_is_imported(accuracy_args, bad, code, said):
    result, err = fresh_run("canvas_data.cli.eval", *accuracy_args, *bad)
    assert result == {"code": code, "torch": False}, err
    assert said in err
    assert code == 2 or err.count("\n") == 1  # usage errors add click's usage lines


@pytest.mark.parametrize(
    "module, args",
    [
        (
            "canvas_data.cli.eval",
            ["generate", "--model", "m", "--out", "{tmp}/o", "--device", "gpu"],
        ),
        (
            "canvas_data.cli.eval",
            ["generate", "--model", "m", "--out", "{tmp}/o", "--dtype", "fp61"],
        ),
        (
            "canvas_data.cli.eval",
            ["fid", "--answers", "{tmp}", "--reference", "{tmp}", "--device", "cuda:x"],
        ),  # fmt: skip
        ("canvas_data.cli.train", ["evaluate", "{tmp}", "--data", "{tmp}", "--device", "gpu"]),
        ("canvas_data.cli.build", ["stylize", "--work", "{tmp}", "--device", "gpu"]),
    ],
)
def test_a_bad_option_value_of_a_torch_command_exits_2_before_torch(tmp_path, module, args):
    result, err = fresh_run(module, *[a.format(tmp=tmp_path) for a in args])
    assert result == {"code": 2, "torch": False}, err
    assert "Invalid value" in err


def test_a_style_typo_of_canvas_train_fails_before_torch(tmp_path):
    from conftest import packed_folder

    data = packed_folder(tmp_path)
    args = ["style", "--data", data, "--out", tmp_path / "run", "--styles", "Van_Gohg,Monet"]
    result, err = fresh_run("canvas_data.cli.train", *args)
    assert result == {"code": 1, "torch": False}, err
    assert "Van_Gohg" in err and err.count("\n") == 1


@pytest.mark.parametrize("group", [build, train, evaluate], ids=lambda g: g.name)
def test_every_option_of_every_command_has_help(group):
    assert group.commands
    for name, command in group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
