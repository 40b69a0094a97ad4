"""Sequential unlearning from hand-made results whose every accuracy the test decides."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import pytest
from click.testing import CliRunner
from PIL import Image

from canvas_data.atomic import write_json
from canvas_data.cli.eval import main
from canvas_data.metrics.accuracy import RESULT_KIND
from canvas_data.metrics.sequence import DEFINITION, read_sequence

THEMES = ["Monet", "Van_Gogh", "Winter", "Seed_Images"]
OBJECTS = ["Cats", "Dogs", "Human"]

# (target, domain, style hits of 5 per theme, object hits of 4 per object), one row per step.
STEPS = [
    ("Van_Gogh", "style", (4, 0, 3, 1), (2, 3, 4)),
    ("Monet", "style", (1, 2, 2, 5), (1, 2, 3)),  # Van_Gogh comes back: 2/5
    ("Cats", "object", (0, 0, 1, 3), (0, 1, 2)),
]


def result(target, domain, style_hits, object_hits, method="SeqESD"):
    """An accuracy result as `canvas-eval accuracy` writes it (fields summarize reads)."""
    return {
        "kind": RESULT_KIND,
        "method": method,
        "target": target,
        "domain": domain,
        "scores": {"UA": None, "IRA": None, "CRA": None},
        "style_accuracy": {t: {"n": 5, "hits": h, "accuracy": h / 5}
                           for t, h in zip(THEMES, style_hits, strict=True)},
        "object_accuracy": {o: {"n": 4, "hits": h, "accuracy": h / 4}
                            for o, h in zip(OBJECTS, object_hits, strict=True)},
        "themes": THEMES,
        "objects": OBJECTS,
        "images": {"expected": 60, "classified": 60, "missing": 0, "extra": 0, "unreadable": 0},
    }  # fmt: skip


def write_steps(folder, steps=STEPS, **kwargs):
    files = []
    for i, step in enumerate(steps, 1):
        path = folder / f"step{i}.json"
        write_json(path, result(*step, **kwargs))
        files.append(path)
    return files


def exact(value, expected) -> None:
    if expected is None:
        assert value is None
        return
    assert Fraction(value).limit_denominator(1000) == Fraction(expected)
    assert value == pytest.approx(float(Fraction(expected)), abs=1e-12)


# By hand, after each step:
# 1: UA Van_Gogh 1; IRA = (4/5 + 3/5) / 2 = 7/10 (Seed_Images left out); CRA = (2/4+3/4+4/4)/3.
# 2: UA Van_Gogh 3/5 (it came back), Monet 4/5, mean 7/10; IRA = Winter 2/5; CRA = 1/2.
# 3: UA 1, 1, 1; IRA = (styles Winter 1/5 + objects (1/4 + 2/4) / 2) / 2 = 23/80; CRA none.
EXPECTED = [
    ({"Van_Gogh": 1}, 1, Fraction(7, 10), Fraction(3, 4)),
    ({"Van_Gogh": Fraction(3, 5), "Monet": Fraction(4, 5)}, Fraction(7, 10), Fraction(2, 5),
     Fraction(1, 2)),
    ({"Van_Gogh": 1, "Monet": 1, "Cats": 1}, 1, Fraction(23, 80), None),
]  # fmt: skip


def test_every_step_scores_every_target_forgotten_so_far_exactly(tmp_path):
    run = read_sequence(write_steps(tmp_path))
    assert run.method == "SeqESD" and run.targets == ["Van_Gogh", "Monet", "Cats"]
    for step, (ua, mean_ua, ira, cra) in zip(run.steps, EXPECTED, strict=True):
        assert list(step.ua) == list(ua)
        for target, value in ua.items():
            exact(step.ua[target], value)
        exact(step.mean_ua, mean_ua)
        exact(step.ira, ira)
        exact(step.cra, cra)
    exact(run.steps[2].retain["object"], Fraction(3, 8))


def test_the_order_of_the_steps_matters(tmp_path):
    files = write_steps(tmp_path)
    run = read_sequence([files[1], files[0]])
    assert run.targets == ["Monet", "Van_Gogh"]
    # Step 2 is now the Van_Gogh result: Monet's 4/5 there gives UA 1/5.
    exact(run.steps[1].ua["Monet"], Fraction(1, 5))
    exact(run.steps[0].ira, Fraction(2, 5))  # Van_Gogh 2/5 and Winter 2/5


def test_cli_writes_the_sequence_table_curves_and_definition(tmp_path):
    files = write_steps(tmp_path / "seq")
    out = tmp_path / "table"
    run = CliRunner().invoke(main, ["summarize", "--sequence", *map(str, files), "--out", str(out)])
    assert run.exit_code == 0, run.output
    md = (out / "sequence-SeqESD.md").read_text()
    assert md in run.output
    lines = md.splitlines()
    assert lines[2] == "| step | forgets | UA Van_Gogh | UA Monet | UA Cats | mean UA | IRA | CRA |"
    assert lines[4] == "| 1 | Van_Gogh | 100.00 |  |  | 100.00 | 70.00 | 75.00 |"
    assert lines[5] == "| 2 | Monet | 60.00 | 80.00 |  | 70.00 | 40.00 | 50.00 |"
    assert lines[6] == "| 3 | Cats | 100.00 | 100.00 | 100.00 | 100.00 | 28.75 | — |"
    data = json.loads((out / "sequence-SeqESD.json").read_text())
    assert data["definition"] == DEFINITION and "paper v2" in data["definition"]
    assert [s["forgotten"] for s in data["steps"]] == [
        ["Van_Gogh"], ["Van_Gogh", "Monet"], ["Van_Gogh", "Monet", "Cats"]
    ]  # fmt: skip
    exact(data["steps"][1]["UA"]["Van_Gogh"], Fraction(3, 5))
    rows = list(csv.DictReader(io.StringIO((out / "sequence-SeqESD.csv").read_text())))
    assert rows[0]["UA_Monet"] == "" and float(rows[1]["UA_Monet"]) == pytest.approx(80)
    with Image.open(out / "sequence-SeqESD.png") as im:
        assert im.format == "PNG" and im.width >= 400 and im.height >= 300
        # Curves are drawn: many distinct colours, not a blank canvas.
        assert len(im.convert("RGB").getcolors(1 << 20)) > 50
    assert not (out / "table.md").exists()  # no per-target results given: no method table


def test_sequence_next_to_the_method_table_and_two_sequences(tmp_path):
    files = write_steps(tmp_path / "a")
    other = write_steps(tmp_path / "b", STEPS[:2], method="SeqFMN")
    single = tmp_path / "ESD" / "Van_Gogh.json"
    write_json(single, {**result(*STEPS[0], method=None),
                        "scores": {"UA": 1.0, "IRA": 0.7, "CRA": 0.75}})  # fmt: skip
    out = tmp_path / "table"
    args = ["summarize", str(single), "--sequence", *map(str, files), "--sequence",
            *map(str, other), "--out", str(out)]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert (out / "table.md").read_text().splitlines()[2].startswith("| ESD | 100.00 | 70.00 |")
    assert json.loads((out / "sequence-SeqFMN.json").read_text())["targets"] == [
        "Van_Gogh", "Monet"
    ]  # fmt: skip
    assert len(json.loads((out / "sequence-SeqESD.json").read_text())["steps"]) == 3


@pytest.mark.parametrize(
    "broken, message",
    [
        (lambda r: r.update(target=None, domain=None), "step1.json: a step of a sequence needs"),
        (lambda r: r.update(kind="canvas-eval fid"), "step1.json: not written by"),
        (
            lambda r: r.update(target="Van_Gogh:Cats", domain="combination"),
            "step1.json: Van_Gogh:Cats is a combination (finer-scale) target; a step of a sequence",
        ),
        (lambda r: r.update(domain="colour"), "step1.json: a step of a sequence needs"),
        (lambda r: r.pop("object_accuracy"), "step1.json: no object_accuracy table"),
        (
            lambda r: r["style_accuracy"].update(Monet={"accuracy": "high"}),
            "step1.json: style_accuracy of Monet is not a number or null",
        ),
        (lambda r: r["object_accuracy"].update(Cats=0.5), "object_accuracy of Cats is not a"),
    ],
)
def test_bad_steps_are_one_line_errors_naming_the_file(tmp_path, broken, message):
    files = write_steps(tmp_path)
    data = json.loads(files[0].read_text())
    broken(data)
    write_json(files[0], data)
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["summarize", "--sequence", *map(str, files), "--out", str(out)])
    assert run.exit_code == 1 and message in run.output, run.output
    assert run.output.count("\n") == 1
    assert not out.exists()  # everything is read before anything is written


def test_a_target_forgotten_twice_and_mixed_methods_are_refused(tmp_path):
    files = write_steps(tmp_path)
    write_json(files[2], result(*STEPS[0]))
    run = CliRunner().invoke(main, ["summarize", "--sequence", *map(str, files), "--out", "x"])
    assert run.exit_code == 1 and "step3.json: step 3 forgets Van_Gogh again" in run.output
    files = write_steps(tmp_path)
    write_json(files[1], result(*STEPS[1], method="FMN"))
    run = CliRunner().invoke(main, ["summarize", "--sequence", *map(str, files), "--out", "x"])
    assert run.exit_code == 1 and "one sequence is one method's run" in run.output
    run = CliRunner().invoke(main, ["summarize", "--sequence", "--out", "x"])
    assert run.exit_code == 2 and "--sequence needs the result file of every step" in run.output
    run = CliRunner().invoke(main, ["summarize", "--out", "x"])
    assert run.exit_code == 1 and "no result files given" in run.output
    run = CliRunner().invoke(main, ["summarize", "--sequence", str(tmp_path), "--out", "x"])
    assert run.exit_code == 1 and "cannot read the result" in run.output
    assert run.output.count("\n") == 1
