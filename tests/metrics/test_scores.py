"""UA, IRA and CRA on a hand-made set of classifier answers, every expected value worked by hand,
under the benchmark's definitions and the optional ones."""

from __future__ import annotations

from fractions import Fraction

import pytest

from canvas_data.metrics.scores import (
    BENCHMARK,
    OBJECT,
    STYLE,
    ConceptAccuracy,
    Definitions,
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
OBJECT_SAYS = {  # Cats: 2 of 6 right; Human: 4 of 6 (every Monet image wrong)
    "Monet": ["Human", "Human", "Cats", "Cats"],
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
    assert objects == {"Cats": ConceptAccuracy(6, 2), "Human": ConceptAccuracy(6, 4)}
    assert [a.accuracy for a in style.values()] == [0.25, 0.75, 1.0]
    assert list(objects) == OBJECTS


PHOTOS = Definitions(ira_includes_photos=True)
ALL_IMAGES = Definitions(cra="whole-table")


def scores(target, definitions=BENCHMARK):
    return unlearning_scores(judged(), THEMES, OBJECTS, target, definitions)


def test_style_target():
    s = scores("Monet")
    exact(s.ua, Fraction(3, 4))  # 1 - 1/4
    exact(s.ira, Fraction(3, 4))  # the other styles, Seed_Images not one: Van_Gogh 3/4
    # The object classifier on the images of Van_Gogh and Seed_Images: Cats 2/4, Human 4/4.
    exact(s.cra, Fraction(3, 4))
    exact(scores("Monet", PHOTOS).ira, Fraction(7, 8))  # (3/4 + 4/4) / 2
    exact(scores("Monet", ALL_IMAGES).cra, Fraction(1, 2))  # every image: (2/6 + 4/6) / 2
    assert scores("Monet", PHOTOS).cra == s.cra and scores("Monet", ALL_IMAGES).ira == s.ira
    v = scores("Van_Gogh")
    exact(v.ua, Fraction(1, 4))
    exact(v.ira, Fraction(1, 4))  # Monet
    exact(v.cra, Fraction(3, 8))  # Monet and Seed_Images images: Cats 1/4, Human 2/4
    exact(scores("Van_Gogh", PHOTOS).ira, Fraction(5, 8))  # (1/4 + 1) / 2


def test_object_target():
    s = scores("Cats")
    exact(s.ua, Fraction(2, 3))  # 1 - 2/6
    exact(s.ira, Fraction(2, 3))  # Human: 4/6
    # The style classifier on the Human images, over the styles (not Seed_Images):
    # Monet 0/2, Van_Gogh 1/2.
    exact(s.cra, Fraction(1, 4))
    # Every image, every theme: (1/4 + 3/4 + 4/4) / 3.
    exact(scores("Cats", ALL_IMAGES).cra, Fraction(2, 3))
    assert scores("Cats", PHOTOS) == s  # photos only change the IRA of a style target
    assert s.as_dict() == {"UA": s.ua, "IRA": s.ira, "CRA": s.cra}


def test_definitions_are_described_and_read_back():
    said = Definitions().describe()
    assert "Seed_Images excluded" in said["ira"] and "issues/13" in said["source"]
    assert "other theme" in said["cra"]
    assert Definitions.from_result(said) == Definitions()
    both = Definitions(True, "whole-table")
    assert Definitions.from_result(both.describe()) == both
    assert "and Seed_Images" in both.describe()["ira"]
    assert both.describe()["source"].startswith("changed from the benchmark's definitions")
    assert Definitions.from_result(None) == both  # results written before definitions existed


def test_averaging_over_targets_is_per_domain():
    pairs = [(STYLE, scores("Monet")), (STYLE, scores("Van_Gogh")), (OBJECT, scores("Cats"))]
    avg = average_over_targets(pairs)
    assert avg[STYLE].targets == 2 and avg[OBJECT].targets == 1
    exact(avg[STYLE].ua, Fraction(1, 2))  # (3/4 + 1/4) / 2
    exact(avg[STYLE].ira, Fraction(1, 2))  # (3/4 + 1/4) / 2
    exact(avg[STYLE].cra, Fraction(9, 16))  # (3/4 + 3/8) / 2
    exact(avg[OBJECT].ua, Fraction(2, 3))
    exact(avg[OBJECT].cra, Fraction(1, 4))
    assert avg[STYLE].as_dict()["targets"] == 2


def test_missing_images_leave_concepts_out_instead_of_counting_zero():
    partial = [j for j in judged() if j.theme != "Seed_Images"]
    style = concept_accuracy(partial, STYLE, THEMES)
    assert style["Seed_Images"] == ConceptAccuracy(0, 0)
    assert style["Seed_Images"].accuracy is None
    exact(mean_accuracy(style), Fraction(1, 2))  # (1/4 + 3/4) / 2, Seed_Images not counted
    for definitions in (Definitions(), PHOTOS):
        got = unlearning_scores(partial, THEMES, OBJECTS, "Monet", definitions)
        exact(got.ira, Fraction(3, 4))  # Van_Gogh alone either way
    empty = unlearning_scores([], THEMES, OBJECTS, "Monet")
    assert empty.ua is None and empty.ira is None and empty.cra is None
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


def test_cra_definitions_by_name():
    readme, published = Definitions(), Definitions(cra="all-images")
    # Style target: every image, the object classifier: (2/6 + 4/6) / 2, as whole-table.
    exact(scores("Monet", published).cra, Fraction(1, 2))
    # Object target: every image, the styles without Seed_Images: (1/4 + 3/4) / 2.
    exact(scores("Cats", published).cra, Fraction(1, 2))
    assert scores("Cats", published).ira == scores("Cats", readme).ira
    assert scores("Cats", published).images == {"UA": 6, "IRA": 6, "CRA": 8}
    assert scores("Cats", readme).images == {"UA": 6, "IRA": 6, "CRA": 4}  # Human images, styles
    assert Definitions.from_result(published.describe()) == published
    assert published.describe()["cra_definition"] == "all-images"
    assert Definitions.from_result({"cra_on_all_images": True}) == ALL_IMAGES  # before the names
    with pytest.raises(ValueError, match="unknown CRA definition 'all-image'.*all-images"):
        Definitions(cra="all-image")


def test_forgetting_several_targets_scores_each():
    from canvas_data.metrics.scores import forgetting_scores

    got = forgetting_scores(judged(), THEMES, OBJECTS, ["Monet", "Van_Gogh"])
    exact(got.ua["Monet"], Fraction(3, 4))
    exact(got.ua["Van_Gogh"], Fraction(1, 4))
    assert got.ira is None  # no style left but the photos, which are not one
    exact(got.cra, Fraction(3, 4))  # the Seed_Images images: (Cats 1/2 + Human 2/2) / 2
    both = forgetting_scores(judged(), THEMES, OBJECTS, ["Monet", "Cats"])
    assert both.cra is None and both.images["CRA"] == 0
    exact(both.ira, Fraction(3, 4) * Fraction(1, 2) + Fraction(4, 6) * Fraction(1, 2))


# Object targets' UA, IRA and CRA worked by hand on a second hand-made answer set, and the photo
# class refused as a target (it is a theme of the answer set, not something unlearned).


THEMES_hand = ["Monet", "Crayon", "Seed_Images"]
OBJECTS_hand = ["Cats", "Dogs", "Human"]
# (theme, object) -> (style classifier's answer, object classifier's answer), one seed.
SAYS = {
    ("Monet", "Cats"): ("Monet", "Cats"),
    ("Monet", "Dogs"): ("Crayon", "Cats"),
    ("Monet", "Human"): ("Monet", "Human"),
    ("Crayon", "Cats"): ("Crayon", "Dogs"),
    ("Crayon", "Dogs"): ("Crayon", "Dogs"),
    ("Crayon", "Human"): ("Monet", "Human"),
    ("Seed_Images", "Cats"): ("Seed_Images", "Cats"),
    ("Seed_Images", "Dogs"): ("Monet", "Human"),
    ("Seed_Images", "Human"): ("Seed_Images", "Human"),
}
JUDGED = [Judged(t, o, 188, s, w) for (t, o), (s, w) in SAYS.items()]


def near(value, expected: Fraction) -> None:
    assert value == pytest.approx(float(expected), abs=1e-12)


def test_object_target_by_hand():
    got = unlearning_scores(JUDGED, THEMES_hand, OBJECTS_hand, "Dogs")
    near(got.ua, 1 - Fraction(1, 3))  # Dogs called Dogs once in 3 themes
    near(got.ira, (Fraction(2, 3) + Fraction(3, 3)) / 2)  # Cats 2/3, Human 3/3
    # style classifier on the Cats and Human images, per style, photos left out:
    # Monet 2/2; Crayon 1/2 (its Cats image called Crayon, its Human image Monet)
    near(got.cra, (Fraction(2, 2) + Fraction(1, 2)) / 2)


def test_style_target_by_hand_and_the_average_over_targets():
    monet = unlearning_scores(JUDGED, THEMES_hand, OBJECTS_hand, "Monet")
    near(monet.ua, 1 - Fraction(2, 3))
    near(monet.ira, Fraction(2, 3))  # Crayon alone: Seed_Images is not a style
    near(monet.cra, (Fraction(1, 2) + Fraction(1, 2) + Fraction(2, 2)) / 3)
    dogs = unlearning_scores(JUDGED, THEMES_hand, OBJECTS_hand, "Dogs")
    cats = unlearning_scores(JUDGED, THEMES_hand, OBJECTS_hand, "Cats")
    avg = average_over_targets([(STYLE, monet), (OBJECT, dogs), (OBJECT, cats)])
    near(avg[OBJECT].ua, ((1 - Fraction(1, 3)) + (1 - Fraction(2, 3))) / 2)
    assert avg[STYLE].targets == 1 and avg[STYLE].ua == monet.ua


def test_the_photo_class_is_not_a_target():
    with pytest.raises(ValueError, match="photo class, not an unlearning target"):
        unlearning_scores(JUDGED, THEMES_hand, OBJECTS_hand, "Seed_Images")


# An unknown target gets the closest name and the valid ones.


def test_an_unknown_target_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        target_domain("VanGogh", ["Van_Gogh", "Monet"], ["Cats", "Dogs"])
    message = str(err.value)
    assert "(did you mean 'Van_Gogh'?)" in message
    assert "valid targets: Van_Gogh, Monet, Cats, Dogs" in message


def test_the_valid_targets_named_leave_out_the_photo_class():
    with pytest.raises(ValueError, match="valid targets: Van_Gogh, Cats$"):
        target_domain("Winter", ["Van_Gogh", "Seed_Images"], ["Cats"])
