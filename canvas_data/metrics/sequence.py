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
- ``CRA_k``: the other classifier's retain accuracy over the domain that holds no forgotten
  target, under the CRA definition the results state (by default the images that involve no
  forgotten target); undefined (``None``) once both domains hold one.

Every score is computed from the predictions each result holds, by
``canvas_data.metrics.scores.forgetting_scores``: the code, and so the number, that
``canvas-eval accuracy`` gives for one target is the one a sequence's first step gives. The steps
must state the same definitions. A concept without images in a step's answer set is left out of
the means; a forgotten target without images gets ``UA`` ``None``. Values are fractions in
[0, 1].
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
from canvas_data.metrics.scores import DOMAINS, Definitions, Judged, forgetting_scores

SEQUENCE_KIND = "canvas-eval sequence"
DEFINITION = (
    "Sequential unlearning (paper v2): step k's model has forgotten T1..Tk, in order. After step "
    "k: UA(T) = 1 - accuracy on T, for every T forgotten so far; IRA = for each domain holding a "
    "forgotten target, the mean accuracy over its concepts not forgotten (Seed_Images left out of "
    "styles unless the definitions say otherwise), averaged over those domains; CRA = the other "
    "classifier's retain accuracy over the domain holding no forgotten target, under the stated "
    "CRA definition, with the forgotten set as the target (none once both domains hold one). "
    "Computed from each result's predictions as canvas-eval accuracy computes one target's. "
    "Concepts without images are left out of the means. Fractions in [0, 1]."
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
    definitions: Definitions = Definitions()

    @property
    def targets(self) -> list[str]:
        return [s.target for s in self.steps]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": SEQUENCE_KIND,
            "definition": DEFINITION,
            "definitions": self.definitions.describe(),
            "method": self.method,
            "targets": self.targets,
            "steps": [s.as_dict() for s in self.steps],
        }


def _mean(values) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def judged_of(result: Mapping[str, Any]) -> list[Judged]:
    """The judged images of an accuracy result: its ``predictions``, one per classified image."""
    return [
        Judged(p["theme"], p["object"], int(p["seed"]), p["style_pred"], p["object_pred"])
        for p in result["predictions"]
    ]


def step_scores(
    result: Mapping[str, Any], forgotten: Sequence[str], definitions: Definitions
) -> tuple[dict[str, float | None], float | None, float | None, dict[str, float | None]]:
    """UA per forgotten target, IRA, CRA and the per-domain retain accuracy of one step's result
    (``forgotten``: the targets forgotten so far, in order), by ``scores.forgetting_scores``."""
    got = forgetting_scores(
        judged_of(result), result["themes"], result["objects"], forgotten, definitions
    )
    return got.ua, got.ira, got.cra, got.retain


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
    for key in ("themes", "objects"):
        names = result.get(key)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{path}: no list of {key}")
    rows = result.get("predictions")
    if not isinstance(rows, list):
        raise ValueError(
            f"{path}: no predictions (a step is scored from them); rescore it with "
            "`canvas-eval accuracy`"
        )
    fields = {"theme": str, "object": str, "seed": int, "style_pred": str, "object_pred": str}
    for n, row in enumerate(rows):
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), t) and not isinstance(row.get(k), bool)
            for k, t in fields.items()
        ):
            raise ValueError(
                f"{path}: prediction {n} lacks one of {', '.join(fields)} (or has the wrong type)"
            )
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
    first: tuple[Path, Definitions] | None = None
    for number, path in enumerate(paths, 1):
        result = _read(path)
        if result.get("method"):
            named.setdefault(result["method"], path)
        definitions = Definitions.from_result(result.get("definitions"))
        if first is None:
            first = (path, definitions)
        elif definitions != first[1]:
            raise ValueError(
                f"{path} states {definitions.name()} but {first[0]} {first[1].name()}: one "
                "sequence is scored under one set of definitions; rescore one with the other's"
            )
        target = result["target"]
        if target in domains:
            raise ValueError(f"{path}: step {number} forgets {target} again (already forgotten)")
        domains[target] = result["domain"]
        forgotten.append(target)
        try:
            ua, ira, cra, retain = step_scores(result, forgotten, definitions)
        except ValueError as err:  # a target outside the step's answer set
            raise ValueError(f"{path}: {err}") from None
        steps.append(
            Step(
                number, target, result["domain"], tuple(forgotten), ua, ira, cra, retain, str(path)
            )  # fmt: skip
        )
    if len(named) > 1:
        (a, pa), (b, pb) = list(named.items())[:2]
        raise ValueError(f"{pa} is {a} but {pb} is {b}: one sequence is one method's run")
    name = method or next(iter(named), None) or method_of(Path(paths[0]), {})
    return SequenceRun(name, tuple(steps), first[1] if first else Definitions())


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
