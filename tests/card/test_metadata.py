"""The card's YAML header: its licence is the recipe's, as the Hub's identifier; and a repacked
folder is never answered from a stale ``datasets`` cache.

``datasets`` keys a local folder's cache by its card (configs, ``dataset_info``) and file
patterns, not by the files' contents; the card therefore names the data it describes.
"""

import io
import shutil

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from conftest import packed_folder
from datasets import load_dataset
from PIL import Image

from canvas_data.cli.build import main
from canvas_data.pipeline import pack_dataset

KEY = "Van_Gogh/Cats/1"


def card_yaml(out):
    return yaml.safe_load((out / "README.md").read_text().split("---")[1])


def same_size_replacement(old: bytes) -> bytes:
    """Other pixels (the image inverted) in a JPEG of exactly ``len(old)`` bytes (padded with a
    comment segment), so that the shards, and every size the card states, stay the same."""
    inverted = Image.fromarray(255 - np.asarray(Image.open(io.BytesIO(old)).convert("RGB")))
    for quality in range(95, 20, -1):
        buf = io.BytesIO()
        inverted.save(buf, format="JPEG", quality=quality)
        new = buf.getvalue()
        pad = len(old) - len(new) - 4
        if 0 <= pad < 65000:
            comment = b"\xff\xfe" + (pad + 2).to_bytes(2, "big") + b" " * pad
            return new[:2] + comment + new[2:]
    pytest.fail("no JPEG quality fits in the old image's size")


def pixels_of(ds, key):
    keys, image = ("__key__", "jpg") if "jpg" in ds.column_names else ("key", "image")
    row = ds[ds[keys].index(key)]
    return np.asarray(row[image].convert("RGB"))


@pytest.mark.parametrize("formats", [("webdataset",), ("parquet",)])
def test_a_repack_with_one_changed_image_is_seen(tmp_path, formats, tiny_painted):
    work = shutil.copytree(tiny_painted[0], tmp_path / "work")
    recipe = tiny_painted[1]
    out, cache = tmp_path / "uc", tmp_path / "hf-cache"
    pack_dataset(work, out, recipe=recipe, formats=formats, progress=False)
    before_card = card_yaml(out)
    first = load_dataset(str(out), split="train", cache_dir=str(cache))
    old = pixels_of(first, KEY)

    painting = work / f"{KEY}.jpg"
    painting.write_bytes(same_size_replacement(painting.read_bytes()))
    pack_dataset(work, out, recipe=recipe, formats=formats, progress=False)
    after_card = card_yaml(out)
    assert after_card["dataset_info"]["splits"] == before_card["dataset_info"]["splits"]
    assert after_card["configs"] != before_card["configs"]  # the data it names changed

    second = load_dataset(str(out), split="train", cache_dir=str(cache))
    new = np.asarray(Image.open(painting).convert("RGB"))
    assert np.abs(pixels_of(second, KEY).astype(int) - new).mean() < 3
    assert np.abs(pixels_of(second, KEY).astype(int) - old).mean() > 50


def test_an_unchanged_repack_keeps_the_card(tmp_path, tiny_painted):
    work, recipe = tiny_painted
    out = tmp_path / "uc"
    pack_dataset(work, out, recipe=recipe, progress=False)
    before = (out / "README.md").read_text()
    pack_dataset(work, out, recipe=recipe, progress=False)
    assert (out / "README.md").read_text() == before


def header(folder) -> dict:
    text = (folder / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_folder(tmp_path_factory.mktemp("card"))


@pytest.mark.parametrize(
    "declared, expected",
    [
        ("cc-by-4.0", "cc-by-4.0"),
        ("CC-BY-NC-SA-4.0", "cc-by-nc-sa-4.0"),
        ("Apache-2.0", "apache-2.0"),
        ("free for research, ask before other uses", "other"),
        ("MIT OR Apache-2.0", "other"),  # an expression, no single identifier
        (None, "other"),
    ],
)
def test_the_recipes_license_reaches_the_yaml_header(packed, tmp_path, declared, expected):
    recipe = yaml.safe_load((packed / "recipe.yaml").read_text())
    recipe.pop("license", None)
    if declared:
        recipe["license"] = declared
    path = tmp_path / "licensed.yaml"
    path.write_text(yaml.safe_dump(recipe))
    done = CliRunner().invoke(main, ["card", str(packed), "--recipe", str(path)])
    assert done.exit_code == 0, done.output
    assert header(packed)["license"] == expected
    if declared:  # and the text says the same terms
        assert declared in (packed / "README.md").read_text()
