"""The unlearning metrics, from what the two classifiers said about an answer set.

Per-concept accuracy: for a theme, the share of its images (every object x seed) that the style
classifier calls that theme; for an object, the share of its images (every theme x seed) that the
object classifier calls that object. For an unlearning target of one domain (style or object):

- UA, unlearning accuracy: 1 - the accuracy on the target;
- IRA, in-domain retain accuracy: the mean accuracy over the other concepts of that domain;
- CRA, cross-domain retain accuracy: the mean accuracy over the concepts of the other domain.

The benchmark's table averages each over the style targets and, apart, over the object targets.
These are plain functions over plain data, so they can be checked by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from canvas_data.suggest import did_you_mean

STYLE, OBJECT = "style", "object"
DOMAINS = (STYLE, OBJECT)


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
    """``style`` if ``target`` is a theme, ``object`` if it is an object."""
    themes, objects = list(themes), list(objects)
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
    style: Mapping[str, ConceptAccuracy],
    objects: Mapping[str, ConceptAccuracy],
    target: str,
) -> Scores:
    """UA, IRA and CRA for ``target`` (a key of ``style`` or of ``objects``)."""
    domain = target_domain(target, style, objects)
    same, other = (style, objects) if domain == STYLE else (objects, style)
    accuracy = same[target].accuracy
    return Scores(
        ua=None if accuracy is None else 1.0 - accuracy,
        ira=mean_accuracy(same, exclude=[target]),
        cra=mean_accuracy(other),
    )


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
