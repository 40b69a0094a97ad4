"""What a run of a URL manifest found and did: the report, its summary line, its JSON file.

``SourcesReport`` counts the photos taken per object and per licence, and lists every photo's
credit, the rows that failed to download (``RowIssue``, retried next run), the rows rejected
from the manifest (no url, no licence, an unknown object, a URL seen before), the near-duplicates
(``DuplicateRow``), the objects short of photos and the stale outputs. ``summary`` is one line
for the terminal; ``to_json`` is the content of ``WORK/reports/sources.json``.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm.auto import tqdm

from canvas_data.intake.photos import REPORT_PATH
from canvas_data.public_url import public_url, redact_urls

_SUMMARY_FAILURES = 10


@dataclass(frozen=True)
class RowIssue:
    """A row left out: a failed download or a manifest problem, with one line why."""

    row: int
    url: str | None
    object: str | None
    reason: str

    def __post_init__(self) -> None:  # recorded without credentials or signed-URL secrets
        object.__setattr__(self, "url", public_url(self.url))
        object.__setattr__(self, "reason", redact_urls(self.reason))

    def line(self) -> str:
        return f"row {self.row} {self.url or '(no url)'}: {self.reason}"


@dataclass(frozen=True)
class DuplicateRow:
    """A row whose photo is a near-duplicate of a photo already taken."""

    row: int
    url: str
    object: str
    duplicate_of: str  # the key of the photo it repeats
    distance: int  # bits between their perceptual hashes
    kept: bool  # written anyway (keep_duplicates)

    def __post_init__(self) -> None:  # recorded without credentials or signed-URL secrets
        object.__setattr__(self, "url", public_url(self.url))


@dataclass
class SourcesReport:
    """What a manifest run found and did."""

    manifest: str
    per_object: int
    allow_unlicensed: bool
    keep_duplicates: bool
    accepted: dict[str, int] = field(default_factory=dict)
    photos: list[dict[str, Any]] = field(default_factory=list)  # key, url, author, licence, ...
    failed: list[RowIssue] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    not_in_build: list[str] = field(default_factory=list)
    short_objects: dict[str, int] = field(default_factory=dict)
    not_needed: int = 0  # rows not tried: their object already had enough photos
    beyond_per_object: list[RowIssue] = field(default_factory=list)  # those rows
    stale: list[str] = field(default_factory=list)  # seed photos that no placed row owns
    downloaded: int = 0
    unchanged: int = 0
    updated: int = 0  # credit changed in the manifest: sidecar rewritten, photo kept

    @property
    def licences(self) -> dict[str, int]:
        """Photos per licence (``none`` for rows accepted without one)."""
        counts = Counter(p["licence"] or "none" for p in self.photos)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self) -> str:
        """One line for the terminal; it names every failed URL (the first few, then a count)."""
        total = sum(self.accepted.values())
        parts = [
            f"sources: {_count(total, 'seed photo')} for {_count(len(self.accepted), 'object')} "
            f"({self.downloaded} downloaded, {self.unchanged} already there"
            + (f", {self.updated} credits updated" if self.updated else "")
            + ")",
            "licences: " + (", ".join(f"{k} ({v})" for k, v in self.licences.items()) or "none"),
        ]
        if self.failed:
            shown = "; ".join(f.line() for f in self.failed[:_SUMMARY_FAILURES])
            more = len(self.failed) - _SUMMARY_FAILURES
            parts.append(
                f"{len(self.failed)} failed (retried next run): {shown}"
                + (f"; and {more} more in {REPORT_PATH}" if more > 0 else "")
            )
        left_out = [d for d in self.duplicates if not d.kept]
        if left_out:
            parts.append(f"{_count(len(left_out), 'near-duplicate')} left out")
        if len(left_out) < len(self.duplicates):
            kept = len(self.duplicates) - len(left_out)
            parts.append(f"{_count(kept, 'near-duplicate')} kept")
        if self.rejected:
            parts.append(f"{_count(len(self.rejected), 'row')} rejected")
        if self.beyond_per_object:
            parts.append(
                f"{_count(len(self.beyond_per_object), 'row')} beyond per-object "
                f"({self.per_object}) left out"
            )
        if self.short_objects:
            want = self.per_object
            short = ", ".join(f"{o} {n}/{want}" for o, n in self.short_objects.items())
            parts.append(f"short: {short}")
        if self.not_in_build:
            parts.append(f"not in this build: {', '.join(self.not_in_build)}")
        if self.stale:
            parts.append(f"{_count(len(self.stale), 'stale output')} left")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The report file's content; the write counts of this run are left out."""
        data = asdict(self)
        for key in ("downloaded", "unchanged", "updated"):
            del data[key]
        unlicensed = sum(1 for p in self.photos if not p["licence"])
        return {"source": "manifest", **data, "licences": self.licences, "unlicensed": unlicensed}


def reject_row(report: SourcesReport, issue: RowIssue) -> None:
    """Record a rejected row in ``report`` and name it on stderr."""
    report.rejected.append(issue)
    tqdm.write(f"rejected {issue.line()}", file=sys.stderr)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
