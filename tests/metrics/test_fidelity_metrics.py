"""Object targets' UA, IRA and CRA worked by hand on a second hand-made answer set, and the photo
class refused as a target (it is a theme of the answer set, not something unlearned)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from canvas_data.metrics.scores import (
    OBJECT,
    STYLE,
    Judged,
    average_over_targets,
    unlearning_scores,
)

THEMES = ["Monet", "Crayon", "Seed_Images"]
OBJECTS = ["Cats", "Dogs", "Human"]
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
    got = unlearning_scores(JUDGED, THEMES, OBJECTS, "Dogs")
    near(got.ua, 1 - Fraction(1, 3))  # Dogs called Dogs once in 3 themes
    near(got.ira, (Fraction(2, 3) + Fraction(3, 3)) / 2)  # Cats 2/3, Human 3/3
    # style classifier on the Cats and Human images, per style, photos left out:
    # Monet 2/2; Crayon 1/2 (its Cats image called Crayon, its Human image Monet)
    near(got.cra, (Fraction(2, 2) + Fraction(1, 2)) / 2)


def test_style_target_by_hand_and_the_average_over_targets():
    monet = unlearning_scores(JUDGED, THEMES, OBJECTS, "Monet")
    near(monet.ua, 1 - Fraction(2, 3))
    near(monet.ira, Fraction(2, 3))  # Crayon alone: Seed_Images is not a style
    near(monet.cra, (Fraction(1, 2) + Fraction(1, 2) + Fraction(2, 2)) / 3)
    dogs = unlearning_scores(JUDGED, THEMES, OBJECTS, "Dogs")
    cats = unlearning_scores(JUDGED, THEMES, OBJECTS, "Cats")
    avg = average_over_targets([(STYLE, monet), (OBJECT, dogs), (OBJECT, cats)])
    near(avg[OBJECT].ua, ((1 - Fraction(1, 3)) + (1 - Fraction(2, 3))) / 2)
    assert avg[STYLE].targets == 1 and avg[STYLE].ua == monet.ua


def test_the_photo_class_is_not_a_target():
    with pytest.raises(ValueError, match="photo class, not an unlearning target"):
        unlearning_scores(JUDGED, THEMES, OBJECTS, "Seed_Images")
