"""Answer sets as users write them: spaced or lower-case theme names, theme folders named so,
and a method folder a few levels above the target's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from canvas_data.metrics.answers import Answer, parse_name, plan_answers, scan_answers
from canvas_data.taxonomy import OBJECTS_20, STYLES_51

SMALL = {"themes": ["Van_Gogh", "Seed_Images", "Crayon"], "objects": ["Cats", "Human"]}


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path, format="JPEG")


@pytest.mark.parametrize(
    "name",
    [
        "Van Gogh_Cats_seed188.jpg",
        "van_gogh_cats_seed188.JPG",
        "Van-Gogh_Cats_seed_188.jpeg",
        "Van Gogh Cats seed188.png",
    ],  # fmt: skip
)
def test_spaced_and_lower_case_names_read_as_the_canonical_answer(name):
    assert parse_name(name, STYLES_51, OBJECTS_20) == Answer("Van_Gogh", "Cats", 188)


@pytest.mark.parametrize("rename", [str.lower, lambda t: t.replace("_", " ")])
def test_theme_folders_spelled_otherwise_are_theme_folders(tmp_path, rename):
    for answer in plan_answers(seeds=[188], **SMALL):
        touch(tmp_path / rename(answer.theme) / answer.file_name.replace("_", " ", 1))
    scan = scan_answers(tmp_path, **SMALL)
    assert len(scan.found) == scan.expected == 6 and not scan.extra, scan.extra
    assert scan.layout == "per-theme folders"


@pytest.mark.parametrize("given", ["", "esd", "esd/style50"])
def test_the_target_folder_is_found_below_a_method_folder(tmp_path, given):
    for answer in plan_answers(seeds=[188], **SMALL):
        touch(tmp_path / "esd" / "style50" / "Crayon" / answer.file_name)
    touch(tmp_path / "esd" / "style50" / "Van_Gogh" / "Crayon_Cats_seed188.jpg")  # another target
    scan = scan_answers(tmp_path / given, target="Crayon", **SMALL)
    assert scan.folder == tmp_path / "esd" / "style50" / "Crayon"
    assert len(scan.found) == 6 and not scan.missing
    scan.check()


def test_a_per_theme_set_is_not_mistaken_for_a_method_folder(tmp_path):
    for answer in plan_answers(seeds=[188, 288], **SMALL):
        touch(answer.path(tmp_path, per_theme=True))
    scan = scan_answers(tmp_path, target="Crayon", **SMALL)
    assert scan.folder == tmp_path and scan.layout == "per-theme folders"
    assert len(scan.found) == 12 and not scan.target_folders


def test_two_target_folders_below_a_method_folder_are_refused_by_name(tmp_path):
    for sub in ("style50", "style60"):
        for answer in plan_answers(seeds=[188], **SMALL):
            touch(tmp_path / "esd" / sub / "Crayon" / answer.file_name)
    with pytest.raises(
        ValueError,
        match=r"2 answer sets named after the target Crayon .*style50/Crayon, style60/Crayon",
    ):
        scan_answers(tmp_path / "esd", target="Crayon", **SMALL)
    assert len(scan_answers(tmp_path / "esd" / "style60", target="Crayon", **SMALL).found) == 6
