"""The benchmark report: one self-contained HTML page with the table, heat maps and curves.

Images are embedded as base64 PNG data URIs and the table sorts by any column with a few lines
of inline JavaScript (click a header; again to reverse; unmeasured cells stay last), so the page
needs no network and no other file: it can be mailed or attached as it is.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from canvas_data import __version__
from canvas_data.atomic import write_text
from canvas_data.metrics import efficiency as eff
from canvas_data.metrics.scores import DOMAINS
from canvas_data.metrics.sequence import DEFINITION, SequenceRun

_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var nx = Number(x), ny = Number(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #141414; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
th { background: #f2f2f2; cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
img { max-width: 100%; border: 1px solid #eee; }
p.note { color: #555; max-width: 60em; }
"""


@dataclass(frozen=True)
class Figure:
    """An image for the page: its caption and PNG bytes."""

    caption: str
    png: bytes


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _pct(v: float | None) -> tuple[str, str]:
    return ("—", "") if v is None else (f"{100 * v:.2f}", repr(100 * v))


def _cell(shown: str, sort: str) -> str:
    return f'<td data-sort="{escape(sort)}">{escape(shown)}</td>'


def _table(heads: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]], css_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(_cell(*c) for c in row) + "</tr>\n" for row in rows)
    return (
        f'<table class="sortable" id="{css_id}"><thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}</tbody></table>"
    )


def methods_table(rows: Sequence[dict[str, Any]]) -> str:
    """The summary table (``summarize.table_rows``), values in %, efficiency columns if any."""
    extra = eff.present(rows)
    heads = ["method", *(f"{d} {c}" for d in DOMAINS for c in ("UA", "IRA", "CRA")), "FID",
             "style targets", "object targets", *(h for _, h, _ in extra)]  # fmt: skip
    body = []
    for r in rows:
        cells = [(r["method"], r["method"])]
        cells += [_pct(r[f"{d}_{c}"]) for d in DOMAINS for c in ("UA", "IRA", "CRA")]
        fid = r.get("FID")
        cells.append(("—", "") if fid is None else (f"{fid:.2f}", repr(fid)))
        cells += [(str(r[f"{d}_targets"]), str(r[f"{d}_targets"])) for d in DOMAINS]
        for key, _, _ in extra:
            v = eff.csv_value(r, key)
            cells.append((eff.cell(r, key), "" if v == "" else repr(v)))
        body.append(cells)
    return _table(heads, body, "methods")


def sequence_table(run: SequenceRun, index: int) -> str:
    """A sequence's steps: UA of every target forgotten so far, mean UA, IRA, CRA (in %)."""
    heads = ["step", "forgets", *(f"UA {t}" for t in run.targets), "mean UA", "IRA", "CRA"]
    body = []
    for s in run.steps:
        cells = [(str(s.step), str(s.step)), (s.target, s.target)]
        cells += [_pct(s.ua[t]) if t in s.ua else ("", "") for t in run.targets]
        cells += [_pct(s.mean_ua), _pct(s.ira), _pct(s.cra)]
        body.append(cells)
    return _table(heads, body, f"sequence-{index}")


def transfer_table(rows: Sequence[dict[str, Any]]) -> str:
    """The style-transfer table (``transfer.table.transfer_rows``): one row per method."""
    from canvas_data.transfer.table import COLUMNS, cell

    heads = ["method", *(h for _, h in COLUMNS), "outputs"]
    body = []
    for r in rows:
        cells = [(r["method"], r["method"])]
        cells += [(cell(r, k), "" if r[k] is None else repr(r[k])) for k, _ in COLUMNS]
        cells.append((f"{r['scored']} / {r['expected']}", str(r["scored"])))
        body.append(cells)
    return _table(heads, body, "style-transfer")


def _figure(fig: Figure) -> str:
    return (
        f'<figure><img alt="{escape(fig.caption)}" src="{data_uri(fig.png)}">'
        f"<figcaption>{escape(fig.caption)}</figcaption></figure>"
    )


def render(
    rows: Sequence[dict[str, Any]],
    heatmaps: Sequence[Figure] = (),
    sequences: Sequence[tuple[SequenceRun, Figure]] = (),
    title: str = "UnlearnCanvas benchmark",
    transfer: Sequence[dict[str, Any]] = (),
) -> str:
    """The page as a string (see the module docstring)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if rows:
        parts += [
            "<h2>Methods</h2>",
            '<p class="note">UA, IRA and CRA in %, each averaged over the method\'s style targets '
            "and, apart, its object targets; FID is the mean of its FID results; time is the mean "
            "wall time of its profiled runs, memory the highest peak, storage the mean size of "
            "its unlearned weights and of their difference from the base. Click a header to "
            "sort.</p>",
            methods_table(rows),
        ]
    if transfer:
        parts += [
            "<h2>Style transfer</h2>",
            '<p class="note">Means over each method\'s outputs: ViT loss and VGG style loss '
            "against the ground truth, VGG content loss against the content photo, and the share "
            "of outputs the style classifier labels as their target style (definitions in each "
            "result file).</p>",
            transfer_table(transfer),
        ]
    if heatmaps:
        parts.append("<h2>Per-concept accuracy</h2>")
        parts += [_figure(f) for f in heatmaps]
    if sequences:
        parts += ["<h2>Sequential unlearning</h2>", f'<p class="note">{escape(DEFINITION)}</p>']
        for i, (run, fig) in enumerate(sequences):
            parts += [f"<h3>{escape(run.method)}</h3>", sequence_table(run, i), _figure(fig)]
    parts += [
        f'<p class="note">canvas_data {escape(__version__)}</p>',
        f"<script>{_SORT_JS}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(path: Path, page: str) -> Path:
    """Write ``page`` (made by :func:`render`) to ``path``, atomically; returns ``path``."""
    path = Path(path)
    write_text(path, page)
    return path
