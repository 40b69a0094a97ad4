"""The style-transfer table: one row per method, from ``style-transfer score`` results.

Columns as the release's style-transfer table (paper, Table A3: style loss / content loss per
method), with the ViT loss and the style classifier's accuracy beside them: each the overall mean
of the method's result. Written as Markdown and CSV by ``canvas-eval summarize``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from canvas_data.errors import reading

RESULT_KIND = "canvas-eval style-transfer score"
COLUMNS = (
    ("vit_loss", "ViT loss"),
    ("style_loss", "style loss"),
    ("content_loss", "content loss"),
    ("style_accuracy", "style accuracy (%)"),
)


def is_transfer_result(path: Path) -> bool:
    """Whether ``path`` is a JSON result of ``style-transfer score`` (anything else: no)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == RESULT_KIND


def transfer_rows(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """One row per method (the result's ``method``, else its folder's name), in the order given;
    ``ValueError`` naming both files when a method has two results."""
    rows: list[dict[str, Any]] = []
    seen: dict[str, Path] = {}
    for path in map(Path, paths):
        with reading(path, "a style-transfer result"):
            result = json.loads(path.read_text(encoding="utf-8"))
            overall = result["scores"]["overall"]
            images = result["images"]
        method = result.get("method") or path.resolve().parent.name
        if method in seen:
            raise ValueError(
                f"{path} and {seen[method]} are both style-transfer results of "
                f"{method}; give one, or score with --method"
            )
        seen[method] = path
        row: dict[str, Any] = {"method": method}
        for key, _ in COLUMNS[:3]:
            row[key] = overall[key]["mean"]
            row[f"{key}_std"] = overall[key]["std"]
        row["style_accuracy"] = overall["style_accuracy"]["accuracy"]
        row["scored"], row["expected"] = images["scored"], images["expected"]
        rows.append(row)
    return rows


def cell(row: dict[str, Any], key: str) -> str:
    """A row's value as shown: losses to 4 significant digits, accuracy in %."""
    value = row[key]
    if value is None:
        return "—"
    return f"{100 * value:.2f}" if key == "style_accuracy" else f"{value:.4g}"


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    head = "| method | " + " | ".join(h for _, h in COLUMNS) + " | outputs |"
    lines = [head, "|---|" + "---:|" * (len(COLUMNS) + 1)]
    for r in rows:
        cells = [cell(r, key) for key, _ in COLUMNS] + [f"{r['scored']} / {r['expected']}"]
        method = str(r["method"]).replace("|", "\\|")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    fields = [
        "method",
        "vit_loss",
        "vit_loss_std",
        "style_loss",
        "style_loss_std",
        "content_loss",
        "content_loss_std",
        "style_accuracy",
        "scored",
        "expected",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r[k] is None else r[k] for k in fields})
    return buf.getvalue()
