"""Answer-set names, prompts, and reading flat or per-theme folders with missing and extra files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from canvas_data.metrics.answers import (
    SEEDS,
    THEMES,
    Answer,
    parse_name,
    plan_answers,
    prompt_for,
    scan_answers,
)
from canvas_data.metrics.generate import shard_of_work
from canvas_data.taxonomy import OBJECTS_20, STYLES_50, STYLES_51

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


def release_names(folder: Path, seeds=(188,), name="{t}_{o}_seed{s}.jpg", per_theme=False):
    """An answer set as files with the given naming (contents do not matter to the scan)."""
    for t in THEMES:
        for o in OBJECTS_20:
            for s in seeds:
                path = (folder / t if per_theme else folder) / name.format(t=t, o=o, s=s)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    "name, per_theme, inside",
    [
        ("{t}_{o}_seed{s}.jpg", False, True),  # the release: method/style50/{target}/...
        ("{t}_{o}_seed_{s}.jpg", False, True),  # another toolkit's seed naming
        ("{t}_{o}_seed{s}.png", True, True),  # per-target folder holding theme folders
        ("{t}_{o}_seed_{s}.jpeg", False, False),  # flat, given directly
        ("{t}_{o}_seed{s}.jpg", True, False),  # per-theme folders, given directly
    ],
)
def test_every_layout_and_naming_of_a_seed_188_answer_set_is_read_whole(
    tmp_path, name, per_theme, inside
):
    root = tmp_path / "esd" / "style50"
    release_names(root / "Crayon" if inside else root, name=name, per_theme=per_theme)
    if inside:  # another target's answer set beside it is not read
        release_names(root / "Cats", name=name)
    scan = scan_answers(root, target="Crayon")
    assert scan.folder == (root / "Crayon" if inside else root)
    assert len(scan.found) == scan.expected == 51 * 20  # seeds present: 188 only
    assert not scan.missing and not scan.extra
    assert scan.seeds == [188] and scan.seeds_found == {188: 1020}
    assert scan.layout.startswith("in the target's folder") == inside
    assert scan.layout.endswith("per-theme folders" if per_theme else "flat")
    scan.check()  # nothing missing: no error
    if inside:
        cats = scan_answers(root, target="Cats")  # an object target's folder too
        assert cats.folder == root / "Cats" and len(cats.found) == 1020


def test_a_per_theme_folder_named_after_the_target_is_not_taken_for_a_target_folder(tmp_path):
    release_names(tmp_path, seeds=(188, 288), per_theme=True)
    (tmp_path / "Monet" / "Monet_Cats_seed188.jpg").rename(
        tmp_path / "Crayon" / "Monet_Cats_seed188.jpg"
    )
    scan = scan_answers(tmp_path, target="Crayon")
    assert scan.folder == tmp_path and scan.layout == "per-theme folders"
    assert len(scan.found) == 2039 and scan.seeds == [188, 288]
    assert [r for _, r in scan.extra] == ["a Monet image in the folder of Crayon"]


def test_seeds_present_are_expected_unless_given_and_too_many_missing_is_one_line(tmp_path):
    release_names(tmp_path / "Crayon", seeds=(188, 288))
    seed288 = sorted((tmp_path / "Crayon").glob("*_seed288.jpg"))
    for path in seed288[:102]:  # 102 of 2,040 = 5%: still allowed
        path.unlink()
    scan = scan_answers(tmp_path, target="Crayon")
    assert scan.seeds == [188, 288] and scan.seeds_found == {188: 1020, 288: 918}
    assert len(scan.missing) == 102
    scan.check()
    seed288[102].unlink()  # one more is too many
    scan = scan_answers(tmp_path, target="Crayon")
    with pytest.raises(ValueError) as err:
        scan.check()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path}: 1937 of 2040 answer images found (103 missing, 5%)")
    assert f"looked in {tmp_path / 'Crayon'} and its theme folders for" in message
    assert "{Theme}_{Object}_seed{seed}.jpg (or _seed_{seed}" in message
    assert "images per seed found: 188 (1020), 288 (917)" in message
    assert message.endswith("pass --allow-missing to score what is there")
    given = scan_answers(tmp_path, target="Crayon", seeds=[188])  # seeds given: only those
    assert given.seeds == [188] and len(given.found) == 1020 and not given.missing
    assert len(given.extra) == 917  # the seed-288 images, not asked for


def test_a_method_folder_without_target_says_to_pass_one(tmp_path):
    release_names(tmp_path / "Crayon")
    release_names(tmp_path / "Cats")
    scan = scan_answers(tmp_path)  # Crayon is read as a theme folder: its 20 Crayon images
    assert len(scan.found) == 20 and scan.seeds == [188]
    assert scan.target_folders == ["Cats", "Crayon"]
    with pytest.raises(ValueError, match="20 of 1020 answer images found") as err:
        scan.check()
    assert "its folders Cats, Crayon each hold an answer set: pass --target" in str(err.value)
    (tmp_path / "empty").mkdir()
    empty = scan_answers(tmp_path / "empty", themes=["Monet"], objects=["Cats"])
    assert empty.seeds == list(SEEDS) and empty.expected == 5  # none present: the five


def test_finer_scale_seeds_are_named_apart_and_read_only_for_the_cells_asked(tmp_path):
    from canvas_data.metrics.answers import FINE_SEED_START, fine_seeds, plan_fine_answers

    assert fine_seeds(3) == [FINE_SEED_START, FINE_SEED_START + 1, FINE_SEED_START + 2]
    assert fine_seeds(2, taken=[FINE_SEED_START, 5]) == [FINE_SEED_START + 1, FINE_SEED_START + 2]
    with pytest.raises(ValueError, match="0 or more"):
        fine_seeds(-1)
    fine = plan_fine_answers("Van_Gogh", "Cats", 3)
    assert [a.file_name for a in fine][0] == f"Van_Gogh_Cats_fine_seed{FINE_SEED_START}.jpg"
    for a in fine:
        assert parse_name(a.file_name, ["Van_Gogh"], ["Cats"]) == a and a.fine
    assert not parse_name("Van_Gogh_Cats_seed188.jpg", ["Van_Gogh"], ["Cats"]).fine

    themes, objects = ["Van_Gogh", "Monet"], ["Cats", "Dogs"]
    for a in [*plan_answers(themes, objects, [188]), *fine,
              *plan_fine_answers("Monet", "Dogs", 1)]:  # fmt: skip
        Image.new("RGB", (8, 8)).save(a.path(tmp_path))
    scan = scan_answers(tmp_path, themes, objects, target="Van_Gogh:Cats",
                        fine_cells=[("Van_Gogh", "Cats")])  # fmt: skip
    assert scan.seeds == [188] and not scan.missing and len(scan.found) == 4  # seeds: standard
    assert sorted(scan.fine) == fine
    assert [(p.name, why) for p, why in scan.extra] == [
        (f"Monet_Dogs_fine_seed{FINE_SEED_START}.jpg",
         "a finer-scale image of a cell the target does not read")
    ]  # fmt: skip
    plain = scan_answers(tmp_path, themes, objects)
    assert not plain.fine and len(plain.extra) == 4 and plain.seeds == [188]


# Answer sets as users write them: spaced or lower-case theme names, theme folders named so,
# and a method folder a few levels above the target's folder.


SMALL_spelled = {"themes": ["Van_Gogh", "Seed_Images", "Crayon"], "objects": ["Cats", "Human"]}


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
    for answer in plan_answers(seeds=[188], **SMALL_spelled):
        touch(tmp_path / rename(answer.theme) / answer.file_name.replace("_", " ", 1))
    scan = scan_answers(tmp_path, **SMALL_spelled)
    assert len(scan.found) == scan.expected == 6 and not scan.extra, scan.extra
    assert scan.layout == "per-theme folders"


@pytest.mark.parametrize("given", ["", "esd", "esd/style50"])
def test_the_target_folder_is_found_below_a_method_folder(tmp_path, given):
    for answer in plan_answers(seeds=[188], **SMALL_spelled):
        touch(tmp_path / "esd" / "style50" / "Crayon" / answer.file_name)
    touch(tmp_path / "esd" / "style50" / "Van_Gogh" / "Crayon_Cats_seed188.jpg")  # another target
    scan = scan_answers(tmp_path / given, target="Crayon", **SMALL_spelled)
    assert scan.folder == tmp_path / "esd" / "style50" / "Crayon"
    assert len(scan.found) == 6 and not scan.missing
    scan.check()


def test_a_per_theme_set_is_not_mistaken_for_a_method_folder(tmp_path):
    for answer in plan_answers(seeds=[188, 288], **SMALL_spelled):
        touch(answer.path(tmp_path, per_theme=True))
    scan = scan_answers(tmp_path, target="Crayon", **SMALL_spelled)
    assert scan.folder == tmp_path and scan.layout == "per-theme folders"
    assert len(scan.found) == 12 and not scan.target_folders


def test_two_target_folders_below_a_method_folder_are_refused_by_name(tmp_path):
    for sub in ("style50", "style60"):
        for answer in plan_answers(seeds=[188], **SMALL_spelled):
            touch(tmp_path / "esd" / sub / "Crayon" / answer.file_name)
    with pytest.raises(
        ValueError,
        match=r"2 answer sets named after the target Crayon .*style50/Crayon, style60/Crayon",
    ):
        scan_answers(tmp_path / "esd", target="Crayon", **SMALL_spelled)
    assert (
        len(scan_answers(tmp_path / "esd" / "style60", target="Crayon", **SMALL_spelled).found) == 6
    )
