"""Scoring an output folder: losses that vanish where they must (the ground truth scored against
itself, the content photo against itself), aggregates, missing and unreadable outputs, and the
classifier's accuracy as its own predictions give it."""

from __future__ import annotations

import numpy as np
import pytest
from transfer_weights import save_vgg

from canvas_data.classify.classifier import ClassifierInfo, build_model, load_classifier, save_run
from canvas_data.taxonomy import OBJECTS_20, STYLES_61
from canvas_data.transfer.score import ScoreSettings, aggregate, score_transfers
from canvas_data.transfer.triplets import index_for, plan_triplets

pytestmark = pytest.mark.usefixtures("one_thread")
SETTINGS = ScoreSettings(resolution=32, device="cpu", batch_size=5)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_packed):
    root = tmp_path_factory.mktemp("score")
    data = tiny_packed
    model = build_model("tiny", STYLES_61, image_size=32)
    run = save_run(model, ClassifierInfo("style", list(STYLES_61), 32, "release-61"), root / "clf")
    return data, run, save_vgg(root / "vgg_normalised.pth")


def _copies(data, out, role, styles=None):
    """An answers folder whose every output is a copy of the triplet's ``role`` image."""
    index = index_for(data)
    triplets = plan_triplets(index, styles)
    for t in triplets:
        (out / t.name).parent.mkdir(parents=True, exist_ok=True)
        (out / t.name).write_bytes(index.read(getattr(t, role)))
    return triplets


def test_the_ground_truth_has_no_style_or_vit_loss(setup, tmp_path):
    data, run, vgg = setup
    triplets = _copies(data, tmp_path, "target")
    result = score_transfers(tmp_path, data, run, vgg, SETTINGS, method="oracle")
    assert result["kind"] == "canvas-eval style-transfer score" and result["method"] == "oracle"
    assert result["images"] == {"expected": len(triplets), "scored": len(triplets),
                                "missing": 0, "unreadable": 0, "extra": 0}  # fmt: skip
    rows = result["outputs"]
    assert all(r["vit_loss"] == 0.0 and r["style_loss"] == 0.0 for r in rows)
    assert all(r["content_loss"] > 0 for r in rows)
    # accuracy: what the classifier itself says of each output
    clf = load_classifier(run, device="cpu")
    labels = clf.predict([tmp_path / t.name for t in triplets]).labels
    hits = sum(label == t.style for label, t in zip(labels, triplets, strict=True))
    assert result["scores"]["overall"]["style_accuracy"]["hits"] == hits
    assert "StyTr2" in result["sources"]["departs"]
    assert result["definitions"]["vit_blocks"] == [0, 1, 2, 3]


def test_the_content_photo_has_no_content_loss(setup, tmp_path):
    data, run, vgg = setup
    _copies(data, tmp_path, "content", ["Monet"])
    result = score_transfers(tmp_path, data, run, vgg, SETTINGS, styles=["Monet"])
    assert all(r["content_loss"] == pytest.approx(0, abs=1e-6) for r in result["outputs"])
    assert all(r["style_loss"] > 0 for r in result["outputs"])


def test_missing_and_unreadable_outputs_are_listed(setup, tmp_path):
    data, run, vgg = setup
    triplets = _copies(data, tmp_path, "reference", ["Winter"])
    (tmp_path / triplets[0].name).unlink()
    (tmp_path / triplets[1].name).write_bytes(b"not an image")
    result = score_transfers(tmp_path, data, run, vgg, SETTINGS, styles=["Winter"])
    assert result["missing"] == [triplets[0].name]
    assert [u["path"] for u in result["unreadable"]] == [triplets[1].name]
    assert result["images"]["scored"] == len(triplets) - 2
    with pytest.raises(ValueError, match="none of the .* expected outputs"):
        score_transfers(tmp_path / "empty", data, run, vgg, SETTINGS)


def test_an_object_classifier_is_refused(setup, tmp_path):
    data, _, vgg = setup
    model = build_model("tiny", OBJECTS_20, image_size=32)
    run = save_run(model, ClassifierInfo("object", list(OBJECTS_20), 32), tmp_path / "obj")
    with pytest.raises(ValueError, match="obj: classifies objects, not styles"):
        score_transfers(tmp_path, data, run, vgg, SETTINGS)


def test_aggregates_per_cell_style_and_overall():
    rows = [
        {"style": s, "object": o, "vit_loss": v, "style_loss": 2 * v, "content_loss": 1.0,
         "recognised": v > 1}
        for s, o, v in [("A", "x", 1.0), ("A", "x", 3.0), ("A", "y", 5.0), ("B", "x", 7.0)]
    ]  # fmt: skip
    agg = aggregate(rows)
    assert agg["per_style_object"]["A/x"]["vit_loss"] == {"n": 2, "mean": 2.0, "std": 1.0}
    assert agg["per_style"]["A"]["style_loss"]["mean"] == pytest.approx(6.0)
    assert agg["per_style"]["A"]["style_loss"]["std"] == pytest.approx(np.std([2, 6, 10]))
    assert agg["overall"]["style_accuracy"] == {"n": 4, "hits": 3, "accuracy": 0.75}
    assert agg["overall"]["content_loss"]["std"] == 0.0


def test_styles_the_data_lacks_are_one_line_not_an_internal_error(setup, tmp_path):
    data, run, vgg = setup
    with pytest.raises(ValueError, match="no style-transfer triplets"):
        score_transfers(tmp_path, data, run, vgg, SETTINGS, styles=["Cubism"])


def test_files_that_are_not_expected_outputs_are_listed_as_extra(setup, tmp_path):
    data, run, vgg = setup
    triplets = _copies(data, tmp_path, "reference", ["Winter"])
    stray = ["Winter/Cats_test3_ref9.jpg", "Winter/Cats_test3_ref1.png", "Winter/notes.txt"]
    for name in stray:
        (tmp_path / name).write_bytes((tmp_path / triplets[0].name).read_bytes())
    result = score_transfers(tmp_path, data, run, vgg, SETTINGS, styles=["Winter"],
                             objects=["Cats"])  # fmt: skip
    assert result["extra"] == sorted(stray)  # Winter/Human_* are not asked, not extra
    assert result["images"]["extra"] == 3
    assert result["images"]["scored"] == len([t for t in triplets if t.obj == "Cats"])
