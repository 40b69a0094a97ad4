"""README's "A small run on a CPU", on a tiny packed dataset, through the command lines: classifiers
trained by `canvas-train`, a timed stand-in unlearning run (`canvas-eval profile`), its storage,
an answer set, UA/IRA/CRA and a combination target, a two-step sequence and the report page."""

from __future__ import annotations

import base64
import io
import json
import re
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("diffusers")

from conftest import packed_folder  # noqa: E402

from canvas_data.cli.eval import main as eval_main  # noqa: E402
from canvas_data.cli.train import main as train_main  # noqa: E402
from canvas_data.stylizers.random_pipelines import build_pipeline  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

SET = ["--themes", "Van_Gogh,Monet,Seed_Images", "--objects", "Cats,Human", "--seeds", "188,288"]
# Stands in for an unlearning run: the base UNet with one tensor (4 float32 values) changed.
UNLEARN = (
    "from safetensors.torch import load_file, save_file; "
    "w = load_file('tiny-sd/unet/diffusion_pytorch_model.safetensors'); "
    "w['conv_out.bias'] += 1; save_file(w, 'unlearned-unet.safetensors')"
)
RULES = ("both", "style", "object")


def ok(cli, args):
    run = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert run.exit_code == 0, run.output
    return run.output


def test_the_small_run_from_classifiers_to_the_report(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    packed_folder(tmp_path)  # tmp_path/uc: 4 styles x 2 objects, 64 px
    monkeypatch.chdir(tmp_path)
    quick = ["--model", "tiny", "--image-size", "32", "--epochs", "1", "--batch-size", "16",
             "--workers", "0", "--no-progress"]  # fmt: skip
    ok(train_main, ["style", "--data", "uc", "--styles", "50", *quick, "--out", "runs/style"])
    ok(train_main, ["object", "--data", "uc", *quick, "--out", "runs/object"])
    build_pipeline("tiny", "tiny-sd")

    out = ok(eval_main, ["profile", "--method", "tiny", "--out", "results/tiny/profile.json",
                         "--", sys.executable, "-c", UNLEARN])  # fmt: skip
    assert out.startswith("exit code 0, ")
    profile = json.loads((tmp_path / "results/tiny/profile.json").read_text())
    assert profile["exit_code"] == 0 and profile["command"][-1] == UNLEARN
    assert profile["wall_s"] > 0 and profile["peak_rss_bytes"] > 2**20

    out = ok(eval_main, ["storage", "--base", "tiny-sd", "--unlearned",
                         "unlearned-unet.safetensors", "--method", "tiny",
                         "--out", "results/tiny/storage.json"])  # fmt: skip
    assert "1 of 208 tensors differ from the base: 16 B" in out
    storage = json.loads((tmp_path / "results/tiny/storage.json").read_text())
    weights = load_file(tmp_path / "unlearned-unet.safetensors")
    assert storage["changed"] == ["conv_out.bias"] and storage["diff_bytes"] == 16
    assert storage["unlearned_bytes"] == sum(t.numel() * t.element_size() for t in weights.values())

    out = ok(eval_main, ["generate", "--model", "tiny-sd", "--unet", "unlearned-unet.safetensors",
                         "--out", "answers/tiny/Van_Gogh", *SET, "--steps", "2",
                         "--resolution", "32", "--device", "cpu", "--no-progress"])  # fmt: skip
    assert "generated 12 images" in out
    results = {}
    for target, name in (("Van_Gogh", "Van_Gogh"), ("Cats", "Cats"), ("Van_Gogh:Cats", "VG-C")):
        ok(eval_main, ["accuracy", "--answers", "answers/tiny/Van_Gogh", "--style-classifier",
                       "runs/style", "--object-classifier", "runs/object", "--target", target,
                       "--method", "tiny", "--out", f"results/tiny/{name}.json", *SET,
                       "--device", "cpu", "--no-progress"])  # fmt: skip
        results[target] = json.loads((tmp_path / f"results/tiny/{name}.json").read_text())
        assert results[target]["images"]["classified"] == 12

    combo = results["Van_Gogh:Cats"]
    assert combo["domain"] == "combination" and combo["definitions"]["rule"] == "both"
    by_rule = combo["combination"]["by_rule"]
    assert set(by_rule) == set(RULES) and combo["scores"] == by_rule["both"]
    for rule in RULES:
        assert set(by_rule[rule]) == {"UA", "SC", "OC", "UP"}
        assert all(0.0 <= v <= 1.0 for v in by_rule[rule].values()), by_rule
    for score in ("SC", "OC", "UP"):  # a hit under "both" is a hit under either classifier
        assert by_rule["both"][score] <= min(by_rule["style"][score], by_rule["object"][score])
    assert by_rule["both"]["UA"] >= max(by_rule["style"]["UA"], by_rule["object"]["UA"])

    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "results/tiny").glob("*.json"))
    out = ok(eval_main, ["summarize", *files, "--sequence", "results/tiny/Van_Gogh.json",
                         "results/tiny/Cats.json", "--out", "table/",
                         "--html", "table/report.html"])  # fmt: skip
    table = tmp_path / "table"
    header, _, row = (table / "table.md").read_text().splitlines()[:3]
    assert header.endswith("| time (s) | RSS (GiB) | storage (MiB) | diff (MiB) |")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "tiny" and cells[7:9] == ["—", "1 / 1"]  # no FID; the combination apart
    assert cells[-2:] == ["1.0", "<0.1"]  # 0.97 MiB; 16 bytes: above zero, below 0.1 MiB
    method = json.loads((table / "table.json").read_text())["methods"][0]
    assert method["time_s"] == profile["wall_s"] and method["diff_bytes"] == 16
    assert method["style_UA"] == results["Van_Gogh"]["scores"]["UA"]
    assert method["object_UA"] == results["Cats"]["scores"]["UA"]
    assert method["style_targets"] == 1 and method["object_targets"] == 1  # combination apart

    sequence = json.loads((table / "sequence-tiny.json").read_text())
    one, two = sequence["steps"]
    assert sequence["targets"] == ["Van_Gogh", "Cats"] and two["forgotten"] == ["Van_Gogh", "Cats"]
    assert one["UA"] == {"Van_Gogh": results["Van_Gogh"]["scores"]["UA"]}
    assert two["UA"]["Cats"] == results["Cats"]["scores"]["UA"]
    assert one["CRA"] == results["Van_Gogh"]["scores"]["CRA"]  # one definition, one number
    assert two["CRA"] is None  # both domains hold a forgotten target
    steps = (table / "sequence-tiny.md").read_text()
    assert re.search(r"^\| 1 \| Van_Gogh \|", steps, re.M) and "| 2 | Cats |" in steps
    for png in ("heatmap-tiny.png", "sequence-tiny.png"):
        with Image.open(table / png) as im:
            assert im.format == "PNG" and im.width > 200

    run = CliRunner().invoke(eval_main, ["summarize", "--sequence", "results/tiny/VG-C.json",
                                         "--out", "refused/"])  # fmt: skip
    assert run.exit_code == 1 and "VG-C.json: Van_Gogh:Cats is a combination" in run.output

    page = (table / "report.html").read_text()
    assert '">&lt;0.1</td>' in page  # the diff cell, escaped
    assert 'id="methods"' in page and "<h2>Sequential unlearning</h2>" in page
    assert "<script src" not in page and "<link" not in page  # nothing fetched
    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(embedded) == 2
    for data in embedded:
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            assert im.format == "PNG"
