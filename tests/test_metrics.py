"""UA, IRA and CRA on a hand-made set of classifier answers, every expected value worked by hand."""

from __future__ import annotations

from fractions import Fraction

import pytest

from canvas_data.metrics import (
    OBJECT,
    STYLE,
    ConceptAccuracy,
    Judged,
    Scores,
    average_over_targets,
    concept_accuracy,
    mean_accuracy,
    target_domain,
    unlearning_scores,
)

THEMES = ["Monet", "Van_Gogh", "Seed_Images"]
OBJECTS = ["Cats", "Human"]

# What the style classifier says about each theme's 4 images (Cats 188, Cats 288, Human 188,
# Human 288), and what the object classifier says, image by image.
STYLE_SAYS = {
    "Monet": ["Monet", "Van_Gogh", "Van_Gogh", "Van_Gogh"],  # 1 of 4
    "Van_Gogh": ["Van_Gogh", "Van_Gogh", "Van_Gogh", "Monet"],  # 3 of 4
    "Seed_Images": ["Seed_Images"] * 4,  # 4 of 4
}
OBJECT_SAYS = {  # Cats: 3 of 6 right; Human: 6 of 6
    "Monet": ["Human", "Cats", "Human", "Human"],
    "Van_Gogh": ["Cats", "Human", "Human", "Human"],
    "Seed_Images": ["Cats", "Human", "Human", "Human"],
}


def judged() -> list[Judged]:
    out = []
    for theme in THEMES:
        cells = [(o, s) for o in OBJECTS for s in (188, 288)]
        for (obj, seed), style, what in zip(
            cells, STYLE_SAYS[theme], OBJECT_SAYS[theme], strict=True
        ):
            out.append(Judged(theme, obj, seed, style, what))
    return out


def exact(value: float | None, expected: Fraction) -> None:
    assert value is not None
    assert Fraction(value).limit_denominator(1000) == expected
    assert value == pytest.approx(float(expected), abs=1e-15)


def test_per_concept_accuracy_counts_hits_over_every_image_of_the_concept():
    style = concept_accuracy(judged(), STYLE, THEMES)
    assert style == {
        "Monet": ConceptAccuracy(4, 1),
        "Van_Gogh": ConceptAccuracy(4, 3),
        "Seed_Images": ConceptAccuracy(4, 4),
    }
    objects = concept_accuracy(judged(), OBJECT, OBJECTS)
    assert objects == {"Cats": ConceptAccuracy(6, 3), "Human": ConceptAccuracy(6, 6)}
    assert [a.accuracy for a in style.values()] == [0.25, 0.75, 1.0]
    assert list(objects) == OBJECTS


def test_style_target():
    style = concept_accuracy(judged(), STYLE, THEMES)
    objects = concept_accuracy(judged(), OBJECT, OBJECTS)
    s = unlearning_scores(style, objects, "Monet")
    exact(s.ua, Fraction(3, 4))  # 1 - 1/4
    exact(s.ira, Fraction(7, 8))  # (3/4 + 4/4) / 2: Van_Gogh and Seed_Images
    exact(s.cra, Fraction(3, 4))  # (3/6 + 6/6) / 2: the object classifier
    v = unlearning_scores(style, objects, "Van_Gogh")
    exact(v.ua, Fraction(1, 4))
    exact(v.ira, Fraction(5, 8))  # (1/4 + 1) / 2
    exact(v.cra, Fraction(3, 4))


def test_object_target():
    style = concept_accuracy(judged(), STYLE, THEMES)
    objects = concept_accuracy(judged(), OBJECT, OBJECTS)
    s = unlearning_scores(style, objects, "Cats")
    exact(s.ua, Fraction(1, 2))  # 1 - 3/6
    exact(s.ira, Fraction(1))  # Human: 6/6
    exact(s.cra, Fraction(2, 3))  # (1/4 + 3/4 + 1) / 3: the style classifier over the themes
    assert s.as_dict() == {"UA": s.ua, "IRA": s.ira, "CRA": s.cra}


def test_averaging_over_targets_is_per_domain():
    style = concept_accuracy(judged(), STYLE, THEMES)
    objects = concept_accuracy(judged(), OBJECT, OBJECTS)
    pairs = [
        (STYLE, unlearning_scores(style, objects, "Monet")),
        (STYLE, unlearning_scores(style, objects, "Van_Gogh")),
        (OBJECT, unlearning_scores(style, objects, "Cats")),
    ]
    avg = average_over_targets(pairs)
    assert avg[STYLE].targets == 2 and avg[OBJECT].targets == 1
    exact(avg[STYLE].ua, Fraction(1, 2))  # (3/4 + 1/4) / 2
    exact(avg[STYLE].ira, Fraction(3, 4))  # (7/8 + 5/8) / 2
    exact(avg[STYLE].cra, Fraction(3, 4))
    exact(avg[OBJECT].ua, Fraction(1, 2))
    exact(avg[OBJECT].cra, Fraction(2, 3))
    assert avg[STYLE].as_dict()["targets"] == 2


def test_missing_images_leave_concepts_out_instead_of_counting_zero():
    partial = [j for j in judged() if j.theme != "Seed_Images"]
    style = concept_accuracy(partial, STYLE, THEMES)
    assert style["Seed_Images"] == ConceptAccuracy(0, 0)
    assert style["Seed_Images"].accuracy is None
    exact(mean_accuracy(style), Fraction(1, 2))  # (1/4 + 3/4) / 2, Seed_Images not counted
    objects = concept_accuracy(partial, OBJECT, OBJECTS)
    exact(unlearning_scores(style, objects, "Monet").ira, Fraction(3, 4))
    empty = concept_accuracy([], STYLE, THEMES)
    assert unlearning_scores(empty, objects, "Monet").ua is None
    assert average_over_targets([(STYLE, Scores(None, None, None))])[STYLE].ua is None
    assert average_over_targets([])[OBJECT].targets == 0


def test_targets_and_domains_are_checked():
    assert target_domain("Monet", THEMES, OBJECTS) == STYLE
    assert target_domain("Cats", THEMES, OBJECTS) == OBJECT
    with pytest.raises(ValueError, match="neither a theme nor an object"):
        target_domain("Dogs", THEMES, OBJECTS)
    with pytest.raises(ValueError, match="unknown domain"):
        concept_accuracy(judged(), "colour", THEMES)
    with pytest.raises(ValueError, match="unknown domain"):
        average_over_targets([("colour", Scores(0, 0, 0))])
