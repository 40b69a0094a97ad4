"""Sequential unlearning: one model forgets targets one after another; is each still forgotten?

The paper's later version (v2, "sequential unlearning") lets unlearning requests arrive one at a
time: step 1 forgets T1, step 2 forgets T2 in the model of step 1, and so on. A method is good at
it if every target forgotten so far stays forgotten (an earlier target can come back when a later
one is unlearned) and the rest is retained. From one ``canvas-eval accuracy`` result per step (in
step order, each with the ``target`` of its step), after step ``k`` with forgotten set
``F_k = {T1, ..., Tk}``:

- ``UA_k(T)`` for every ``T`` in ``F_k``: 1 - the step-``k`` model's accuracy on ``T``; its mean
  over ``F_k`` is ``mean UA``;
- ``IRA_k``: for each domain (style, object) that holds a forgotten target, the mean accuracy over
  its concepts outside ``F_k`` (the style domain without ``Seed_Images``, which is photos, not a
  style), averaged over those domains;
- ``CRA_k``: the mean accuracy over every concept of the domain that holds no forgotten target;
  undefined (``None``) once both domains hold one.

A concept without images in a step's answer set is left out of the means; a forgotten target
without images gets ``UA`` ``None``. Values are fractions in [0, 1].
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canvas_data.escape import csv_row, literal_plot_text, markdown_cell, markdown_text
from canvas_data.metrics.accuracy import RESULT_KIND
from canvas_data.metrics.result_types import check_accuracy_result
from canvas_data.metrics.scores import DOMAINS, STYLE

SEQUENCE_KIND = "canvas-eval sequence"
NOT_STYLES = ("Seed_Images",)  # left out of the style domain's retain accuracy
DEFINITION = (
    "Sequential unlearning (paper v2): step k's model has forgotten T1..Tk, in order. After step "
    "k: UA(T) = 1 - accuracy on T, for every T forgotten so far; IRA = for each domain holding a "
    "forgotten target, the mean accuracy over its concepts not forgotten (Seed_Images left out of "
    "styles), averaged over those domains; CRA = the mean accuracy over every concept of the "
    "domain holding no forgotten target (none once both domains hold one). Concepts without "
    "images are left out of the means. Fractions in [0, 1]."
)


def method_of(path: Path, result: dict[str, Any]) -> str:
    """The result's ``method``, else the name of the folder that holds the result file."""
    return result.get("method") or Path(path).resolve().parent.name or "model"


@dataclass(frozen=True)
class Step:
    """What the model of one step scores: UA of every target forgotten so far, IRA, CRA."""

    step: int
    target: str
    domain: str
    forgotten: tuple[str, ...]
    ua: dict[str, float | None]
    ira: float | None
    cra: float | None
    retain: dict[str, float | None]
    file: str

    @property
    def mean_ua(self) -> float | None:
        return _mean(self.ua.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "target": self.target,
            "domain": self.domain,
            "forgotten": list(self.forgotten),
            "UA": dict(self.ua),
            "mean_UA": self.mean_ua,
            "IRA": self.ira,
            "CRA": self.cra,
            "retain": dict(self.retain),
            "file": self.file,
        }


@dataclass(frozen=True)
class SequenceRun:
    """One method's sequence: its steps in order."""

    method: str
    steps: tuple[Step, ...]

    @property
    def targets(self) -> list[str]:
        return [s.target for s in self.steps]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": SEQUENCE_KIND,
            "definition": DEFINITION,
            "method": self.method,
            "targets": self.targets,
            "steps": [s.as_dict() for s in self.steps],
        }


def _mean(values) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _accuracies(result: Mapping[str, Any], domain: str) -> dict[str, float | None]:
    return {c: v.get("accuracy") for c, v in result[f"{domain}_accuracy"].items()}


def step_scores(
    result: Mapping[str, Any], forgotten: Sequence[str], domains: Mapping[str, str]
) -> tuple[dict[str, float | None], float | None, float | None, dict[str, float | None]]:
    """UA per forgotten target, IRA, CRA and the per-domain retain accuracy of one step's result.

    ``forgotten``: the targets forgotten so far, in order; ``domains``: each one's domain.
    """
    acc = {d: _accuracies(result, d) for d in DOMAINS}
    ua = {}
    for t in forgotten:
        a = acc[domains[t]].get(t)
        ua[t] = None if a is None else 1.0 - a
    gone = set(forgotten)
    retain = {
        d: _mean(
            a for c, a in acc[d].items() if c not in gone and not (d == STYLE and c in NOT_STYLES)
        )
        for d in DOMAINS
    }
    hit = [d for d in DOMAINS if d in set(domains[t] for t in forgotten)]
    ira = _mean(retain[d] for d in hit)
    untouched = [d for d in DOMAINS if d not in hit]
    cra = _mean(acc[untouched[0]].values()) if len(untouched) == 1 else None
    return ua, ira, cra, retain


def read_result_file(path: Path) -> Any:
    """The JSON a result file holds; one-line ``FileNotFoundError`` or ``ValueError`` naming
    ``path`` when it is missing, not readable or not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such result file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a JSON result ({err})") from None
    except OSError as err:  # a folder, no permission
        raise ValueError(f"{path}: cannot read the result ({err.strerror})") from None


def _read(path: Path) -> dict[str, Any]:
    result = read_result_file(path)
    if not isinstance(result, dict) or result.get("kind") != RESULT_KIND:
        raise ValueError(f"{path}: not written by `canvas-eval accuracy`")
    if result.get("target") and result.get("domain") == "combination":
        raise ValueError(
            f"{path}: {result['target']} is a combination (finer-scale) target; a step of a "
            "sequence forgets one style or one object"
        )
    if not result.get("target") or result.get("domain") not in DOMAINS:
        raise ValueError(f"{path}: a step of a sequence needs a result with a --target")
    for d in DOMAINS:
        table = result.get(f"{d}_accuracy")
        if not isinstance(table, dict):
            raise ValueError(f"{path}: no {d}_accuracy table")
        for concept, entry in table.items():
            a = entry.get("accuracy", "") if isinstance(entry, dict) else ""
            if a is not None and (isinstance(a, bool) or not isinstance(a, (int, float))):
                raise ValueError(f"{path}: {d}_accuracy of {concept} is not a number or null")
    check_accuracy_result(path, result)
    return result


def read_sequence(paths: Sequence[Path], method: str | None = None) -> SequenceRun:
    """Score a sequence from its results, one per step, in step order.

    ``method`` names the sequence; default: the results' ``method``, else the folder of the first.
    Raises ``ValueError`` (naming the file) for a result that is not an accuracy result with a
    target, for a target forgotten twice, and for steps of different methods.
    """
    if not paths:
        raise ValueError("a sequence needs at least one result")
    domains: dict[str, str] = {}
    forgotten: list[str] = []
    steps = []
    named = {}
    for number, path in enumerate(paths, 1):
        result = _read(path)
        if result.get("method"):
            named.setdefault(result["method"], path)
        target = result["target"]
        if target in domains:
            raise ValueError(f"{path}: step {number} forgets {target} again (already forgotten)")
        domains[target] = result["domain"]
        forgotten.append(target)
        ua, ira, cra, retain = step_scores(result, forgotten, domains)
        steps.append(
            Step(
                number, target, result["domain"], tuple(forgotten), ua, ira, cra, retain, str(path)
            )  # fmt: skip
        )
    if len(named) > 1:
        (a, pa), (b, pb) = list(named.items())[:2]
        raise ValueError(f"{pa} is {a} but {pb} is {b}: one sequence is one method's run")
    name = method or next(iter(named), None) or method_of(Path(paths[0]), {})
    return SequenceRun(name, tuple(steps))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def to_markdown(run: SequenceRun) -> str:
    """Rows = steps, columns = UA of each target (blank before it is forgotten), mean UA, IRA, CRA
    (values in %)."""
    targets = run.targets
    head = "| step | forgets | " + " | ".join(f"UA {markdown_cell(t)}" for t in targets)
    head += " | mean UA | IRA | CRA |"
    rule = "|---:|---|" + "---:|" * (len(targets) + 3)
    lines = [f"Sequential unlearning: {markdown_text(run.method)}", "", head, rule]
    for s in run.steps:
        cells = [_pct(s.ua[t]) if t in s.ua else "" for t in targets]
        cells += [_pct(s.mean_ua), _pct(s.ira), _pct(s.cra)]
        lines.append(f"| {s.step} | {markdown_cell(s.target)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(run: SequenceRun) -> str:
    """One row per step: ``UA_{target}`` in %, empty before the target is forgotten."""
    fields = ["step", "target", *(f"UA_{t}" for t in run.targets), "mean_UA", "IRA", "CRA"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writerow(csv_row({f: f for f in fields}))  # the header: targets' names are outside text
    for s in run.steps:
        row: dict[str, Any] = {"step": s.step, "target": s.target}
        for t in run.targets:
            v = s.ua.get(t)
            row[f"UA_{t}"] = "" if v is None else 100 * v
        for key, v in (("mean_UA", s.mean_ua), ("IRA", s.ira), ("CRA", s.cra)):
            row[key] = "" if v is None else 100 * v
        writer.writerow(csv_row(row))
    return buf.getvalue()


@literal_plot_text
def curves_png(run: SequenceRun) -> bytes:
    """The curves as PNG bytes: UA of each target from the step it is forgotten, IRA and CRA
    (dashed), in % against the step (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    x = [s.step for s in run.steps]
    fig = Figure(figsize=(max(5.0, 1.1 * len(x) + 3), 4.0), dpi=100)
    ax = fig.subplots()
    for t in run.targets:
        pts = [(s.step, 100 * s.ua[t]) for s in run.steps if s.ua.get(t) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=f"UA {t}")
    for name, colour in (("IRA", "black"), ("CRA", "grey")):
        pts = [(s.step, 100 * getattr(s, name.lower())) for s in run.steps
               if getattr(s, name.lower()) is not None]  # fmt: skip
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="s", linestyle="--", color=colour, label=name)
    ax.set_xticks(x, [f"{s.step}\n{s.target}" for s in run.steps], fontsize=8)
    ax.set_xlabel("step (target forgotten at that step)")
    ax.set_ylabel("%")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.set_title(f"{run.method}: sequential unlearning")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
