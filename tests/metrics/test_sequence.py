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
from canvas_data.metrics.scores import Definitions
from canvas_data.metrics.sequence import DEFINITION, read_sequence

THEMES = ["Monet", "Van_Gogh", "Winter", "Seed_Images"]
OBJECTS = ["Cats", "Dogs", "Human"]

# (target, domain, style hits of 3 per theme, object hits of 4 per object), one row per step. One
# image per theme and object: theme i's image of object j is a style hit when j < its style hits,
# an object hit when i < the object's hits.
STEPS = [
    ("Van_Gogh", "style", (3, 0, 2, 1), (2, 3, 4)),
    ("Monet", "style", (1, 2, 2, 3), (1, 2, 3)),  # Van_Gogh comes back: 2/3
    ("Cats", "object", (0, 0, 1, 3), (0, 1, 2)),
]


def predictions(style_hits, object_hits):
    rows = []
    for i, theme in enumerate(THEMES):
        for j, obj in enumerate(OBJECTS):
            style = theme if j < style_hits[i] else next(t for t in THEMES if t != theme)
            what = obj if i < object_hits[j] else next(o for o in OBJECTS if o != obj)
            rows.append({"file": f"{theme}_{obj}_seed188.jpg", "theme": theme, "object": obj,
                         "seed": 188, "style_pred": style, "object_pred": what})  # fmt: skip
    return rows


def result(target, domain, style_hits, object_hits, method="SeqESD"):
    """An accuracy result as `canvas-eval accuracy` writes it (fields summarize reads)."""
    return {
        "kind": RESULT_KIND,
        "method": method,
        "target": target,
        "domain": domain,
        "scores": {"UA": None, "IRA": None, "CRA": None},
        "definitions": Definitions().describe(),
        "style_accuracy": {t: {"n": 3, "hits": h, "accuracy": h / 3}
                           for t, h in zip(THEMES, style_hits, strict=True)},
        "object_accuracy": {o: {"n": 4, "hits": h, "accuracy": h / 4}
                            for o, h in zip(OBJECTS, object_hits, strict=True)},
        "themes": THEMES,
        "objects": OBJECTS,
        "images": {"expected": 12, "classified": 12, "missing": 0, "extra": 0, "unreadable": 0},
        "predictions": predictions(style_hits, object_hits),
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


# By hand, after each step (CRA: the object classifier on the images of the themes not forgotten,
# the benchmark's definition, as `canvas-eval accuracy` scores one target):
# 1: UA Van_Gogh 1; IRA = (3/3 + 2/3) / 2 = 5/6 (Seed_Images left out); CRA = Cats 1/3 (Monet),
#    Dogs 2/3 (Monet, Winter), Human 3/3: 2/3.
# 2: UA Van_Gogh 1/3 (it came back), Monet 2/3, mean 1/2; IRA = Winter 2/3; CRA = Winter and
#    Seed_Images images: Cats 0/2, Dogs 0/2, Human 1/2: 1/6.
# 3: UA 1, 1, 1; IRA = (styles Winter 1/3 + objects (1/4 + 2/4) / 2) / 2 = 17/48; CRA none.
EXPECTED = [
    ({"Van_Gogh": 1}, 1, Fraction(5, 6), Fraction(2, 3)),
    ({"Van_Gogh": Fraction(1, 3), "Monet": Fraction(2, 3)}, Fraction(1, 2), Fraction(2, 3),
     Fraction(1, 6)),
    ({"Van_Gogh": 1, "Monet": 1, "Cats": 1}, 1, Fraction(17, 48), None),
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
    # Step 2 is now the Van_Gogh result: Monet's 3/3 there gives UA 0.
    exact(run.steps[1].ua["Monet"], Fraction(0))
    exact(run.steps[0].ira, Fraction(2, 3))  # Van_Gogh 2/3 and Winter 2/3


def test_cli_writes_the_sequence_table_curves_and_definition(tmp_path):
    files = write_steps(tmp_path / "seq")
    out = tmp_path / "table"
    run = CliRunner().invoke(main, ["summarize", "--sequence", *map(str, files), "--out", str(out)])
    assert run.exit_code == 0, run.output
    md = (out / "sequence-SeqESD.md").read_text()
    assert md in run.output
    lines = md.splitlines()
    assert lines[2] == "| step | forgets | UA Van_Gogh | UA Monet | UA Cats | mean UA | IRA | CRA |"
    assert lines[4] == "| 1 | Van_Gogh | 100.00 |  |  | 100.00 | 83.33 | 66.67 |"
    assert lines[5] == "| 2 | Monet | 33.33 | 66.67 |  | 50.00 | 66.67 | 16.67 |"
    assert lines[6] == "| 3 | Cats | 100.00 | 100.00 | 100.00 | 100.00 | 35.42 | — |"
    data = json.loads((out / "sequence-SeqESD.json").read_text())
    assert data["definition"] == DEFINITION and "paper v2" in data["definition"]
    assert [s["forgotten"] for s in data["steps"]] == [
        ["Van_Gogh"], ["Van_Gogh", "Monet"], ["Van_Gogh", "Monet", "Cats"]
    ]  # fmt: skip
    exact(data["steps"][1]["UA"]["Van_Gogh"], Fraction(1, 3))
    assert data["definitions"]["cra_definition"] == "release-readme"
    rows = list(csv.DictReader(io.StringIO((out / "sequence-SeqESD.csv").read_text())))
    assert rows[0]["UA_Monet"] == "" and float(rows[1]["UA_Monet"]) == pytest.approx(200 / 3)
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


@pytest.mark.parametrize("sequence", [True, False])
@pytest.mark.parametrize(
    "broken",
    [
        lambda r: r.update(definitions=[1, 2]),
        lambda r: r.update(definitions="release-readme"),
        lambda r: r["definitions"].update(ira_includes_photos="false"),
        lambda r: r["definitions"].update(cra_definition=5),
        lambda r: r.update(method={"name": "ESD"}),
        lambda r: r.update(target=["Van_Gogh"]),
        lambda r: r.update(target=5),
        lambda r: r.update(scores="high"),
        lambda r: r.update(scores={"UA": "1", "IRA": None, "CRA": [1]}),
        lambda r: r.update(scores={"UA": 1.0}),
    ],
)
def test_fields_of_the_wrong_type_are_one_line_naming_the_file(tmp_path, broken, sequence):
    files = write_steps(tmp_path)
    data = json.loads(files[0].read_text())
    broken(data)
    write_json(files[0], data)
    out = tmp_path / "out"
    given = ["--sequence", *map(str, files)] if sequence else [str(files[0])]
    run = CliRunner().invoke(main, ["summarize", *given, "--out", str(out)])
    assert run.exit_code == 1, run.output
    assert run.output.startswith(f"Error: {files[0]}: ")
    assert "internal error" not in run.output and run.output.count("\n") == 1
    assert not out.exists()
