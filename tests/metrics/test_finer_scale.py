"""Finer-scale (style x object) unlearning scores on hand-made classifier answers, every expected
value worked by hand, under each rule and with or without the photos."""

from __future__ import annotations

from fractions import Fraction

import pytest

from canvas_data.metrics.finer_scale import (
    combination_result,
    combination_scores,
    describe,
    parse_combination,
)
from canvas_data.metrics.scores import Definitions, Judged

THEMES = ["Monet", "Van_Gogh", "Seed_Images"]
OBJECTS = ["Cats", "Human"]
# (theme, object) -> what the (style, object) classifiers say about seeds 188 and 288.
SAYS = {
    ("Van_Gogh", "Cats"): [("Van_Gogh", "Cats"), ("Van_Gogh", "Human")],  # the target
    ("Van_Gogh", "Human"): [("Monet", "Human"), ("Van_Gogh", "Human")],  # SC
    ("Monet", "Cats"): [("Monet", "Cats"), ("Monet", "Cats")],  # OC
    ("Seed_Images", "Cats"): [("Monet", "Cats"), ("Seed_Images", "Human")],  # OC with photos
    ("Monet", "Human"): [("Van_Gogh", "Human"), ("Monet", "Cats")],  # UP
    ("Seed_Images", "Human"): [("Seed_Images", "Human")] * 2,  # UP with photos
}
PHOTOS = Definitions(ira_includes_photos=True)


def judged() -> list[Judged]:
    return [
        Judged(theme, obj, seed, style, what)
        for (theme, obj), said in SAYS.items()
        for seed, (style, what) in zip((188, 288), said, strict=True)
    ]


def exact(scores, expected: dict[str, Fraction]) -> None:
    got = scores.as_dict() if hasattr(scores, "as_dict") else scores
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), abs=1e-15), key


F = Fraction


def test_scores_under_each_rule():
    exact(combination_scores(judged(), "Van_Gogh", "Cats"),
          {"UA": F(1, 2), "SC": F(1, 2), "OC": F(1), "UP": F(0)})  # fmt: skip
    exact(combination_scores(judged(), "Van_Gogh", "Cats", "style"),
          {"UA": F(0), "SC": F(1, 2), "OC": F(1), "UP": F(1, 2)})  # fmt: skip
    exact(combination_scores(judged(), "Van_Gogh", "Cats", "object"),
          {"UA": F(1, 2), "SC": F(1), "OC": F(1), "UP": F(1, 2)})  # fmt: skip


def test_photos_count_as_a_style_only_when_asked():
    # OC: Monet (1) and Seed_Images (0, 1/2, 1/2); UP: Monet (0, 1/2, 1/2) and Seed_Images (1).
    exact(combination_scores(judged(), "Van_Gogh", "Cats", "both", PHOTOS),
          {"UA": F(1, 2), "SC": F(1, 2), "OC": F(1, 2), "UP": F(1, 2)})  # fmt: skip
    exact(combination_scores(judged(), "Van_Gogh", "Cats", "style", PHOTOS),
          {"UA": F(0), "SC": F(1, 2), "OC": F(3, 4), "UP": F(3, 4)})  # fmt: skip


def test_cells_are_averaged_and_empty_ones_left_out():
    partial = [j for j in judged() if not (j.theme == "Monet" and j.seed == 288)]
    # Monet x Cats has one image left (a hit), Monet x Human one (a miss under "both").
    exact(combination_scores(partial, "Van_Gogh", "Cats", "both", PHOTOS),
          {"UA": F(1, 2), "SC": F(1, 2), "OC": F(1, 2), "UP": F(1, 2)})  # fmt: skip
    nothing = combination_scores([], "Van_Gogh", "Cats")
    assert nothing.as_dict() == {"UA": None, "SC": None, "OC": None, "UP": None}


def test_result_holds_every_rule_and_its_definitions():
    result = combination_result(judged(), "Van_Gogh", "Cats", "style")
    exact(result["scores"], {"UA": F(0), "SC": F(1, 2), "OC": F(1), "UP": F(1, 2)})
    assert set(result["by_rule"]) == {"both", "style", "object"}
    assert result["by_rule"]["both"]["UP"] == 0
    said = result["definitions"]
    assert said["rule"] == "style" and "style classifier names its style" in said["hit"]
    assert "finer scale" in said["source"] and "Seed_Images excluded" in said["oc"]
    assert "Seed_Images included" in describe("both", PHOTOS)["up"]
    with pytest.raises(ValueError, match="unknown combination rule 'either'"):
        combination_result(judged(), "Van_Gogh", "Cats", "either")


def test_targets_are_parsed_and_checked():
    assert parse_combination("Van_Gogh:Cats", THEMES, OBJECTS) == ("Van_Gogh", "Cats")
    assert parse_combination("Van_Gogh", THEMES, OBJECTS) is None
    for bad, message in (
        ("Seed_Images:Cats", "'Seed_Images' is not a style"),
        ("Dogs:Cats", "'Dogs' is not a style"),
        ("Van_Gogh:Dogs", "'Dogs' is not an object"),
        ("Van_Gogh:", "'' is not an object"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_combination(bad, THEMES, OBJECTS)
