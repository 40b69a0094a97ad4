"""What an import of the Hub release found and did: counts, rejected and held-aside rows, and
how confident the matches of rows without a path are; as a one-line summary and as the JSON of
``WORK/reports/import-hub.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from canvas_data.intake.photo_matching import LOW_MARGIN


@dataclass
class ImportReport:
    """What an import run found and did."""

    files: int = 0
    files_reused: int = 0
    rows: int = 0
    placed: int = 0
    matched: int = 0  # rows without a path placed by matching (paintings, seed photos)
    seeds_by_content: int = 0  # seed photos without a path numbered in sha256 order
    held: int = 0  # rows without a path still held aside (not matched, or matching not asked)
    reencoded: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # held aside, and why
    margins: list[float] = field(default_factory=list)  # of every matched painting
    low_confidence: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        matched = ""
        if self.matched:
            margins = np.asarray(self.margins) if self.margins else np.zeros(1)
            matched = (
                f"{self.matched} matched by image (margin min "
                f"{margins.min():.2f}, median {np.median(margins):.2f}; "
                f"{len(self.low_confidence)} below {LOW_MARGIN}), "
            )
        return (
            f"imported {self.placed} of {self.rows} rows from {self.files} Parquet files "
            f"({self.files_reused} already done): {matched}{self.seeds_by_content} seed photos "
            f"numbered by content, {self.held} without a path held aside, {self.reencoded} "
            f"re-encoded as JPEG, {len(self.rejected)} rejected"
        )


def report_json(report: ImportReport) -> dict[str, Any]:
    margins = report.margins
    return {
        "files": report.files,
        "rows": report.rows,
        "placed": report.placed,
        "matched": report.matched,
        "seeds_by_content": report.seeds_by_content,
        "held_without_path": report.held,
        "reencoded": report.reencoded,
        "rejected": [{"where": w, "reason": r} for w, r in report.rejected],
        "unmatched": [{"where": w, "reason": r} for w, r in report.unmatched],
        "match_confidence": {
            "margin_min": min(margins) if margins else None,
            "margin_median": float(np.median(margins)) if margins else None,
            "low_margin": LOW_MARGIN,
            "low_confidence": report.low_confidence,
        },
    }
