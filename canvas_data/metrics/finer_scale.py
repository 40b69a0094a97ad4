"""Finer-scale unlearning: scores of a model made to forget one (style, object) combination.

The target is written ``Style:Object`` (``Van_Gogh:Cats``): the model should no longer draw that
object in that style, and should keep everything else. From the same answer set as the other
metrics (every theme x object x seed), with both classifiers:

- UA, unlearning accuracy: 1 - the hit rate on the target's cell (``Van_Gogh`` x ``Cats``);
- SC, style consistency: the hit rate on the cells of the target's style with the other objects;
- OC, object consistency: the hit rate on the cells of the target's object in the other styles;
- UP, unrelated preservation: the hit rate on every cell with neither the style nor the object.

Source: the paper's later versions (arXiv 2402.11846 v2 and later), "unlearning at a finer
scale", which names these four scores (UA, SC, OC, UP). The paper does not say how the two
classifiers combine, so the rule is ours and stated in every result:

- ``both`` (default): an image is a hit when the style classifier names its style *and* the
  object classifier names its object: the image still is that object in that style. For the
  target this is the one reading under which unlearning the combination (not the style, not the
  object) is measured: an unlearned model may keep the object or the style alone.
- ``style`` / ``object``: a hit is the style (or object) classifier alone being right.

Each score is the mean over its cells of the cell's hit rate (cells without images left out);
``Seed_Images`` (photos) is not a style, so OC and UP leave its cells out, as the IRA of a
style target does, unless ``Definitions.ira_includes_photos``. The result also holds every
score under all three rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from canvas_data.metrics.scores import BENCHMARK, Definitions, Judged, cell_mean
from canvas_data.taxonomy import SEED_STYLE

COMBINATION = "combination"
RULES = ("both", "style", "object")
SOURCE = (
    "UnlearnCanvas paper, arXiv 2402.11846 v2 and later, 'unlearning at a finer scale' (UA, SC, "
    "OC, UP); how the two classifiers combine into a hit is this toolkit's choice (rule)"
)


@dataclass(frozen=True)
class CombinationScores:
    """UA, SC, OC and UP of one combination target, as fractions (``None``: nothing measured)."""

    ua: float | None
    sc: float | None
    oc: float | None
    up: float | None
    images: dict[str, int] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, float | None]:
        return {"UA": self.ua, "SC": self.sc, "OC": self.oc, "UP": self.up}


def parse_combination(
    target: str, themes: Sequence[str], objects: Sequence[str]
) -> tuple[str, str] | None:
    """``(style, object)`` of a ``Style:Object`` target, ``None`` for a plain target.

    Errors: ``ValueError`` when the style is not a style of the answer set (``Seed_Images`` is
    not one) or the object is not one of its objects.
    """
    if ":" not in target:
        return None
    style, _, obj = target.partition(":")
    if style not in themes or style == SEED_STYLE:
        raise ValueError(
            f"combination target {target!r}: {style!r} is not a style of this answer set "
            "(write Style:Object, e.g. Van_Gogh:Cats)"
        )
    if obj not in objects:
        raise ValueError(
            f"combination target {target!r}: {obj!r} is not an object of this answer set "
            "(write Style:Object, e.g. Van_Gogh:Cats)"
        )
    return style, obj


def _hit(rule: str) -> Callable[[Judged], bool]:
    if rule == "both":
        return lambda j: j.style_pred == j.theme and j.object_pred == j.obj
    if rule == "style":
        return lambda j: j.style_pred == j.theme
    if rule == "object":
        return lambda j: j.object_pred == j.obj
    raise ValueError(f"unknown combination rule {rule!r}; use {', '.join(RULES)}")


def combination_scores(
    judged: Sequence[Judged],
    style: str,
    obj: str,
    rule: str = "both",
    definitions: Definitions = BENCHMARK,
) -> CombinationScores:
    """UA, SC, OC and UP of the target ``style:obj`` under ``rule`` (see the module docstring);
    ``images`` says how many images each rests on."""
    hit = _hit(rule)
    styled = definitions.counts_as_style
    cells: dict[str, Callable[[Judged], bool]] = {
        "UA": lambda j: j.theme == style and j.obj == obj,
        "SC": lambda j: j.theme == style and j.obj != obj,
        "OC": lambda j: j.obj == obj and j.theme != style and styled(j.theme),
        "UP": lambda j: j.theme != style and j.obj != obj and styled(j.theme),
    }
    got = {name: cell_mean(judged, keep, hit) for name, keep in cells.items()}
    target = got["UA"][0]
    return CombinationScores(
        ua=None if target is None else 1.0 - target,
        sc=got["SC"][0],
        oc=got["OC"][0],
        up=got["UP"][0],
        images={name: n for name, (_, n) in got.items()},
    )


def describe(rule: str, definitions: Definitions = BENCHMARK) -> dict[str, Any]:
    """The definitions of a combination result in words, with their source."""
    hit = {
        "both": "the style classifier names its style and the object classifier its object",
        "style": "the style classifier names its style",
        "object": "the object classifier names its object",
    }[rule]
    photos = "included" if definitions.ira_includes_photos else "excluded (not a style)"
    return {
        "rule": rule,
        "hit": f"an image is a hit when {hit}",
        "ua": "1 - the hit rate on the target's cell (its style with its object)",
        "sc": "mean hit rate over the cells of the target's style with the other objects",
        "oc": f"mean hit rate over the cells of the target's object in the other styles "
        f"(Seed_Images {photos})",
        "up": f"mean hit rate over the cells with neither the target's style nor its object "
        f"(Seed_Images {photos})",
        "ira_includes_photos": definitions.ira_includes_photos,
        "source": SOURCE,
    }


def combination_result(
    judged: Sequence[Judged],
    style: str,
    obj: str,
    rule: str = "both",
    definitions: Definitions = BENCHMARK,
) -> dict[str, Any]:
    """The ``scores`` (under ``rule``), the images each rests on, the same scores under every
    rule, and the definitions."""
    _hit(rule)  # an unknown rule fails before anything is computed
    chosen = combination_scores(judged, style, obj, rule, definitions)
    return {
        "scores": chosen.as_dict(),
        "images_per_score": chosen.images,
        "by_rule": {
            r: combination_scores(judged, style, obj, r, definitions).as_dict() for r in RULES
        },
        "definitions": describe(rule, definitions),
    }
