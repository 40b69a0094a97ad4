"""``canvas-eval`` end to end on the CPU: a tiny random pipeline generates an answer set; a
hand-made answer set, whose every prediction the test decides, is scored exactly; results become
the table and heat maps."""

from __future__ import annotations

import io
import json
from fractions import Fraction

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("diffusers")

from canvas_data.atomic import write_json  # noqa: E402
from canvas_data.classify.classifier import (  # noqa: E402
    Classifier,
    ClassifierInfo,
    Predictions,
    build_model,
    save_run,
)
from canvas_data.cli.eval import main  # noqa: E402
from canvas_data.metrics.accuracy import evaluate_answers  # noqa: E402
from canvas_data.metrics.answers import Answer, plan_answers  # noqa: E402
from canvas_data.metrics.scores import Definitions  # noqa: E402
from canvas_data.stylizers.random_pipelines import build_pipeline  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

THEMES = ["Monet", "Van_Gogh", "Seed_Images"]
OBJECTS = ["Cats", "Human"]
SEEDS = [188, 288]
SET = ["--themes", ",".join(THEMES), "--objects", ",".join(OBJECTS), "--seeds", "188,288"]
STYLE_CLASSES = ["Monet", "Van_Gogh", "Seed_Images", "Winter"]

# What each classifier will say about each image: (style, object), for every file of the set.
# Monet_Human_seed288 is unreadable and Seed_Images_Human_seed288 is missing.
SAYS = {
    ("Monet", "Cats", 188): ("Monet", "Cats"),
    ("Monet", "Cats", 288): ("Monet", "Human"),
    ("Monet", "Human", 188): ("Van_Gogh", "Human"),
    ("Van_Gogh", "Cats", 188): ("Van_Gogh", "Cats"),
    ("Van_Gogh", "Cats", 288): ("Seed_Images", "Human"),
    ("Van_Gogh", "Human", 188): ("Van_Gogh", "Human"),
    ("Van_Gogh", "Human", 288): ("Van_Gogh", "Cats"),
    ("Seed_Images", "Cats", 188): ("Seed_Images", "Cats"),
    ("Seed_Images", "Cats", 288): ("Seed_Images", "Cats"),
    ("Seed_Images", "Human", 188): ("Monet", "Cats"),
}
# By hand: style accuracy Monet 2/3, Van_Gogh 3/4, Seed_Images 2/3 (one image each unreadable
# or missing); object accuracy Cats 4/6, Human 2/4.


def code(index: int) -> int:
    return 30 * index + 20


class ColourClassifier:
    """Reads its answer off the image: class ``i`` is a red (or green) level of ``30 i + 20``."""

    def __init__(self, classes, channel):
        self.classes, self.channel = list(classes), channel
        self.calls = []

    def predict(self, images, *, batch_size=64, progress=False):
        self.calls.append(len(images))
        probs = np.zeros((len(images), len(self.classes)), np.float32)
        for row, image in enumerate(images):
            level = float(np.asarray(image)[..., self.channel].mean())
            probs[row, int(round((level - 20) / 30))] = 1.0
        return Predictions(self.classes, probs)


def hand_made_answers(folder, per_theme=False):
    for (theme, obj, seed), (style, what) in SAYS.items():
        path = Answer(theme, obj, seed).path(folder, per_theme)
        path.parent.mkdir(parents=True, exist_ok=True)
        colour = (code(STYLE_CLASSES.index(style)), code(OBJECTS.index(what)), 128)
        Image.new("RGB", (40, 40), colour).save(path, quality=95)
    Answer("Monet", "Human", 288).path(folder, per_theme).write_bytes(b"\xff\xd8broken")
    Image.new("RGB", (40, 40)).save(folder / "Van_Gogh_Cats_seed588.jpg")  # not asked for
    (folder / "notes.txt").write_text("ignored")
    return folder


def exact(value, expected: Fraction) -> None:
    assert Fraction(value).limit_denominator(1000) == expected
    assert value == pytest.approx(float(expected), abs=1e-15)


@pytest.mark.parametrize("per_theme", [False, True])
def test_accuracy_and_scores_exactly_on_a_hand_made_answer_set(tmp_path, per_theme):
    answers = hand_made_answers(tmp_path / "answers", per_theme)
    style = ColourClassifier(STYLE_CLASSES, 0)
    objects = ColourClassifier(OBJECTS, 1)
    result = evaluate_answers(
        answers, style, objects, target="Van_Gogh", method="ESD", themes=THEMES,
        objects=OBJECTS, seeds=SEEDS, batch_size=4, workers=2, progress=False, allow_missing=True,
    )  # fmt: skip
    assert style.calls == [3, 4, 3] and objects.calls == [3, 4, 3]  # batches of 4, one unreadable
    acc = {k: (v["hits"], v["n"]) for k, v in result["style_accuracy"].items()}
    assert acc == {"Monet": (2, 3), "Van_Gogh": (3, 4), "Seed_Images": (2, 3)}
    acc = {k: (v["hits"], v["n"]) for k, v in result["object_accuracy"].items()}
    assert acc == {"Cats": (4, 6), "Human": (2, 4)}
    assert result["domain"] == "style"
    exact(result["scores"]["UA"], Fraction(1, 4))  # 1 - 3/4
    exact(result["scores"]["IRA"], Fraction(2, 3))  # Monet (Seed_Images is not a style)
    # The object classifier on the Monet and Seed_Images images: Cats 3/4, Human 1/2.
    exact(result["scores"]["CRA"], Fraction(5, 8))
    assert result["definitions"]["ira_includes_photos"] is False
    assert "issues/13" in result["definitions"]["source"]
    assert result["seeds"] == SEEDS and result["layout"] == (
        "per-theme folders" if per_theme else "flat"
    )
    assert result["missing"] == ["Seed_Images_Human_seed288.jpg"]
    assert [e["path"] for e in result["extra"]] == ["Van_Gogh_Cats_seed588.jpg"]
    assert result["unreadable"][0]["path"].endswith("Monet_Human_seed288.jpg")
    assert result["images"] == {
        "expected": 12, "classified": 10, "missing": 1, "extra": 1, "unreadable": 1
    }  # fmt: skip
    assert len(result["predictions"]) == 10
    by_file = {p["file"].rsplit("/", 1)[-1]: p for p in result["predictions"]}
    assert by_file["Van_Gogh_Cats_seed288.jpg"]["style_pred"] == "Seed_Images"
    kw = {"themes": THEMES, "objects": OBJECTS, "progress": False, "allow_missing": True}
    human = evaluate_answers(answers, style, objects, target="Human", seeds=SEEDS, **kw)
    exact(human["scores"]["UA"], Fraction(1, 2))  # 1 - 2/4
    exact(human["scores"]["IRA"], Fraction(2, 3))  # Cats: 4/6
    # The style classifier on the Cats images, over the styles: Monet 2/2, Van_Gogh 1/2.
    exact(human["scores"]["CRA"], Fraction(3, 4))
    old = evaluate_answers(answers, style, objects, target="Human", seeds=SEEDS,
                           definitions=Definitions(cra="whole-table"), **kw)  # fmt: skip
    exact(old["scores"]["CRA"], Fraction(25, 36))  # every image and theme: (2/3 + 3/4 + 2/3) / 3
    # Monet, the seeds not given: those present are 188, 288 and the stray 588 (so 3 x 2 x 3
    # expected, 12 there); the seed-588 image is black, which the classifiers call the last
    # class (Winter, Human). IRA over Van_Gogh alone, or with the photos.
    monet = evaluate_answers(answers, style, objects, target="Monet", **kw)
    photos = evaluate_answers(answers, style, objects, target="Monet",
                              definitions=Definitions(ira_includes_photos=True), **kw)  # fmt: skip
    assert monet["seeds"] == [188, 288, 588] and monet["seeds_found"] == {
        "188": 6,
        "288": 5,
        "588": 1,
    }
    exact(monet["scores"]["UA"], Fraction(1, 3))  # 1 - 2/3
    exact(monet["scores"]["IRA"], Fraction(3, 5))  # Van_Gogh with its seed-588 image: 3/5
    exact(photos["scores"]["IRA"], Fraction(19, 30))  # (3/5 + 2/3) / 2
    assert photos["definitions"]["ira_includes_photos"] is True
    assert "and Seed_Images" in photos["definitions"]["ira"]
    assert photos["scores"]["CRA"] == monet["scores"]["CRA"]
    with pytest.raises(ValueError, match="12 of 18 answer images found"):
        evaluate_answers(answers, style, objects, target="Monet", themes=THEMES,
                         objects=OBJECTS, progress=False)  # fmt: skip


def constant_run(folder, task, classes, answer):
    """A real tiny ViT run folder whose head always picks ``answer`` (weights zero, bias set)."""
    torch.manual_seed(0)
    model = build_model("tiny", classes, image_size=32)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.bias[classes.index(answer)] = 5.0
    save_run(model, ClassifierInfo(task=task, classes=list(classes), image_size=32), folder)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "style": constant_run(root / "style", "style", STYLE_CLASSES, "Van_Gogh"),
        "object": constant_run(root / "object", "object", OBJECTS, "Cats"),
    }


def test_cli_accuracy_with_classifier_run_folders_then_summarize(tmp_path, runs):
    answers = hand_made_answers(tmp_path / "answers")
    out = tmp_path / "results" / "Monet.json"
    args = ["accuracy", "--answers", str(answers), "--style-classifier", str(runs["style"]),
            "--object-classifier", str(runs["object"]), "--target", "Monet", "--method", "FMN",
            "--out", str(out), "--device", "cpu", "--batch-size", "3", "--no-progress",
            "--allow-missing", *SET]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert "missing (1):" in run.output and "Seed_Images_Human_seed288.jpg" in run.output
    assert "extra (1):" in run.output and "unreadable (1):" in run.output
    assert "target Monet (style): UA 100.00%, IRA 100.00%, CRA 50.00%" in run.output
    assert (
        "IRA: style target: mean accuracy over the other styles (Seed_Images excluded)"
        in run.output
    )
    result = json.loads(out.read_text())
    # Always Van_Gogh and Cats: Monet 0/3, Van_Gogh 4/4, Seed_Images 0/3; Cats 6/6, Human 0/4.
    # IRA: Van_Gogh alone; CRA: on the Van_Gogh and Seed_Images images, Cats 4/4, Human 0/3.
    assert result["scores"] == {"UA": 1.0, "IRA": 1.0, "CRA": 0.5}
    assert result["classifiers"]["style"]["classes"] == STYLE_CLASSES

    # A second method from the hand-made classifiers, two targets, and a FID result.
    style, objects = ColourClassifier(STYLE_CLASSES, 0), ColourClassifier(OBJECTS, 1)
    esd = tmp_path / "results" / "ESD"
    for target in ("Van_Gogh", "Human"):
        r = evaluate_answers(answers, style, objects, target=target, themes=THEMES,
                             objects=OBJECTS, seeds=SEEDS, progress=False,
                             allow_missing=True)  # fmt: skip
        write_json(esd / f"{target}.json", r)  # no --method: the folder names it
    write_json(esd / "fid.json", {"kind": "canvas-eval fid", "fid": 61.05, "method": None})
    files = [str(out), *(str(p) for p in sorted(esd.glob("*.json")))]
    table = tmp_path / "table"
    run = CliRunner().invoke(main, ["summarize", *files, "--out", str(table)])
    assert run.exit_code == 0, run.output
    markdown = (table / "table.md").read_text()
    assert markdown in run.output
    lines = markdown.splitlines()
    assert lines[0].startswith("| method | style UA | IRA | CRA | object UA | IRA | CRA | FID |")
    assert lines[2] == "| FMN | 100.00 | 100.00 | 50.00 | — | — | — | — | 1 / 0 |"
    # ESD style (Van_Gogh): 1/4, 2/3, 5/8; object (Human): 1/2, 2/3, 3/4.
    assert lines[3] == "| ESD | 25.00 | 66.67 | 62.50 | 50.00 | 66.67 | 75.00 | 61.05 | 1 / 1 |"
    data = json.loads((table / "table.json").read_text())
    assert data["methods"][1]["object_CRA"] == pytest.approx(3 / 4, abs=1e-15)
    assert data["methods"][1]["definitions"]["ira_includes_photos"] is False
    assert {t["target"] for t in data["targets"]} == {"Monet", "Van_Gogh", "Human"}
    csv_lines = (table / "table.csv").read_text().splitlines()
    assert csv_lines[0].startswith("method,style_UA,style_IRA,style_CRA,object_UA")
    assert csv_lines[2].startswith("ESD,25.0,")
    for name in ("FMN", "ESD"):
        with Image.open(table / f"heatmap-{name}.png") as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 150

    twice = CliRunner().invoke(main, ["summarize", str(out), str(out), "--out", str(table)])
    assert twice.exit_code == 1 and "are both FMN with target Monet" in twice.output

    # One method's results under two definitions are not averaged together.
    r = evaluate_answers(answers, style, objects, target="Monet", themes=THEMES, objects=OBJECTS,
                         seeds=SEEDS, progress=False, allow_missing=True,
                         definitions=Definitions(ira_includes_photos=True))  # fmt: skip
    write_json(esd / "Monet.json", r)
    mixed = CliRunner().invoke(
        main, ["summarize", *files, str(esd / "Monet.json"), "--out", str(table)]
    )
    assert mixed.exit_code == 1 and mixed.output.count("\n") == 1, mixed.output
    assert "score IRA/CRA under different definitions" in mixed.output
    old = dict(r, target="Cats")
    del old["definitions"]  # a result written before the definitions were stated
    write_json(esd / "Cats.json", old)
    mixed = CliRunner().invoke(
        main, ["summarize", files[1], str(esd / "Cats.json"), "--out", str(table)]
    )
    assert mixed.exit_code == 1 and "different definitions" in mixed.output


def release_layout(root, target, name="{t}_{o}_seed{s}.jpg", seeds=(188,), skip=0):
    """The release's method folder: ROOT/{target}/{Theme}_{Object}_seed{seed}.jpg (or the
    naming given; the format follows the suffix), all but the first ``skip`` images."""
    folder = root / target
    folder.mkdir(parents=True)
    cells = [(t, o, s) for t in THEMES for o in OBJECTS for s in seeds][skip:]
    for t, o, s in cells:
        colour = (code(STYLE_CLASSES.index(t)), code(OBJECTS.index(o)), 128)
        Image.new("RGB", (40, 40), colour).save(
            folder / name.format(t=t, o=o, s=s), "JPEG", quality=95
        )
    return root


@pytest.mark.parametrize(
    "name", ["{t}_{o}_seed{s}.jpg", "{t}_{o}_seed_{s}.jpg", "{t}_{o}_seed{s}.png"]
)
def test_cli_accuracy_reads_the_release_layout_and_refuses_a_set_with_much_missing(
    tmp_path, runs, name
):
    root = release_layout(tmp_path / "esd" / "style50", "Van_Gogh", name)
    release_layout(root, "Monet", name, skip=3)  # 3 of 6 missing
    base = ["accuracy", "--answers", str(root), "--style-classifier", str(runs["style"]),
            "--object-classifier", str(runs["object"]), "--device", "cpu", "--no-progress",
            "--themes", ",".join(THEMES), "--objects", ",".join(OBJECTS)]  # fmt: skip
    run = CliRunner().invoke(main, [*base, "--target", "Van_Gogh"])
    assert run.exit_code == 0, run.output
    result = json.loads((root / "Van_Gogh" / "accuracy.json").read_text())
    assert result["images"] == {
        "expected": 6, "classified": 6, "missing": 0, "extra": 0, "unreadable": 0
    }  # fmt: skip
    assert result["seeds"] == [188] and result["seeds_found"] == {"188": 6}
    assert result["answers"] == str(root / "Van_Gogh")
    assert result["layout"] == "in the target's folder, flat"
    assert "6 of 6 answer images classified" in run.output and "seeds 188" in run.output
    # The constant classifiers say Van_Gogh and Cats: Van_Gogh 2/2, Monet 0/2, Cats 3/3.
    assert result["scores"] == {"UA": 0.0, "IRA": 0.0, "CRA": 0.5}

    run = CliRunner().invoke(main, [*base, "--target", "Monet"])
    assert run.exit_code == 1 and run.output.count("\n") == 1, run.output
    assert (
        f"{root}: 3 of 6 answer images found (3 missing, 50%); looked in {root / 'Monet'}"
        in run.output
    )
    assert not (root / "Monet" / "accuracy.json").exists()
    run = CliRunner().invoke(main, [*base, "--target", "Monet", "--allow-missing"])
    assert run.exit_code == 0, run.output
    assert json.loads((root / "Monet" / "accuracy.json").read_text())["images"]["classified"] == 3


def test_cli_accuracy_errors_are_one_line(tmp_path, runs):
    answers = hand_made_answers(tmp_path / "answers")
    base = ["accuracy", "--answers", str(answers), "--style-classifier", str(runs["style"]),
            "--object-classifier", str(runs["object"]), "--no-progress"]  # fmt: skip
    for extra, message in (
        ([*SET, "--target", "Dogs"], "neither a theme nor an object"),
        (
            ["--themes", "Monet", "--objects", "Cats,Dogs"],
            "object classifier has no class for Dogs",
        ),
        (
            [],
            "style classifier has no class for Abstractionism, Artist_Sketch, Blossom_Season, "
            "Bricks, Byzantine and 42 more (it has 4: Monet, Van_Gogh, Seed_Images, Winter, ...)",
        ),
        (["--seeds", "1,x"], "seeds must be integers"),
    ):
        run = CliRunner().invoke(main, base + extra)
        assert run.exit_code != 0 and message in run.output, run.output
        assert run.output.count("\n") == 1 or "Usage:" in run.output, run.output
    run = CliRunner().invoke(main, ["summarize", str(answers / "notes.txt"), "--out", "x"])
    assert run.exit_code == 1 and "not a JSON result" in run.output


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return build_pipeline("tiny", tmp_path_factory.mktemp("sd") / "tiny")


def generate(out, pipeline, *extra):
    args = ["generate", "--model", str(pipeline), "--out", str(out), "--themes",
            "Van_Gogh,Seed_Images", "--objects", "Cats", "--seeds", "188,288", "--steps", "2",
            "--resolution", "32", "--device", "cpu", "--no-progress", *extra]  # fmt: skip
    return CliRunner().invoke(main, args)


def contents(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.jpg")}


def max_level_difference(a: dict[str, bytes], b: dict[str, bytes]) -> int:
    """The largest pixel difference (0..255) between the same-named JPEGs of two sets."""

    def pixels(data):
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.int16)

    return max(int(np.abs(pixels(a[k]) - pixels(b[k])).max()) for k in a)


def test_generate_resumes_splits_and_keeps_one_set_one_generation(tmp_path, pipeline, runs):
    whole = tmp_path / "whole"
    run = generate(whole, pipeline, "--batch-size", "3")
    assert run.exit_code == 0, run.output
    assert "generated 4 images" in run.output
    names = sorted(a.file_name for a in plan_answers(["Van_Gogh", "Seed_Images"], ["Cats"], SEEDS))
    assert sorted(contents(whole)) == names
    with Image.open(whole / names[0]) as im:
        assert im.size == (32, 32) and im.format == "JPEG"
    record = json.loads((whole / "generate.json").read_text())
    assert record["scheduler"] == "DDIMScheduler" and record["steps"] == 2
    assert record["guidance_scale"] == 9.0 and record["model_weights_sha256"]

    before = {p: p.stat().st_mtime_ns for p in whole.rglob("*")}
    run = generate(whole, pipeline)
    assert run.exit_code == 0 and "generated 0 images" in run.output
    assert "4 already done" in run.output
    assert {p: p.stat().st_mtime_ns for p in whole.rglob("*")} == before

    (whole / names[1]).unlink()
    run = generate(whole, pipeline, "--steps", "3")
    assert run.exit_code == 1 and run.output.count("\n") == 1
    assert "holds answers generated otherwise (steps: 2 -> 3)" in run.output

    parts = tmp_path / "parts"
    for index in (0, 1):
        run = generate(parts, pipeline, "--num-shards", "2", "--shard-index", str(index))
        assert run.exit_code == 0 and "generated 2 images" in run.output, run.output
    run = generate(whole, pipeline)
    assert "generated 1 images" in run.output
    # the same images alone, in batches, on two ranks: CPU matrix kernels round by batch shape,
    # so a batched image may differ from the lone one by a level in a few pixels (and JPEG spreads
    # that over its block); different seeds differ by far more
    assert sorted(contents(parts)) == sorted(contents(whole))
    assert max_level_difference(contents(parts), contents(whole)) <= 8
    first, second = sorted(contents(whole))[:2]
    assert max_level_difference({"x": contents(whole)[first]}, {"x": contents(whole)[second]}) > 8

    nested = tmp_path / "nested"
    run = generate(nested, pipeline, "--per-theme-folders", "--prompt", "release")
    assert run.exit_code == 0, run.output
    assert (nested / "Van_Gogh" / "Van_Gogh_Cats_seed188.jpg").is_file()

    out = tmp_path / "acc.json"
    args = ["accuracy", "--answers", str(nested), "--style-classifier", str(runs["style"]),
            "--object-classifier", str(runs["object"]), "--themes", "Van_Gogh,Seed_Images",
            "--objects", "Cats", "--seeds", "188,288", "--target", "Van_Gogh", "--out", str(out),
            "--device", "cpu", "--no-progress"]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert json.loads(out.read_text())["images"]["classified"] == 4


def test_generate_model_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = generate(tmp_path / "a", "org/not-cached-model")
    assert run.exit_code == 1 and run.output.count("\n") == 1
    assert "not in the Hugging Face cache and HF_HUB_OFFLINE=1" in run.output
    run = generate(tmp_path / "a", tmp_path)
    assert run.exit_code == 1 and "has no model_index.json" in run.output


def test_generate_with_an_unlearned_unet_from_a_folder_or_a_state_dict(tmp_path, pipeline):
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    unet = UNet2DConditionModel.from_pretrained(pipeline / "unet")
    with torch.no_grad():
        unet.conv_out.bias.add_(0.5)  # "unlearned": other weights than the model's own
    unet.save_pretrained(tmp_path / "unet")
    save_file(unet.state_dict(), tmp_path / "unet.safetensors")
    base = generate(tmp_path / "base", pipeline)
    folder = generate(tmp_path / "folder", pipeline, "--unet", str(tmp_path / "unet"))
    single = generate(tmp_path / "file", pipeline, "--unet", str(tmp_path / "unet.safetensors"))
    for run in (base, folder, single):
        assert run.exit_code == 0, run.output
    assert contents(tmp_path / "folder") == contents(tmp_path / "file")
    assert contents(tmp_path / "folder") != contents(tmp_path / "base")
    record = json.loads((tmp_path / "file" / "generate.json").read_text())
    assert record["unet"].endswith("unet.safetensors") and len(record["unet_weights_sha256"]) == 64

    save_file({"model.diffusion_model.out.2.bias": torch.zeros(4)}, tmp_path / "ldm.safetensors")
    run = generate(tmp_path / "ldm", pipeline, "--unet", str(tmp_path / "ldm.safetensors"))
    assert run.exit_code == 1 and run.output.count("\n") == 1
    assert "do not match the model's diffusers UNet" in run.output


def test_a_combination_target_is_scored_from_the_same_answer_set(tmp_path, runs):
    answers = hand_made_answers(tmp_path / "answers")
    style, objects = ColourClassifier(STYLE_CLASSES, 0), ColourClassifier(OBJECTS, 1)
    result = evaluate_answers(answers, style, objects, target="Van_Gogh:Cats", themes=THEMES,
                              objects=OBJECTS, seeds=SEEDS, progress=False,
                              allow_missing=True)  # fmt: skip
    assert result["domain"] == "combination"
    assert (
        result["combination"]["style"] == "Van_Gogh" and result["combination"]["object"] == "Cats"
    )
    # Van_Gogh x Cats: 1 of 2 both right; Van_Gogh x Human (SC): 1 of 2 both, 2 style, 1 object;
    # Monet x Cats (OC): 1, 2, 1 of 2; Monet x Human (UP, one readable): neither both nor style.
    assert result["scores"] == {"UA": 0.5, "SC": 0.5, "OC": 0.5, "UP": 0.0}
    assert result["combination"]["by_rule"]["style"] == {"UA": 0.5, "SC": 1.0, "OC": 1.0, "UP": 0.0}
    assert result["combination"]["by_rule"]["object"] == {
        "UA": 0.5,
        "SC": 0.5,
        "OC": 0.5,
        "UP": 1.0,
    }
    assert (
        result["definitions"]["rule"] == "both" and "finer scale" in result["definitions"]["source"]
    )

    base = ["accuracy", "--answers", str(answers), "--style-classifier", str(runs["style"]),
            "--object-classifier", str(runs["object"]), "--device", "cpu", "--no-progress",
            "--allow-missing", "--method", "ESD", *SET]  # fmt: skip
    out = tmp_path / "results"
    run = CliRunner().invoke(main, [*base, "--target", "Van_Gogh:Cats", "--combination-rule",
                                    "style", "--out", str(out / "combo.json")])  # fmt: skip
    assert run.exit_code == 0, run.output
    # Always Van_Gogh and Cats: under "style", Van_Gogh cells are hits, Monet cells are not.
    assert (
        "target Van_Gogh:Cats (combination): UA 0.00%, SC 100.00%, OC 0.00%, UP 0.00%" in run.output
    )
    assert "HIT: an image is a hit when the style classifier names its style" in run.output
    run = CliRunner().invoke(main, [*base, "--target", "Van_Gogh", "--out", str(out / "vg.json")])
    assert run.exit_code == 0, run.output
    # The combination result is listed per target but kept out of the style/object averages.
    run = CliRunner().invoke(main, ["summarize", str(out / "vg.json"), str(out / "combo.json"),
                                    "--out", str(tmp_path / "table")])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "| ESD | 0.00 | 0.00 | 50.00 | — | — | — | — | 1 / 0 |" in run.output
    data = json.loads((tmp_path / "table" / "table.json").read_text())
    assert {t["target"] for t in data["targets"]} == {"Van_Gogh", "Van_Gogh:Cats"}
    run = CliRunner().invoke(main, [*base, "--target", "Seed_Images:Cats"])
    assert run.exit_code == 1 and "'Seed_Images' is not a style" in run.output


# By hand (see SAYS): the CRA of Van_Gogh (object classifier) and of Human (style classifier).
# release-readme: Van_Gogh 5/8 (Monet and Seed_Images images), Human 3/4 (Cats images, styles);
# all-images: Van_Gogh (Cats 4/6 + Human 2/4) / 2 = 7/12, Human (Monet 2/3 + Van_Gogh 3/4) / 2;
# whole-table: Van_Gogh as all-images, Human with Seed_Images 2/3 too: 25/36.
CRA_BY_HAND = {
    "release-readme": {"Van_Gogh": Fraction(5, 8), "Human": Fraction(3, 4)},
    "all-images": {"Van_Gogh": Fraction(7, 12), "Human": Fraction(17, 24)},
    "whole-table": {"Van_Gogh": Fraction(7, 12), "Human": Fraction(25, 36)},
}


@pytest.mark.parametrize("cra", list(CRA_BY_HAND))
def test_one_result_gives_one_score_alone_in_the_table_and_in_a_sequence(tmp_path, cra):
    from canvas_data.metrics.sequence import read_sequence
    from canvas_data.metrics.summarize import read_results, table_rows

    answers = hand_made_answers(tmp_path / "answers")
    style, objects = ColourClassifier(STYLE_CLASSES, 0), ColourClassifier(OBJECTS, 1)
    for target in ("Van_Gogh", "Human"):
        r = evaluate_answers(answers, style, objects, target=target, method="ESD", themes=THEMES,
                             objects=OBJECTS, seeds=SEEDS, progress=False, allow_missing=True,
                             definitions=Definitions(cra=cra))  # fmt: skip
        exact(r["scores"]["CRA"], CRA_BY_HAND[cra][target])
        assert r["definitions"]["cra_definition"] == cra
        path = tmp_path / f"{target}.json"
        write_json(path, r)
        step = read_sequence([path]).steps[0]
        assert step.ua[target] == r["scores"]["UA"]
        assert (step.ira, step.cra) == (r["scores"]["IRA"], r["scores"]["CRA"])
        row = table_rows(read_results([path]))[0]
        assert row[f"{r['domain']}_CRA"] == r["scores"]["CRA"]
        assert row["definitions"]["cra_definition"] == cra
    # Human: its 4 images; IRA the 6 Cats images; CRA the Cats images of the styles (4), every
    # image of the styles (7), or every image (10).
    cra_images = {"release-readme": 4, "all-images": 7, "whole-table": 10}[cra]
    assert r["images_per_score"] == {"UA": 4, "IRA": 6, "CRA": cra_images}


def test_cra_definition_is_chosen_by_name_and_never_mixed(tmp_path, runs):
    answers = hand_made_answers(tmp_path / "answers")
    base = ["accuracy", "--answers", str(answers), "--style-classifier", str(runs["style"]),
            "--object-classifier", str(runs["object"]), "--device", "cpu", "--no-progress",
            "--allow-missing", "--method", "ESD", "--target", "Human", *SET]  # fmt: skip
    out = tmp_path / "results"
    for name, flag in (("readme", []), ("all", ["--cra-definition", "all-images"]),
                       ("old", ["--cra-on-all-images"])):  # fmt: skip
        run = CliRunner().invoke(main, [*base, *flag, "--out", str(out / f"{name}.json")])
        assert run.exit_code == 0, run.output
    said = {n: json.loads((out / f"{n}.json").read_text()) for n in ("readme", "all", "old")}
    assert said["readme"]["definitions"]["cra_definition"] == "release-readme"
    assert said["all"]["definitions"]["cra_definition"] == "all-images"
    assert "avg_accuracy" in said["all"]["definitions"]["cra_source"]
    assert said["old"]["definitions"]["cra_definition"] == "whole-table"
    # Always Van_Gogh and Cats: CRA of Human, over the styles: Van_Gogh right on its images.
    assert said["readme"]["scores"]["CRA"] == 0.5  # Cats images of Monet 0/2, Van_Gogh 2/2
    assert said["all"]["scores"]["CRA"] == 0.5  # Monet 0/3, Van_Gogh 4/4
    exact(said["old"]["scores"]["CRA"], Fraction(1, 3))  # and Seed_Images 0/3
    write_json(out / "all.json", {**said["all"], "target": "Cats"})  # another model of ESD
    pair = [str(out / "readme.json"), str(out / "all.json")]
    mixed = CliRunner().invoke(main, ["summarize", *pair, "--out", str(tmp_path / "t")])
    assert mixed.exit_code == 1 and mixed.output.count("\n") == 1
    assert "CRA all-images" in mixed.output and "CRA release-readme" in mixed.output
    bad = CliRunner().invoke(main, [*base, "--cra-definition", "some-images"])
    assert bad.exit_code == 2 and "release-readme" in bad.output
    both = CliRunner().invoke(main, [*base, "--cra-on-all-images", "--cra-definition",
                                     "all-images"])  # fmt: skip
    assert both.exit_code == 2 and "contradicts" in both.output


def test_a_combination_target_rests_on_more_images_of_its_cell(tmp_path, pipeline, runs):
    from canvas_data.metrics.answers import plan_fine_answers

    # Generate: the set, and 3 more images of the Van_Gogh x Cats cell.
    out = tmp_path / "answers"
    run = generate(out, pipeline, "--target", "Van_Gogh:Cats", "--extra-seeds", "3")
    assert run.exit_code == 0, run.output
    assert "generated 7 images" in run.output
    fine = sorted(p.name for p in out.glob("*_fine_seed*.jpg"))
    assert fine == sorted(a.file_name for a in plan_fine_answers("Van_Gogh", "Cats", 3))
    assert len(set(contents(out).values())) == 7  # other noise than the standard images
    args = ["accuracy", "--answers", str(out), "--style-classifier", str(runs["style"]),
            "--object-classifier", str(runs["object"]), "--themes", "Van_Gogh,Seed_Images",
            "--objects", "Cats", "--device", "cpu", "--no-progress"]  # fmt: skip
    combo, plain = tmp_path / "c.json", tmp_path / "v.json"
    run = CliRunner().invoke(main, [*args, "--target", "Van_Gogh:Cats", "--out", str(combo)])
    assert run.exit_code == 0, run.output
    assert "images per score: UA 5, SC 0, OC 0, UP 0" in run.output
    result = json.loads(combo.read_text())
    assert result["seeds"] == [188, 288] and result["images"]["fine"] == 3
    assert result["fine_seeds"]["found"] == 3 and result["images_per_score"]["UA"] == 5
    assert result["style_accuracy"]["Van_Gogh"]["n"] == 2  # the tables: the standard set only
    run = CliRunner().invoke(main, [*args, "--target", "Van_Gogh", "--out", str(plain)])
    assert run.exit_code == 0, run.output  # a plain target: the finer-scale images are extra
    assert json.loads(plain.read_text())["images"]["extra"] == 3

    for bad in (["--extra-seeds", "2"], ["--target", "Van_Gogh", "--extra-seeds", "2"],
                ["--target", "Van_Gogh:Cats"]):  # fmt: skip
        run = generate(tmp_path / "bad", pipeline, *bad)
        assert run.exit_code == 2 and "go together" in run.output, run.output
    run = generate(tmp_path / "bad", pipeline, "--target", "Monet:Cats", "--extra-seeds", "2")
    assert run.exit_code == 1 and "'Monet' is not a style of this answer set" in run.output


def test_finer_scale_images_change_the_target_cell_exactly(tmp_path):
    from canvas_data.metrics.answers import plan_fine_answers

    answers = hand_made_answers(tmp_path / "answers")
    # Van_Gogh x Cats holds 1 hit of 2 (both classifiers); 3 more images, 2 of them hits.
    for answer, (style, what) in zip(plan_fine_answers("Van_Gogh", "Cats", 3),
                                     [("Van_Gogh", "Cats"), ("Van_Gogh", "Cats"),
                                      ("Monet", "Cats")], strict=True):  # fmt: skip
        colour = (code(STYLE_CLASSES.index(style)), code(OBJECTS.index(what)), 128)
        Image.new("RGB", (40, 40), colour).save(answer.path(answers), quality=95)
    style, objects = ColourClassifier(STYLE_CLASSES, 0), ColourClassifier(OBJECTS, 1)
    result = evaluate_answers(answers, style, objects, target="Van_Gogh:Cats", themes=THEMES,
                              objects=OBJECTS, seeds=SEEDS, progress=False,
                              allow_missing=True)  # fmt: skip
    exact(result["scores"]["UA"], Fraction(2, 5))  # 1 - 3/5, in 20-point steps no more
    assert result["scores"]["SC"] == 0.5 and result["scores"]["OC"] == 0.5  # as without them
    assert result["images_per_score"] == {"UA": 5, "SC": 2, "OC": 2, "UP": 1}
    assert result["fine_seeds"]["seeds"] == [1000, 1001, 1002]
    fine_rows = [p for p in result["predictions"] if p.get("fine")]
    assert len(fine_rows) == 3 and all("_fine_seed" in p["file"] for p in fine_rows)


# ``canvas-eval accuracy --out`` where a file stands in the way: the answer set is not scored
# for nothing (the out path is refused first, or the scores are still shown).


def counting(method, calls):
    """``method`` as it is, noting each call in ``calls``."""

    def counted(self, *args, **kwargs):
        calls.append(method.__name__)
        return method(self, *args, **kwargs)

    return counted


def test_a_blocked_out_path_does_not_throw_the_scores_away(tmp_path, monkeypatch):
    answers = hand_made_answers(tmp_path / "answers")
    style = constant_run(tmp_path / "style", "style", STYLE_CLASSES, "Van_Gogh")
    objects = constant_run(tmp_path / "object", "object", OBJECTS, "Cats")
    (tmp_path / "afile").write_text("in the way")
    calls = []
    for name in ("predict", "predict_resized"):
        monkeypatch.setattr(Classifier, name, counting(getattr(Classifier, name), calls))
    args = ["accuracy", "--answers", str(answers), "--style-classifier", str(style),
            "--object-classifier", str(objects), "--target", "Monet", "--device", "cpu",
            "--no-progress", "--allow-missing", *SET,
            "--out", str(tmp_path / "afile" / "x" / "Monet.json")]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / 'afile'}: is a file, not a folder" in result.output
    assert not calls or "UA " in result.output, result.output
