"""Answer-set names, prompts, and reading flat or per-theme folders with missing and extra files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from canvas_data.answers import (
    SEEDS,
    THEMES,
    Answer,
    parse_name,
    plan_answers,
    prompt_for,
    scan_answers,
)
from canvas_data.generate_answers import shard_of_work
from canvas_data.taxonomy import OBJECTS_20, STYLES_50

SMALL = {"themes": ["Van_Gogh", "Seed_Images"], "objects": ["Cats", "Human"], "seeds": [188, 288]}


def touch_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path)


def test_the_full_answer_set_is_51_themes_by_20_objects_by_5_seeds():
    answers = plan_answers()
    assert len(answers) == 51 * 20 * 5 == 5100
    assert THEMES[38] == "Seed_Images" and set(THEMES) - {"Seed_Images"} == set(STYLES_50)
    assert SEEDS == (188, 288, 588, 688, 888)
    assert answers[0].file_name == "Abstractionism_Architectures_seed188.jpg"
    with pytest.raises(ValueError, match="duplicate seeds"):
        plan_answers(seeds=[188, 188])
    with pytest.raises(ValueError, match="no themes"):
        plan_answers(themes=[])


def test_names_round_trip_with_underscores_in_theme_names():
    for answer in plan_answers():
        assert parse_name(answer.file_name, THEMES, OBJECTS_20) == answer
    assert parse_name("Van_Gogh_Cats_seed188.png", THEMES, OBJECTS_20) == Answer(
        "Van_Gogh", "Cats", 188
    )
    for bad in ("Van_Gogh_Cats.jpg", "Van_Gogh_Dogz_seed188.jpg", "Nope_Cats_seed1.jpg",
                "Van_Gogh_Cats_seed188.txt", "Van_Gogh_Cats_seedX.jpg"):  # fmt: skip
        assert parse_name(bad, THEMES, OBJECTS_20) is None, bad


def test_prompts():
    arch = Answer("Seed_Images", "Architectures", 188)
    cats = Answer("Van_Gogh", "Cats", 188)
    assert prompt_for(arch) == "An Architectures image in photo style"
    assert prompt_for(cats) == "A Cats image in Van Gogh style"
    assert prompt_for(arch, "release") == "A Architectures image in Seed Images style."
    assert prompt_for(cats, "{article} {object}, {theme}") == "A Cats, Van Gogh"
    with pytest.raises(ValueError, match="prompt template"):
        prompt_for(cats, "a {colour} {object}")


@pytest.mark.parametrize("per_theme", [False, True])
def test_scan_reads_flat_and_per_theme_layouts(tmp_path, per_theme):
    for answer in plan_answers(**SMALL):
        touch_image(answer.path(tmp_path, per_theme))
    (tmp_path / "accuracy.json").write_text("{}")  # reports beside the images are ignored
    (tmp_path / ".Van_Gogh_Cats_seed588.jpg.partial-12").write_bytes(b"")
    scan = scan_answers(tmp_path, **SMALL)
    assert len(scan.found) == scan.expected == 8
    assert not scan.missing and not scan.extra
    assert scan.found[Answer("Van_Gogh", "Cats", 188)] == Answer("Van_Gogh", "Cats", 188).path(
        tmp_path, per_theme
    )


def test_scan_lists_missing_and_extra_files_with_reasons(tmp_path):
    answers = plan_answers(**SMALL)
    for answer in answers[1:]:
        touch_image(answer.path(tmp_path))
    touch_image(tmp_path / "Van_Gogh" / "Van_Gogh_Cats_seed188.jpg")  # a second copy
    touch_image(tmp_path / "Van_Gogh" / "Seed_Images_Human_seed188.jpg")  # wrong theme folder
    touch_image(tmp_path / "Van_Gogh_Cats_seed999.jpg")  # seed not asked for
    touch_image(tmp_path / "Monet_Cats_seed188.jpg")  # theme not asked for
    touch_image(tmp_path / "cat.jpg")  # not an answer name
    touch_image(tmp_path / "misc" / "x.jpg")  # a folder that is not a theme
    scan = scan_answers(tmp_path, **SMALL)
    assert scan.missing == [answers[0]]
    reasons = {p.relative_to(tmp_path).as_posix(): r for p, r in scan.extra}
    assert reasons["Van_Gogh/Seed_Images_Human_seed188.jpg"].startswith("a Seed_Images image")
    assert reasons["Van_Gogh_Cats_seed999.jpg"] == "not in the expected themes, objects and seeds"
    assert reasons["Monet_Cats_seed188.jpg"] == "not in the expected themes, objects and seeds"
    assert reasons["cat.jpg"].startswith("not named")
    assert reasons["misc"] == "a folder that is not a theme"
    copies = [r for r in reasons.values() if r.startswith("a second copy")]
    assert len(copies) == 1
    assert len(scan.found) == 7
    assert scan.summary().endswith("7 of 8 answer images, 1 missing, 6 extra")


def test_scan_of_a_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such answer folder"):
        scan_answers(tmp_path / "nope")


def test_shares_are_disjoint_and_cover_everything():
    answers = plan_answers(**SMALL)
    shares = [shard_of_work(answers, 3, i) for i in range(3)]
    assert sorted(a for s in shares for a in s) == answers
    assert len({a for s in shares for a in s}) == len(answers)
    with pytest.raises(ValueError, match="shard index"):
        shard_of_work(answers, 3, 3)
