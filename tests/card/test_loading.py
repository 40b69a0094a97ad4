"""Folders whose path holds glob characters: ``datasets`` cannot load them (its issue #7468),
so ``shards`` and ``verify`` say so in one line and the card warns; our loaders still read them."""

import argparse
import json
import os
import re
import shlex
import shutil

import pytest
from click.testing import CliRunner
from datasets import load_dataset
from datasets.exceptions import DataFilesNotFoundError
from torch.utils.data import DataLoader

from canvas_data.card.loading import load_path_warning
from canvas_data.cli.build import main
from canvas_data.loading.loaders import style_classification
from canvas_data.pipeline import pack_dataset
from canvas_data.taxonomy import parse_caption


@pytest.fixture(scope="module")
def bracket_build(tiny_painted, tmp_path_factory):
    """A tiny build packed by the CLI into ``runs[1]/uc``, and its workspace."""
    work, _ = tiny_painted
    out = tmp_path_factory.mktemp("glob") / "runs[1]" / "uc"
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


# The card's command for diffusers' ``train_text_to_image.py`` loads our folders.
#
# The script is not installed with diffusers' wheel, so ``load_columns`` mirrors the lines it runs
# to load data (diffusers ``examples/text_to_image/train_text_to_image.py``; the release's
# ``diffusion_model_finetuning/diffuser_sd_training.py`` has the same lines), with its defaults:
#
#     DATASET_NAME_MAPPING = {
#         "lambdalabs/naruto-blip-captions": ("image", "text"),
#     }
#     parser.add_argument("--dataset_config_name", type=str, default=None, ...)
#     parser.add_argument("--train_data_dir", type=str, default=None, ...)
#     parser.add_argument("--image_column", type=str, default="image", ...)
#     parser.add_argument("--caption_column", type=str, default="text", ...)
#     ...
#     if args.dataset_name is not None:
#         dataset = load_dataset(
#             args.dataset_name,
#             args.dataset_config_name,
#             cache_dir=args.cache_dir,
#             data_dir=args.train_data_dir,
#         )
#     else:
#         data_files = {}
#         if args.train_data_dir is not None:
#             data_files["train"] = os.path.join(args.train_data_dir, "**")
#         dataset = load_dataset(
#             "imagefolder",
#             data_files=data_files,
#             cache_dir=args.cache_dir,
#         )
#     column_names = dataset["train"].column_names
#     dataset_columns = DATASET_NAME_MAPPING.get(args.dataset_name, None)
#     if args.image_column is None:
#         image_column = dataset_columns[0] if dataset_columns is not None else column_names[0]
#     else:
#         image_column = args.image_column
#         if image_column not in column_names:
#             raise ValueError(
#                 f"--image_column' value '{args.image_column}' needs to be one of: ..."
#             )
#     (the same for caption_column)
#     ...
#     def preprocess_train(examples):
#         images = [image.convert("RGB") for image in examples[image_column]]


DATASET_NAME_MAPPING = {"lambdalabs/naruto-blip-captions": ("image", "text")}


def script_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset_name", type=str, default=None)
    parser.add_argument("--dataset_config_name", type=str, default=None)
    parser.add_argument("--train_data_dir", type=str, default=None)
    parser.add_argument("--image_column", type=str, default="image")
    parser.add_argument("--caption_column", type=str, default="text")
    parser.add_argument("--cache_dir", type=str, default=None)
    args, _ = parser.parse_known_args(argv)
    return args


def load_columns(args):
    """The script's data loading and column choice, line for line."""
    if args.dataset_name is not None:
        dataset = load_dataset(
            args.dataset_name,
            args.dataset_config_name,
            cache_dir=args.cache_dir,
            data_dir=args.train_data_dir,
        )
    else:
        data_files = {}
        if args.train_data_dir is not None:
            data_files["train"] = os.path.join(args.train_data_dir, "**")
        dataset = load_dataset(
            "imagefolder",
            data_files=data_files,
            cache_dir=args.cache_dir,
        )
    column_names = dataset["train"].column_names
    dataset_columns = DATASET_NAME_MAPPING.get(args.dataset_name, None)  # noqa: SIM910 (verbatim)
    if args.image_column is None:
        image_column = dataset_columns[0] if dataset_columns is not None else column_names[0]
    else:
        image_column = args.image_column
        if image_column not in column_names:
            raise ValueError(
                f"--image_column' value '{args.image_column}' needs to be one of: "
                f"{', '.join(column_names)}"
            )
    if args.caption_column is None:
        caption_column = dataset_columns[1] if dataset_columns is not None else column_names[1]
    else:
        caption_column = args.caption_column
        if caption_column not in column_names:
            raise ValueError(
                f"--caption_column' value '{args.caption_column}' needs to be one of: "
                f"{', '.join(column_names)}"
            )
    return dataset, image_column, caption_column


def card_commands(out):
    """The card's ``accelerate launch train_text_to_image.py`` and ``canvas-build export`` lines,
    in order, as argument lists (without ``accelerate launch``)."""
    text = (out / "README.md").read_text().replace("\\\n", " ")
    pattern = r"^(?:accelerate launch )?((?:train_text_to_image\.py|canvas-build export) .*)$"
    lines = re.findall(pattern, text, re.MULTILINE)
    return [shlex.split(line.replace("...", "")) for line in lines]


def run_card_commands(out, cache, monkeypatch):
    """Run the card's commands from the folder that holds ``out`` (as the card's relative names
    expect); the data each training command would train on: (dataset, image, caption) columns."""
    monkeypatch.chdir(out.parent)
    loaded = []
    for argv in card_commands(out):
        if argv[0] == "canvas-build":
            result = CliRunner().invoke(main, [*argv[1:], "--no-progress"])
            assert result.exit_code == 0, result.output
            continue
        args = script_args(argv[1:])
        args.cache_dir = str(cache)
        loaded.append(load_columns(args))
    return loaded


@pytest.fixture(scope="module", params=[("webdataset", "parquet"), ("parquet",)])
def packed(request, tiny_painted, tmp_path_factory):
    work, recipe = tiny_painted
    out = tmp_path_factory.mktemp("scripts") / "uc"
    pack_dataset(work, out, recipe=recipe, formats=request.param, progress=False)
    return out, request.param


def test_the_card_gives_one_command_per_way_of_reading(packed):
    out, formats = packed
    commands = card_commands(out)
    launched = [c for c in commands if c[0] == "train_text_to_image.py"]
    assert len(launched) == len(formats) + 1  # tars and/or Parquet, and the export
    assert sum(c[0] == "canvas-build" for c in commands) == 1


def test_the_cards_commands_train_on_images_and_captions(packed, tmp_path, monkeypatch):
    out, formats = packed
    loaded = run_card_commands(out, tmp_path / "hf", monkeypatch)
    assert len(loaded) == len(formats) + 1
    for dataset, image_column, caption_column in loaded:
        train = dataset["train"]
        assert set(train.column_names) >= {image_column, caption_column}
        examples = train[:4]
        images = [image.convert("RGB") for image in examples[image_column]]  # preprocess_train
        assert all(image.size[0] > 0 for image in images)
        for caption in examples[caption_column]:
            assert isinstance(caption, str)
            parse_caption(caption)  # a canonical caption of a known style and object
        assert len(train) == json.loads((out / "manifest.json").read_text())["splits"]["train"]


def test_without_the_flags_the_script_stops_at_its_column_check(packed, tmp_path):
    out, _ = packed
    args = script_args(["--dataset_name", str(out), "--cache_dir", str(tmp_path / "hf")])
    with pytest.raises(ValueError, match="_column' value '(image|text)' needs to be one of"):
        load_columns(args)
