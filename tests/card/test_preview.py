"""The contact sheet: grid size, which image lands in which cell, the CLI."""

import io
import shutil

import numpy as np
import pytest
import webdataset as wds
from click.testing import CliRunner
from PIL import Image, ImageOps

from canvas_data.card.preview import pick_objects, pick_styles, write_preview
from canvas_data.cli.build import main
from canvas_data.taxonomy import OBJECTS_20, SEED_STYLE, STYLES_61


@pytest.fixture(scope="module")
def packed(tiny_packed, tmp_path_factory):
    """A copy of the shared packed folder: the tests write contact sheets into it."""
    return shutil.copytree(tiny_packed, tmp_path_factory.mktemp("preview") / "uc")


def packed_images(out):
    """Every packed image by key, read with plain webdataset."""
    urls = sorted(str(p) for p in (out / "data").glob("*.tar"))
    return {s["__key__"]: s["jpg"] for s in wds.WebDataset(urls, shardshuffle=False).decode("pil")}


def cell_error(sheet_image, box, image):
    """Mean absolute difference between a cell of the sheet and ``image`` made a thumbnail."""
    thumb = ImageOps.fit(image.convert("RGB"), (box[2] - box[0],) * 2, Image.LANCZOS)
    cell = sheet_image.crop(box)
    return np.abs(np.asarray(cell, float) - np.asarray(thumb, float)).mean()


def test_the_card_preview_is_a_grid_of_every_style_over_every_object(packed):
    written = Image.open(packed / "preview.jpg")
    sheet = write_preview(packed, packed / "again.jpg")
    assert sheet.styles == [SEED_STYLE, "Monet", "Pencil_Drawing", "Van_Gogh", "Winter"]
    assert sheet.objects == ["Cats", "Human"]
    assert (sheet.layout.rows, sheet.layout.columns) == (5, 2)
    assert written.size == sheet.layout.size == sheet.image.size
    assert sheet.photo_idx == {"Cats": 1, "Human": 1}


def test_each_cell_shows_its_style_and_object(packed):
    images = packed_images(packed)
    sheet = write_preview(packed, packed / "check.jpg", thumb=96)
    shown = Image.open(packed / "check.jpg").convert("RGB")
    for r, style in enumerate(sheet.styles):
        for c, obj in enumerate(sheet.objects):
            box = sheet.layout.cell_box(r, c)
            right = cell_error(shown, box, images[f"{style}/{obj}/1"])
            others = [
                cell_error(shown, box, img)
                for key, img in images.items()
                if key != f"{style}/{obj}/1"
            ]
            assert right < 6, (style, obj, right)
            assert right < min(others) / 2, (style, obj)


def test_chosen_styles_objects_and_photo(packed):
    images = packed_images(packed)
    dest = packed / "custom.jpg"
    sheet = write_preview(
        packed, dest, styles=["Winter", "Van_Gogh"], objects=["Human"], idx=2, thumb=64
    )
    assert (sheet.layout.rows, sheet.layout.columns) == (2, 1)
    assert Image.open(dest).size == sheet.layout.size
    assert [row.key for row in sheet.cells.values()] == ["Winter/Human/2", "Van_Gogh/Human/2"]
    shown = Image.open(dest).convert("RGB")
    assert cell_error(shown, sheet.layout.cell_box(0, 0), images["Winter/Human/2"]) < 8


def test_all_and_missing_cells(packed):
    sheet = write_preview(packed, packed / "all.jpg", styles=["all"], objects=["all"], idx=3)
    assert len(sheet.styles) == 5 and len(sheet.objects) == 2
    assert all(row is not None and row.idx == 3 for row in sheet.cells.values())
    sheet = write_preview(packed, packed / "none.jpg", styles=["Monet"], idx=9)
    assert list(sheet.cells.values()) == [None, None]  # drawn as "missing" tiles


def test_unknown_names_are_named(packed):
    with pytest.raises(ValueError, match="Ukiyoe"):
        write_preview(packed, packed / "x.jpg", styles=["Ukiyoe"])
    with pytest.raises(ValueError, match="Dogs"):
        write_preview(packed, packed / "x.jpg", objects=["Dogs"])


def test_default_subset_of_the_full_taxonomy_is_readable():
    styles = pick_styles(STYLES_61)
    assert styles[0] == SEED_STYLE and len(styles) == 8
    assert "Van_Gogh" in styles and len(set(styles)) == 8
    assert [s for s in styles[1:]] == [s for s in STYLES_61 if s in styles[1:]]  # class order
    plain = pick_styles([SEED_STYLE, *[f"S{i:02d}" for i in range(30)]], 6)
    assert plain == [SEED_STYLE, "S00", "S06", "S12", "S18", "S24"]
    objects = pick_objects(OBJECTS_20)
    assert len(objects) == 8 == len(set(objects)) and objects[0] == "Architectures"
    assert pick_objects(OBJECTS_20[:5]) == list(OBJECTS_20[:5])


def test_cli_preview(packed, tmp_path):
    dest = tmp_path / "sheet.jpg"
    args = ["preview", str(packed), "--styles", "Van_Gogh,Winter", "--objects", "all"]
    result = CliRunner().invoke(main, [*args, "--thumb", "80", "--out", str(dest)])
    assert result.exit_code == 0, result.output
    assert "2 styles x 2 objects" in result.output
    with Image.open(io.BytesIO(dest.read_bytes())) as im:
        assert im.format == "JPEG" and im.width < im.height * 2
    bad = CliRunner().invoke(main, ["preview", str(packed), "--styles", "Nope", "--out", str(dest)])
    assert bad.exit_code != 0 and "Nope" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
