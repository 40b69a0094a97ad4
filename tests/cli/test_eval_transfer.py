"""``canvas-eval style-transfer generate`` and ``score``, then ``summarize``: the benchmark end
to end on a small demo build with tiny random weights, on the CPU; errors in one line."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner
from transfer_weights import save_decoder, save_vgg

from canvas_data.classify.classifier import ClassifierInfo, build_model, save_run
from canvas_data.cli.eval import main
from canvas_data.taxonomy import STYLES_61

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_packed):
    root = tmp_path_factory.mktemp("cli")
    data = tiny_packed
    model = build_model("tiny", STYLES_61, image_size=32)
    run = save_run(model, ClassifierInfo("style", list(STYLES_61), 32, "release-61"), root / "clf")
    return (
        root,
        data,
        run,
        save_vgg(root / "vgg_normalised.pth"),
        save_decoder(root / "decoder.pth"),
    )


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_generate_score_summarize(setup, tmp_path):
    root, data, run, vgg, decoder = setup
    out = tmp_path / "adain"
    styles = "Monet,Van_Gogh"
    gen = invoke("style-transfer", "generate", "--method", "adain", "--data", data, "--out", out,
                 "--styles", styles, "--vgg", vgg, "--decoder", decoder, "--resolution", 64,
                 "--batch-size", 4, "--no-progress")  # fmt: skip
    assert gen.exit_code == 0, gen.output
    assert "painted 8 images" in gen.output
    assert (out / "Van_Gogh" / "Human_test3_ref2.jpg").is_file()
    scored = invoke("style-transfer", "score", "--answers", out, "--data", data,
                    "--style-classifier", run, "--vgg", vgg, "--styles", styles,
                    "--resolution", 64, "--no-progress")  # fmt: skip
    assert scored.exit_code == 0, scored.output
    result = json.loads((out / "style-transfer.json").read_text())
    assert result["method"] == "adain" and result["images"]["scored"] == 8
    assert set(result["scores"]["per_style"]) == {"Monet", "Van_Gogh"}
    assert len(result["scores"]["per_style_object"]) == 4
    summary = invoke("summarize", out / "style-transfer.json", "--out", tmp_path / "table",
                     "--html", tmp_path / "report.html")  # fmt: skip
    assert summary.exit_code == 0, summary.output
    rows = list(csv.DictReader((tmp_path / "table" / "style-transfer.csv").open()))
    overall = result["scores"]["overall"]
    assert [r["method"] for r in rows] == ["adain"]
    assert float(rows[0]["style_loss"]) == pytest.approx(overall["style_loss"]["mean"])
    assert "| adain |" in (tmp_path / "table" / "style-transfer.md").read_text()
    assert '<table class="sortable" id="style-transfer">' in (tmp_path / "report.html").read_text()


def test_errors_are_one_line(setup, tmp_path):
    root, data, run, vgg, decoder = setup
    common = ["style-transfer", "generate", "--data", data, "--out", tmp_path / "o",
              "--resolution", 32, "--no-progress"]  # fmt: skip
    no_decoder = invoke(*common, "--vgg", vgg)
    assert no_decoder.exit_code == 1
    assert no_decoder.output.strip() == (
        "Error: AdaIN needs --decoder: a weight file (pytorch-AdaIN's decoder.pth)"
    )
    swapped = invoke(*common, "--vgg", decoder, "--decoder", vgg)
    assert swapped.exit_code == 1 and len(swapped.output.strip().splitlines()) == 1
    assert swapped.output.startswith(f"Error: {decoder}: not a VGG-19 state dict")
    unknown = invoke(*common, "--method", "nope")
    assert "unknown style-transfer method 'nope'" in unknown.output
    assert not (tmp_path / "o").exists()
    score = invoke("style-transfer", "score", "--answers", tmp_path, "--data", data,
                   "--style-classifier", run, "--vgg", tmp_path / "none.pth")  # fmt: skip
    assert score.exit_code == 1 and "none.pth: no such file" in score.output
