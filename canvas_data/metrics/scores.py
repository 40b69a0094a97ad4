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
style target. The CRA has three named definitions (``CRA_DEFINITIONS``), chosen by
``Definitions(cra=NAME)``:

- ``release-readme`` (default): the images that do not involve the target, as above;
- ``all-images``: the reading that public users of the release publish (SAeUron's
  ``avg_accuracy_style.py`` and ``avg_accuracy_cls.py`` scripts, which average the tables of the
  release's ``machine_unlearning/evaluation/quantitative/accuracy.py``): the other classifier over
  every image of the answer set, the target's too; for an object target, the mean over the 50
  styles (``Seed_Images`` left out);
- ``whole-table``: the plain mean of the other classifier's whole table as the release's
  ``accuracy.py`` writes it (every image; for an object target every theme, ``Seed_Images`` too).

``release-readme`` and ``all-images`` differ by about a point on real answer sets.
``forgetting_scores`` scores a set of forgotten targets (sequential unlearning),
``unlearning_scores`` one; ``cell_mean`` is the finer-scale scores' mean over (theme, object)
cells. Every score comes with the number of images it rests on. The
benchmark's table averages each over the style targets and, apart, over the object targets.
These are plain functions over plain data, so they can be checked by hand; every command that
reports UA, IRA or CRA (``accuracy``, ``summarize``, ``--sequence``, finer scale) computes them
here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


RELEASE_README = "release-readme"
ALL_IMAGES = "all-images"
WHOLE_TABLE = "whole-table"
CRA_DEFINITIONS: dict[str, dict[str, str]] = {
    RELEASE_README: {
        "cra": (
            "style target: object classifier, mean over the objects of their accuracy on the "
            "images of every other theme (Seed_Images photos included); object target: style "
            "classifier, mean over the styles (Seed_Images excluded) of their accuracy on the "
            "images of the other objects"
        ),
        "source": (
            "machine_unlearning/README.md of the release: 'any images generated involving the "
            "unlearned target will be considered for unlearning accuracy calculation ... For "
            "other images, the retaining accuracy ... will be calculated separately'"
        ),
    },
    ALL_IMAGES: {
        "cra": (
            "style target: object classifier, mean over the objects of their accuracy on every "
            "image (the target's too); object target: style classifier, mean over the styles "
            "(Seed_Images excluded) of their accuracy on every image (the target's too)"
        ),
        "source": (
            "the reading public users of the release publish: SAeUron's scripts "
            "avg_accuracy_style.py and avg_accuracy_cls.py, means of the tables "
            "of the release's machine_unlearning/evaluation/quantitative/accuracy.py (object "
            "target: the 50 styles without Seed_Images)"
        ),
    },
    WHOLE_TABLE: {
        "cra": (
            "style target: object classifier, mean over the objects of their accuracy on every "
            "image (the target's too); object target: style classifier, mean over every theme "
            "(Seed_Images too) of its accuracy on every image"
        ),
        "source": (
            "the plain mean of the table the release's "
            "machine_unlearning/evaluation/quantitative/accuracy.py writes"
        ),
    },
}


@dataclass(frozen=True)
class Definitions:
    """Which images and concepts IRA and CRA average over (the defaults are the benchmark's).

    ``ira_includes_photos``: the IRA of a style target also averages ``Seed_Images`` (and the
    finer-scale OC and UP keep its cells). ``cra``: a name of ``CRA_DEFINITIONS``.
    ``ValueError`` for another name.
    """

    ira_includes_photos: bool = False
    cra: str = RELEASE_README

    def __post_init__(self) -> None:
        if self.cra not in CRA_DEFINITIONS:
            raise ValueError(
                f"unknown CRA definition {self.cra!r}{did_you_mean(self.cra, CRA_DEFINITIONS)}; "
                f"use {', '.join(CRA_DEFINITIONS)}"
            )

    def counts_as_style(self, theme: str) -> bool:
        """Whether a theme enters a mean over the style domain (``Seed_Images`` is photos)."""
        return self.ira_includes_photos or theme != SEED_STYLE

    def name(self) -> str:
        """A short name for messages: ``CRA release-readme, IRA without Seed_Images``."""
        photos = "with" if self.ira_includes_photos else "without"
        return f"CRA {self.cra}, IRA {photos} Seed_Images"

    def describe(self) -> dict[str, Any]:
        """The definitions in words, with their source, for a result file."""
        photos = "and Seed_Images" if self.ira_includes_photos else "(Seed_Images excluded)"
        cra = CRA_DEFINITIONS[self.cra]
        benchmark = self == Definitions()
        return {
            "ua": "1 - the target's accuracy (its images, its domain's classifier)",
            "ira": (
                f"style target: mean accuracy over the other styles {photos}; object target: "
                "mean accuracy over the other objects (their images in every theme)"
            ),
            "cra": cra["cra"],
            "cra_definition": self.cra,
            "cra_source": cra["source"],
            "ira_includes_photos": self.ira_includes_photos,
            "cra_on_all_images": self.cra != RELEASE_README,  # as results before the names
            "source": SOURCE
            if benchmark
            else "changed from the benchmark's definitions by option; those follow " + SOURCE,
        }

    @classmethod
    def from_result(cls, described: Mapping[str, Any] | None) -> Definitions:
        """The definitions a result file states; a file without them predates them (means of
        whole tables: ``Seed_Images`` in IRA, every image in CRA); a file that states only
        ``cra_on_all_images`` predates the named definitions (``whole-table`` when true)."""
        if not described:
            return cls(ira_includes_photos=True, cra=WHOLE_TABLE)
        cra = described.get("cra_definition")
        if not isinstance(cra, str):
            cra = WHOLE_TABLE if described.get("cra_on_all_images") else RELEASE_README
        return cls(bool(described.get("ira_includes_photos")), cra)


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
    """UA, IRA and CRA of one target, as fractions (``None`` where nothing could be measured);
    ``images``: how many images each rests on (``{"UA": n, "IRA": n, "CRA": n}``)."""

    ua: float | None
    ira: float | None
    cra: float | None
    images: Mapping[str, int] | None = field(default=None, compare=False)

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
    valid = [t for t in themes if t != SEED_STYLE] + objects  # Seed_Images is refused above
    raise ValueError(
        f"target {target!r} is neither a theme nor an object of this answer set"
        f"{did_you_mean(target, valid)}; valid targets: {', '.join(valid)}"
    )


@dataclass(frozen=True)
class ForgettingScores:
    """Scores of a model that has forgotten a set of targets (one, or several in sequence).

    ``ua``: 1 - the accuracy on each forgotten target; ``ira``: for each domain holding a
    forgotten target, the mean accuracy over its concepts not forgotten, averaged over those
    domains; ``cra``: the other classifier's retain accuracy under the CRA definition, over the
    domain that holds no forgotten target (``None`` once both domains hold one); ``retain``: per
    domain, the mean accuracy over its concepts not forgotten; ``images``: what each score
    rests on (``UA`` all forgotten targets' images together).
    """

    ua: dict[str, float | None]
    ira: float | None
    cra: float | None
    retain: dict[str, float | None]
    images: dict[str, int]


def _kept(domain: str, concept: str, forgotten: set[str], definitions: Definitions) -> bool:
    return concept not in forgotten and (domain != STYLE or definitions.counts_as_style(concept))


def _involves(j: Judged, forgotten: set[str]) -> bool:
    return j.theme in forgotten or j.obj in forgotten


def _cross_retain(
    judged: Sequence[Judged],
    domain: str,
    concepts: Sequence[str],
    forgotten: set[str],
    definitions: Definitions,
) -> tuple[float | None, int]:
    """The CRA over ``domain`` (the one holding no forgotten target) and its image count."""
    if definitions.cra == RELEASE_README:
        judged = [j for j in judged if not _involves(j, forgotten)]
    table = concept_accuracy(judged, domain, concepts)
    if domain == STYLE and definitions.cra != WHOLE_TABLE:
        table = {c: a for c, a in table.items() if c != SEED_STYLE}
    return mean_accuracy(table), sum(a.n for a in table.values())


def forgetting_scores(
    judged: Sequence[Judged],
    themes: Sequence[str],
    objects: Sequence[str],
    forgotten: Sequence[str],
    definitions: Definitions = BENCHMARK,
) -> ForgettingScores:
    """UA of each of ``forgotten`` (themes or objects), IRA and CRA, from every judged answer
    image (see ``ForgettingScores`` and the module docstring). ``ValueError`` for a target that
    is neither a theme nor an object, or ``Seed_Images``."""
    domains = {t: target_domain(t, themes, objects) for t in forgotten}
    gone = set(forgotten)
    concepts = {STYLE: list(themes), OBJECT: list(objects)}
    tables = {d: concept_accuracy(judged, d, concepts[d]) for d in DOMAINS}
    ua = {}
    for t in forgotten:
        a = tables[domains[t]][t].accuracy
        ua[t] = None if a is None else 1.0 - a
    retain, retain_n = {}, {}
    for d in DOMAINS:
        kept = {c: a for c, a in tables[d].items() if _kept(d, c, gone, definitions)}
        retain[d], retain_n[d] = mean_accuracy(kept), sum(a.n for a in kept.values())
    hit = [d for d in DOMAINS if d in set(domains.values())]
    ira = _mean(retain[d] for d in hit)
    untouched = [d for d in DOMAINS if d not in hit]
    cra, cra_n = None, 0
    if len(untouched) == 1:
        u = untouched[0]
        cra, cra_n = _cross_retain(judged, u, concepts[u], gone, definitions)
    images = {
        "UA": sum(tables[domains[t]][t].n for t in forgotten),
        "IRA": sum(retain_n[d] for d in hit),
        "CRA": cra_n,
    }
    return ForgettingScores(ua, ira, cra, retain, images)


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
    got = forgetting_scores(judged, themes, objects, [target], definitions)
    return Scores(ua=got.ua[target], ira=got.ira, cra=got.cra, images=got.images)


def cell_mean(
    judged: Iterable[Judged], keep: Callable[[Judged], bool], hit: Callable[[Judged], bool]
) -> tuple[float | None, int]:
    """The mean over the kept (theme, object) cells of each cell's hit rate, and the number of
    images it rests on (cells without images left out; ``None`` when none is left)."""
    n: dict[tuple[str, str], int] = {}
    hits: dict[tuple[str, str], int] = {}
    for j in judged:
        if keep(j):
            cell = (j.theme, j.obj)
            n[cell] = n.get(cell, 0) + 1
            hits[cell] = hits.get(cell, 0) + hit(j)
    rates = [hits[c] / n[c] for c in n]
    return (sum(rates) / len(rates) if rates else None), sum(n.values())


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
