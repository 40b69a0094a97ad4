"""The card's command for diffusers' ``train_text_to_image.py`` loads our folders.

The script is not installed with diffusers' wheel, so ``load_columns`` mirrors the lines it runs
to load data (diffusers ``examples/text_to_image/train_text_to_image.py``; the release's
``diffusion_model_finetuning/diffuser_sd_training.py`` has the same lines), with its defaults:

    DATASET_NAME_MAPPING = {
        "lambdalabs/naruto-blip-captions": ("image", "text"),
    }
    parser.add_argument("--dataset_config_name", type=str, default=None, ...)
    parser.add_argument("--train_data_dir", type=str, default=None, ...)
    parser.add_argument("--image_column", type=str, default="image", ...)
    parser.add_argument("--caption_column", type=str, default="text", ...)
    ...
        dataset = load_dataset(
            args.dataset_name,
            args.dataset_config_name,
            cache_dir=args.cache_dir,
            data_dir=args.train_data_dir,
        )
    column_names = dataset["train"].column_names
    dataset_columns = DATASET_NAME_MAPPING.get(args.dataset_name, None)  # noqa: SIM910 (verbatim)
    if args.image_column is None:
        image_column = dataset_columns[0] if dataset_columns is not None else column_names[0]
    else:
        image_column = args.image_column
        if image_column not in column_names:
            raise ValueError(
                f"--image_column' value '{args.image_column}' needs to be one of: ..."
            )
    (the same for caption_column)
    ...
    def preprocess_train(examples):
        images = [image.convert("RGB") for image in examples[image_column]]
"""

import argparse
import re
import shlex

import pytest
from conftest import painted_workspace
from datasets import load_dataset

from canvas_data.shards import pack_shards
from canvas_data.taxonomy import parse_caption

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
    dataset = load_dataset(
        args.dataset_name,
        args.dataset_config_name,
        cache_dir=args.cache_dir,
        data_dir=args.train_data_dir,
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
    """The argument lists of the card's ``accelerate launch train_text_to_image.py`` lines."""
    text = (out / "README.md").read_text().replace("\\\n", " ")
    lines = re.findall(r"^accelerate launch train_text_to_image\.py (.*)$", text, re.MULTILINE)
    return [shlex.split(line.replace("...", "")) for line in lines]


@pytest.fixture(scope="module", params=[("webdataset", "parquet"), ("parquet",)])
def packed(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("scripts")
    work, recipe = painted_workspace(root)
    out = root / "uc"
    pack_shards(work, out, recipe=recipe, formats=request.param, progress=False)
    return out, request.param


def test_the_card_gives_one_command_per_way_of_reading(packed):
    out, formats = packed
    assert len(card_commands(out)) == len(formats)


def test_the_cards_commands_train_on_images_and_captions(packed, tmp_path):
    out, _ = packed
    for argv in card_commands(out):
        args = script_args(argv)
        assert args.dataset_name == out.name
        args.dataset_name, args.cache_dir = str(out), str(tmp_path / "hf")
        dataset, image_column, caption_column = load_columns(args)
        examples = dataset["train"][:4]
        images = [image.convert("RGB") for image in examples[image_column]]  # preprocess_train
        assert all(image.size[0] > 0 for image in images)
        keys = examples[_key_column(dataset)]
        for caption, key in zip(examples[caption_column], keys, strict=True):
            assert isinstance(caption, str)
            style, obj, _ = key.split("/")
            assert parse_caption(caption) == (style, obj)


def test_without_the_flags_the_script_stops_at_its_column_check(packed, tmp_path):
    out, _ = packed
    args = script_args(["--dataset_name", str(out), "--cache_dir", str(tmp_path / "hf")])
    with pytest.raises(ValueError, match="_column' value '(image|text)' needs to be one of"):
        load_columns(args)


def _key_column(dataset):
    return "__key__" if "__key__" in dataset["train"].column_names else "key"
