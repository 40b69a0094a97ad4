"""The unlearning metrics, from what the two classifiers said about an answer set.

Per-concept accuracy: for a theme, the share of its images (every object x seed) that the style
classifier calls that theme; for an object, the share of its images (every theme x seed) that the
object classifier calls that object. For an unlearning target of one domain (style or object),
by default (``Definitions()``, the benchmark's own definitions):

- UA, unlearning accuracy: 1 - the accuracy on the target (its images, the target's classifier);
- IRA, in-domain retain accuracy: the mean accuracy over the other concepts of that domain. The
  style domain is the 50 styles: ``Seed_Images`` (photos) is not a style, so the IRA of a style
  target is the mean over the other 49 styles. Source: the maintainers' answer in the release's
  GitHub ``issues/13`` ("the accuracy for the other **49** styles is IRA"; style_50.pth for UA/IRA).
- CRA, cross-domain retain accuracy: the other domain's classifier on the images that do not
  involve the target, mean over that domain's concepts: for a style target, the object classifier
  on the images of every other theme (photos included: they are images of the objects), mean over
  the 20 objects; for an object target, the style classifier on the images of the other objects,
  mean over the 50 styles. Source: the release's ``machine_unlearning/README.md`` ("any images
  generated involving the unlearned target will be considered for unlearning accuracy
  calculation ... For other images, the retaining accuracy ... will be calculated separately";
  "style_50.pth is only used for UA/IRA evaluation, when it comes to CRA evaluation,
  object_50.pth is used instead", ``issues/13``).

``Definitions(ira_includes_photos=True)`` counts ``Seed_Images`` among the styles in the IRA of a
style target; ``Definitions(cra_on_all_images=True)`` takes the CRA as the mean of the other
classifier's whole per-concept table (every image, the target's included; for an object target
the 51 themes), as the release's ``accuracy.py`` prints it. Both together give the plain means of
the release script's tables.

The benchmark's table averages each over the style targets and, apart, over the object targets.
These are plain functions over plain data, so they can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canvas_data.suggest import did_you_mean
from canvas_data.taxonomy import SEED_STYLE

STYLE, OBJECT = "style", "object"
DOMAINS = (STYLE, OBJECT)
SOURCE = (
    "UnlearnCanvas release: the maintainers' answer in "
    "github.com/OPTML-Group/UnlearnCanvas/issues/13 (IRA of a style target = the other 49 "
    "styles, Seed_Images excluded; UA/IRA with the style classifier, CRA with the object "
    "classifier) and machine_unlearning/README.md (retain accuracies on the images that do not "
    "involve the target)"
)


@dataclass(frozen=True)
class Definitions:
    """Which images and concepts IRA and CRA average over (the defaults are the benchmark's).

    ``ira_includes_photos``: the IRA of a style target also averages ``Seed_Images``.
    ``cra_on_all_images``: the CRA is the mean of the other classifier's whole per-concept table
    (every image, the target's too; for an object target, every theme, ``Seed_Images`` too).
    """

    ira_includes_photos: bool = False
    cra_on_all_images: bool = False

    def describe(self) -> dict[str, Any]:
        """The definitions in words, with their source, for a result file."""
        photos = "and Seed_Images" if self.ira_includes_photos else "(Seed_Images excluded)"
        if self.cra_on_all_images:
            cra = (
                "style target: object classifier, mean over the objects of their accuracy on "
                "every image (the target's too); object target: style classifier, mean over "
                "every theme (Seed_Images too) of its accuracy on every image"
            )
        else:
            cra = (
                "style target: object classifier, mean over the objects of their accuracy on "
                "the images of every other theme (Seed_Images photos included); object target: "
                "style classifier, mean over the styles (Seed_Images excluded) of their "
                "accuracy on the images of the other objects"
            )
        return {
            "ua": "1 - the target's accuracy (its images, its domain's classifier)",
            "ira": (
                f"style target: mean accuracy over the other styles {photos}; object target: "
                "mean accuracy over the other objects (their images in every theme)"
            ),
            "cra": cra,
            "ira_includes_photos": self.ira_includes_photos,
            "cra_on_all_images": self.cra_on_all_images,
            "source": SOURCE
            if not (self.ira_includes_photos or self.cra_on_all_images)
            else "changed from the benchmark's definitions by option; those follow " + SOURCE,
        }

    @classmethod
    def from_result(cls, described: Mapping[str, Any] | None) -> Definitions:
        """The definitions a result file states; a file without them predates them (means of
        whole tables: ``Seed_Images`` in IRA, every image in CRA)."""
        if not described:
            return cls(ira_includes_photos=True, cra_on_all_images=True)
        return cls(
            bool(described.get("ira_includes_photos")), bool(described.get("cra_on_all_images"))
        )


BENCHMARK = Definitions()


@dataclass(frozen=True)
class Judged:
    """One answer image (what it was prompted with) and the two classifiers' top-1 answers."""

    theme: str
    obj: str
    seed: int
    style_pred: str
    object_pred: str


@dataclass(frozen=True)
class ConceptAccuracy:
    """Hits out of ``n`` images of one concept; ``accuracy`` is ``None`` without images."""

    n: int
    hits: int

    @property
    def accuracy(self) -> float | None:
        return self.hits / self.n if self.n else None


@dataclass(frozen=True)
class Scores:
    """UA, IRA and CRA of one target, as fractions (``None`` where nothing could be measured)."""

    ua: float | None
    ira: float | None
    cra: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {"UA": self.ua, "IRA": self.ira, "CRA": self.cra}


@dataclass(frozen=True)
class Averaged:
    """UA, IRA and CRA of one domain, each averaged over the targets that have a value."""

    domain: str
    targets: int
    ua: float | None
    ira: float | None
    cra: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"targets": self.targets, "UA": self.ua, "IRA": self.ira, "CRA": self.cra}


def concept_accuracy(
    judged: Iterable[Judged], domain: str, concepts: Sequence[str]
) -> dict[str, ConceptAccuracy]:
    """Per-concept accuracy of ``domain`` over ``concepts`` (in that order)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; use {' or '.join(DOMAINS)}")
    n = dict.fromkeys(concepts, 0)
    hits = dict.fromkeys(concepts, 0)
    for j in judged:
        truth, pred = (j.theme, j.style_pred) if domain == STYLE else (j.obj, j.object_pred)
        if truth in n:
            n[truth] += 1
            hits[truth] += pred == truth
    return {c: ConceptAccuracy(n[c], hits[c]) for c in concepts}


def mean_accuracy(
    table: Mapping[str, ConceptAccuracy], exclude: Iterable[str] = ()
) -> float | None:
    """The mean of the defined per-concept accuracies, leaving out ``exclude``."""
    skip = set(exclude)
    values = [a.accuracy for c, a in table.items() if c not in skip and a.accuracy is not None]
    return sum(values) / len(values) if values else None


def target_domain(target: str, themes: Iterable[str], objects: Iterable[str]) -> str:
    """``style`` if ``target`` is a theme, ``object`` if it is an object.

    ``ValueError`` for ``Seed_Images``: the photo class is a theme of the answer set but not an
    unlearning target (the benchmark's targets are its 50 styles and 20 objects), and its scores
    would enter the style column's average.
    """
    themes, objects = list(themes), list(objects)
    if target == SEED_STYLE:
        raise ValueError(
            f"target {SEED_STYLE!r} is the photo class, not an unlearning target; targets are "
            "the styles and objects of the answer set"
        )
    if target in set(themes):
        return STYLE
    if target in set(objects):
        return OBJECT
    valid = [*themes, *objects]
    raise ValueError(
        f"target {target!r} is neither a theme nor an object of this answer set"
        f"{did_you_mean(target, valid)}; valid targets: {', '.join(valid)}"
    )


def unlearning_scores(
    judged: Sequence[Judged],
    themes: Sequence[str],
    objects: Sequence[str],
    target: str,
    definitions: Definitions = BENCHMARK,
) -> Scores:
    """UA, IRA and CRA for ``target`` (a theme or an object) from every judged answer image.

    ``themes`` and ``objects`` are the answer set's concepts (per-concept accuracy is computed
    over them); see the module docstring and ``Definitions`` for what each score averages.
    """
    domain = target_domain(target, themes, objects)
    style = concept_accuracy(judged, STYLE, themes)
    objs = concept_accuracy(judged, OBJECT, objects)
    accuracy = (style if domain == STYLE else objs)[target].accuracy
    photos = [] if definitions.ira_includes_photos else [SEED_STYLE]
    if domain == STYLE:
        ira = mean_accuracy(style, exclude=[target, *photos])
        others = (
            judged if definitions.cra_on_all_images else [j for j in judged if j.theme != target]
        )
        cra = mean_accuracy(concept_accuracy(others, OBJECT, objects))
    else:
        ira = mean_accuracy(objs, exclude=[target])
        if definitions.cra_on_all_images:
            cra = mean_accuracy(style)
        else:
            others = [j for j in judged if j.obj != target]
            cra = mean_accuracy(concept_accuracy(others, STYLE, themes), exclude=[SEED_STYLE])
    return Scores(ua=None if accuracy is None else 1.0 - accuracy, ira=ira, cra=cra)


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def average_over_targets(per_target: Iterable[tuple[str, Scores]]) -> dict[str, Averaged]:
    """Average ``(domain, scores)`` pairs per domain: the benchmark's style and object columns."""
    by_domain: dict[str, list[Scores]] = {d: [] for d in DOMAINS}
    for domain, scores in per_target:
        if domain not in by_domain:
            raise ValueError(f"unknown domain {domain!r}; use {' or '.join(DOMAINS)}")
        by_domain[domain].append(scores)
    return {
        d: Averaged(
            d,
            len(s),
            _mean(x.ua for x in s),
            _mean(x.ira for x in s),
            _mean(x.cra for x in s),
        )
        for d, s in by_domain.items()
    }
