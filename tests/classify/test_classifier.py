"""Classifier run folders: build, save, load, batched predict; confusion matrices and metrics."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("transformers")

from transformers import ViTForImageClassification  # noqa: E402

from canvas_data.classify.classifier import (  # noqa: E402
    CLASSES_FILE,
    ClassifierInfo,
    build_model,
    load_classifier,
    save_run,
    tiny_config,
)
from canvas_data.classify.confusion import confusion_matrix, draw_confusion, save_confusion_png  # noqa: E402
from canvas_data.classify.evaluate import Evaluation  # noqa: E402
from canvas_data.metrics.accuracy import classify_files  # noqa: E402

CLASSES = ["Monet", "Van_Gogh", "Winter", "Seed_Images"]


@pytest.fixture
def run(tmp_path):
    torch.manual_seed(0)
    model = build_model("tiny", CLASSES, image_size=32)
    info = ClassifierInfo(task="style", classes=CLASSES, image_size=32)
    return save_run(model, info, tmp_path / "run")


def images(n=5, size=48, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size + 8 * i, 3), dtype=np.uint8) for i in range(n)]


def test_a_run_folder_round_trips(run):
    names = sorted(p.name for p in run.iterdir())
    assert names == ["classes.json", "config.json", "model.safetensors"]
    info = json.loads((run / CLASSES_FILE).read_text())
    assert info["classes"] == CLASSES and info["image_size"] == 32 and info["task"] == "style"
    assert (info["mean"], info["std"], info["resize"]) == (0.5, 0.5, "bilinear")
    clf = load_classifier(run, device="cpu")
    assert clf.classes == CLASSES and clf.dtype == torch.float32
    assert clf.model.config.id2label == dict(enumerate(CLASSES))


def test_predict_takes_arrays_pil_images_and_files_in_batches(run, tmp_path):
    clf = load_classifier(run, device="cpu")
    arrays = images()
    found = clf.predict(arrays, batch_size=2)
    assert found.probs.shape == (5, 4) and found.probs.dtype == np.float32
    np.testing.assert_allclose(found.probs.sum(axis=1), 1, rtol=1e-5)
    assert all(label in CLASSES for label in found.labels)
    assert found.labels == [CLASSES[i] for i in found.indices]
    np.testing.assert_allclose(found.scores, found.probs.max(axis=1))
    one_by_one = np.concatenate([clf.predict([a]).probs for a in arrays])
    np.testing.assert_allclose(one_by_one, found.probs, rtol=1e-5, atol=1e-6)
    pil = clf.predict([Image.fromarray(a) for a in arrays])
    np.testing.assert_allclose(pil.probs, found.probs, rtol=1e-5, atol=1e-6)
    paths = []
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    np.testing.assert_allclose(clf.predict(paths).probs, found.probs, rtol=1e-5, atol=1e-6)
    top = found.top(2)
    assert len(top) == 5 and len(top[0]) == 2 and top[0][0][0] == found.labels[0]
    assert clf.predict([]).probs.shape == (0, 4)
    with pytest.raises(ValueError, match="not an image"):
        clf.predict([np.zeros((4, 4))])


def test_classify_files_resizing_in_threads_agrees_with_predict(run, tmp_path):
    """The accuracy stage resizes in its decoding threads and normalises on the model's device;
    it must give what ``predict`` (the whole preprocessing per image) gives."""
    clf = load_classifier(run, device="cpu")
    paths = []
    for i, a in enumerate(images(n=7)):  # different sizes, so the batch is only stackable resized
        Image.fromarray(a).save(tmp_path / f"{i}.jpg", quality=95)
        paths.append(tmp_path / f"{i}.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    said, unreadable = classify_files(
        [*paths, tmp_path / "bad.jpg"], {"a": clf, "b": clf}, batch_size=3, workers=2,
        progress=False,
    )  # fmt: skip
    assert [p.name for p, _ in unreadable] == ["bad.jpg"]
    expected = clf.predict(paths)
    for path, label, score in zip(paths, expected.labels, expected.scores, strict=True):
        assert said[path]["a"][0] == said[path]["b"][0] == label
        assert said[path]["a"][1] == pytest.approx(float(score), abs=1e-5)


def test_broken_run_folders_fail_with_the_path(tmp_path, run):
    with pytest.raises(FileNotFoundError, match="classes.json"):
        load_classifier(tmp_path)
    (run / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_classifier(run)
    (run / CLASSES_FILE).write_text("{")
    with pytest.raises(ValueError, match="not a valid classes.json"):
        load_classifier(run)
    with pytest.raises(ValueError, match="duplicates"):
        ClassifierInfo(task="style", classes=["A", "A"], image_size=32)
    with pytest.raises(ValueError, match="unknown task"):
        ClassifierInfo(task="colour", classes=["A", "B"], image_size=32)


def test_a_local_pretrained_backbone_gets_a_new_head(tmp_path):
    torch.manual_seed(0)
    backbone = ViTForImageClassification(tiny_config(7, 32))
    backbone.save_pretrained(tmp_path / "backbone")
    model = build_model(str(tmp_path / "backbone"), CLASSES)
    assert model.config.num_labels == 4 and model.classifier.out_features == 4
    ours, theirs = model.state_dict(), backbone.state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours if not k.startswith("classifier"))
    with pytest.raises(ValueError, match="pretrained at 32 px"):
        build_model(str(tmp_path / "backbone"), CLASSES, image_size=64)
    with pytest.raises(ValueError, match="cannot load a ViT backbone"):
        build_model(str(tmp_path / "nothing-here"), CLASSES)
    config = tmp_path / "vit.json"
    tiny_config(2, 32).to_json_file(config)
    assert build_model(str(config), CLASSES, image_size=64).config.image_size == 64


def test_confusion_matrix_counts_and_figure(tmp_path):
    m = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 4)
    assert m.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    image = draw_confusion(m, CLASSES, "title")
    assert image.width > 4 * 40 and image.height > 4 * 40
    path = save_confusion_png(m, CLASSES, tmp_path / "c.png")
    assert Image.open(path).format == "PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["c.png"]
    with pytest.raises(ValueError, match="expected"):
        draw_confusion(m, CLASSES[:3])
    big = confusion_matrix(np.arange(61), np.arange(61), 61)
    assert draw_confusion(big, [f"Style_{i}" for i in range(61)]).width < 2000


def test_evaluation_metrics_per_class(tmp_path):
    ev = Evaluation(
        "style", CLASSES, "test", np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), []
    )
    assert ev.top1 == pytest.approx(4 / 6)
    per = ev.per_class()
    assert per["Monet"] == {"top1": 0.5, "n": 2, "correct": 1}
    assert per["Seed_Images"] == {"top1": None, "n": 0, "correct": 0}
    assert ev.most_confused() == [
        {"true": "Monet", "pred": "Van_Gogh", "count": 1},
        {"true": "Winter", "pred": "Monet", "count": 1},
    ]
    metrics, png = ev.write(tmp_path)
    data = json.loads(metrics.read_text())
    assert data["top1"] == pytest.approx(4 / 6) and data["n"] == 6
    assert data["confusion"][2] == [1, 0, 2, 0] and png.is_file()


@pytest.mark.slow
def test_the_default_backbone_without_network_says_how_to_get_it(tmp_path):
    """No --model, no network, an empty cache: one line naming the backbone, how to download
    it, and the --model way around."""
    import os
    import subprocess
    import sys

    from conftest import packed_folder

    data = packed_folder(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run(
        [sys.executable, "-m", "canvas_data.cli.train", "style", "--data", str(data), "--out",
         str(tmp_path / "run"), "--epochs", "1", "--workers", "0", "--no-progress"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "google/vit-large-patch16-224-in21k" in lines[0]
    assert "hf download" in lines[0] and "--model" in lines[0]
