"""The benchmark's table from many results: one accuracy result per unlearned model (and target),
optionally FID results, grouped by method.

For each method, UA, IRA and CRA are averaged over its style targets and, apart, over its object
targets; FID is the mean of its FID results. A method's results must state the same definitions
of IRA and CRA (``metrics.Definitions``; a result without them predates them), or the averages
would mix two metrics: such a mix is refused. The table is written as Markdown, CSV and JSON, and
each method gets a heat map of per-concept accuracy (``heatmap-{method}.png``).

Efficiency records (``canvas-eval profile`` and ``storage``) add columns (``efficiency.py``);
sequences of results (sequential unlearning, ``sequence.py``) get their own table and curves; an
HTML page can gather it all (``report_html.py``). Style-transfer results
(``canvas-eval style-transfer score``) get a table of their own (``transfer.table``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canvas_data.atomic import write_bytes, write_json, write_text
from canvas_data.escape import csv_row, markdown_cell
from canvas_data.metrics import efficiency as eff
from canvas_data.metrics.accuracy import RESULT_KIND
from canvas_data.metrics.heatmap import HeatRow, save_heatmap
from canvas_data.metrics.result_types import check_accuracy_result
from canvas_data.metrics.scores import (
    DOMAINS,
    OBJECT,
    STYLE,
    Averaged,
    Definitions,
    Scores,
    average_over_targets,
)
from canvas_data.metrics.sequence import method_of, read_result_file

FID_KIND = "canvas-eval fid"
COLUMNS = ("UA", "IRA", "CRA")


@dataclass
class MethodResults:
    """Everything read for one method."""

    method: str
    accuracy: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    fid: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    efficiency: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)

    def averages(self) -> dict[str, Averaged]:
        pairs = [
            (r["domain"], Scores(r["scores"]["UA"], r["scores"]["IRA"], r["scores"]["CRA"]))
            for _, r in self.accuracy
            if r.get("target") and r.get("domain") in DOMAINS  # not combination targets
        ]
        return average_over_targets(pairs)

    @property
    def mean_fid(self) -> float | None:
        values = [r["fid"] for _, r in self.fid]
        return sum(values) / len(values) if values else None


def read_results(
    paths: Sequence[Path], efficiency: Sequence[tuple[str, Path]] = ()
) -> dict[str, MethodResults]:
    """Read accuracy, FID, profile and storage result files, grouped by method (in the order first
    seen). ``efficiency``: ``(method, file)`` pairs of profile or storage results."""
    methods: dict[str, MethodResults] = {}
    seen: dict[tuple[str, str | None], Path] = {}
    assigned = [(None, Path(p)) for p in paths] + [(m, Path(p)) for m, p in efficiency]
    for given, path in assigned:
        path = Path(path)
        result = read_result_file(path)
        kind = result.get("kind") if isinstance(result, dict) else None
        if kind not in (RESULT_KIND, FID_KIND, *eff.KINDS):
            raise ValueError(
                f"{path}: not written by `canvas-eval accuracy`, `fid`, `profile` or `storage`"
            )
        if kind == RESULT_KIND:
            check_accuracy_result(path, result)
        method = given or method_of(path, result)
        group = methods.setdefault(method, MethodResults(method))
        if kind in eff.KINDS:
            eff.check(path, result)
            group.efficiency.append((path, result))
            continue
        if kind == FID_KIND:
            group.fid.append((path, result))
            continue
        key = (method, result.get("target"))
        if key in seen:
            raise ValueError(
                f"{path} and {seen[key]} are both {method} with target {key[1] or '(none)'}"
            )
        seen[key] = path
        _same_definitions(group, path, result)
        group.accuracy.append((path, result))
    if not methods:
        raise ValueError("no result files given")
    return methods


def _same_definitions(group: MethodResults, path: Path, result: dict[str, Any]) -> None:
    """Refuse a result averaged with the group's under other IRA/CRA definitions."""
    averaged = [(p, r) for p, r in group.accuracy if r.get("domain") in DOMAINS]
    if result.get("domain") not in DOMAINS or not averaged:
        return
    first, other = averaged[0]
    mine = Definitions.from_result(result.get("definitions"))
    theirs = Definitions.from_result(other.get("definitions"))
    if mine != theirs:
        raise ValueError(
            f"{path} and {first} ({group.method}) score IRA/CRA under different definitions "
            f"({mine.name()} vs {theirs.name()}): rescore one with the other's options"
        )


def table_rows(methods: dict[str, MethodResults]) -> list[dict[str, Any]]:
    """One row per method: averaged UA, IRA, CRA per domain (fractions), FID, counts."""
    rows = []
    for m in methods.values():
        avg = m.averages()
        row: dict[str, Any] = {"method": m.method}
        for domain in DOMAINS:
            for col in COLUMNS:
                row[f"{domain}_{col}"] = getattr(avg[domain], col.lower())
            row[f"{domain}_targets"] = avg[domain].targets
        row["FID"] = m.mean_fid
        row["fid_results"] = len(m.fid)
        row.update(eff.aggregate(r for _, r in m.efficiency))
        averaged = [r for _, r in m.accuracy if r.get("domain") in DOMAINS]
        if averaged:
            row["definitions"] = Definitions.from_result(averaged[0].get("definitions")).describe()
        rows.append(row)
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The paper's table: UA, IRA, CRA in % for style then object unlearning, and FID; then the
    efficiency columns that any method has a value for."""
    extra = eff.present(rows)
    head = (
        "| method | style UA | IRA | CRA | object UA | IRA | CRA | FID | targets (style / object) |"
    )
    head += "".join(f" {h} |" for _, h, _ in extra)
    lines = [head, "|---|" + "---:|" * (8 + len(extra))]
    for r in rows:
        cells = [_pct(r[f"{d}_{c}"]) for d in DOMAINS for c in COLUMNS]
        fid = "—" if r["FID"] is None else f"{r['FID']:.2f}"
        counts = f"{r['style_targets']} / {r['object_targets']}"
        cells += [fid, counts, *(eff.cell(r, key) for key, _, _ in extra)]
        lines.append(f"| {markdown_cell(r['method'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The table as CSV, percentages with full precision, empty cells where nothing was measured."""
    fields = ["method", *(f"{d}_{c}" for d in DOMAINS for c in COLUMNS), "FID",
              "style_targets", "object_targets", "fid_results"]  # fmt: skip
    extra = eff.present(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=[*fields, *(name for _, _, name in extra)], lineterminator="\n"
    )
    writer.writeheader()
    for r in rows:
        out = {k: r[k] for k in fields}
        for d in DOMAINS:
            for c in COLUMNS:
                v = r[f"{d}_{c}"]
                out[f"{d}_{c}"] = "" if v is None else 100 * v
        out["FID"] = "" if r["FID"] is None else r["FID"]
        out.update({name: eff.csv_value(r, key) for key, _, name in extra})
        writer.writerow(csv_row(out))
    return buf.getvalue()


def _per_target(methods: dict[str, MethodResults]) -> list[dict[str, Any]]:
    return [
        {
            "method": m.method,
            "target": r.get("target"),
            "domain": r.get("domain"),
            "scores": r.get("scores"),
            "images": r.get("images"),
            "file": str(path),
        }
        for m in methods.values()
        for path, r in m.accuracy
    ]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def heat_rows(group: MethodResults) -> tuple[list[HeatRow], list[str], list[str]]:
    """Rows of the method's heat map (style targets, then object targets, then the rest)."""
    themes: list[str] = []
    objects: list[str] = []
    for _, r in group.accuracy:  # the answer set's order (the release's class order)
        themes += [t for t in r.get("themes") or r["style_accuracy"] if t not in themes]
        objects += [o for o in r.get("objects") or r["object_accuracy"] if o not in objects]
    order = {name: i for i, name in enumerate([*themes, *objects])}
    results = sorted(
        (r for _, r in group.accuracy),
        key=lambda r: order.get(r.get("target"), len(order)),
    )
    rows = []
    for r in results:
        s = r.get("scores") or {}
        note = "  ".join(f"{c} {_pct(s.get(c))}" for c in COLUMNS) if s else ""
        rows.append(
            HeatRow(
                label=r.get("target") or "(no target)",
                target=r.get("target"),
                style={k: v["accuracy"] for k, v in r["style_accuracy"].items()},
                objects={k: v["accuracy"] for k, v in r["object_accuracy"].items()},
                note=note,
            )
        )
    return rows, themes, objects


def summarize(
    paths: Sequence[Path],
    out: Path,
    *,
    sequences: Sequence[Sequence[Path]] = (),
    efficiency: Sequence[tuple[str, Path]] = (),
    html: Path | None = None,
) -> dict[str, Path]:
    """Write ``table.md``, ``table.csv``, ``table.json`` and the heat maps into ``out``.

    ``sequences``: result files of sequential runs, each in step order; each gets
    ``sequence-{method}.md``, ``.csv``, ``.json`` and ``.png`` (curves). ``efficiency``:
    ``(method, file)`` pairs of profile or storage results. ``html``: also write the report page
    there. Everything is read (and checked) before anything is written.
    """
    from canvas_data.metrics.sequence import read_sequence
    from canvas_data.transfer import table as transfer

    transfers = [p for p in paths if transfer.is_transfer_result(p)]
    paths = [p for p in paths if p not in transfers]
    transfer_rows = transfer.transfer_rows(transfers)
    methods = read_results(paths, efficiency) if paths or efficiency else {}
    runs = [read_sequence(files) for files in sequences]
    if not methods and not runs and not transfer_rows:
        raise ValueError("no result files given")
    rows = table_rows(methods)
    out = Path(out)
    written: dict[str, Path] = {}
    if methods:
        written.update(markdown=out / "table.md", csv=out / "table.csv", json=out / "table.json")
        write_text(written["markdown"], to_markdown(rows))
        write_text(written["csv"], to_csv(rows))
        write_json(written["json"], {"methods": rows, "targets": _per_target(methods)})
    if transfer_rows:
        stem = out / "style-transfer"
        written.update({f"style-transfer {s}": stem.with_suffix(f".{s}") for s in ("md", "csv")})
        write_text(written["style-transfer md"], transfer.to_markdown(transfer_rows))
        write_text(written["style-transfer csv"], transfer.to_csv(transfer_rows))
    heatmaps = []
    for group in methods.values():
        if not group.accuracy:
            continue
        heat, themes, objects = heat_rows(group)
        path = out / f"heatmap-{_safe(group.method)}.png"
        title = f"{group.method}: per-concept accuracy of each model (row = its unlearning target)"
        written[f"heatmap {group.method}"] = save_heatmap(heat, themes, objects, path, title)
        heatmaps.append((title, path))
    curves = _write_sequences(runs, out, written)
    if html is not None:
        from canvas_data.metrics.report_html import Figure, render, write_report

        figures = [Figure(title, path.read_bytes()) for title, path in heatmaps]
        page = render(rows, figures, curves, transfer=transfer_rows)
        written["html"] = write_report(html, page)
    return written


def _write_sequences(runs, out: Path, written: dict[str, Path]) -> list:
    """Each sequence's Markdown, CSV, JSON and curves; ``(run, Figure)`` pairs for the page."""
    from canvas_data.metrics.report_html import Figure
    from canvas_data.metrics.sequence import curves_png
    from canvas_data.metrics.sequence import to_csv as sequence_csv
    from canvas_data.metrics.sequence import to_markdown as sequence_markdown

    curves = []
    names: set[str] = set()
    for run in runs:
        name, n = _safe(run.method), 2
        while name in names:
            name, n = f"{_safe(run.method)}-{n}", n + 1
        names.add(name)
        png = curves_png(run)
        stem = out / f"sequence-{name}"
        for suffix, write, content in (
            ("md", write_text, sequence_markdown(run)),
            ("csv", write_text, sequence_csv(run)),
            ("json", write_json, run.as_dict()),
            ("png", write_bytes, png),
        ):
            path = stem.with_name(f"{stem.name}.{suffix}")
            write(path, content)
            written[f"sequence {name} {suffix}"] = path
        curves.append((run, Figure(f"{run.method}: sequential unlearning", png)))
    return curves


__all__ = ["summarize", "read_results", "table_rows", "to_markdown", "to_csv", "STYLE", "OBJECT"]
