"""The confusion matrix and the accuracy heat map as PNGs: sized to the classes, legible, whole."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from canvas_data.classify.confusion import confusion_matrix, save_confusion_png
from canvas_data.metrics.heatmap import HeatRow, colour, save_heatmap
from canvas_data.taxonomy import OBJECTS_20, STYLES_60, STYLES_61


def decoded(path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def colours(pixels: np.ndarray) -> int:
    return len(np.unique(pixels.reshape(-1, 3), axis=0))


def dark(pixels: np.ndarray) -> int:
    """Pixels of text or lines: dark grey to black."""
    return int((pixels.max(axis=2) < 110).sum())


def mostly_right(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(n), 20)
    pred = np.where(rng.random(true.size) < 0.8, true, rng.integers(0, n, true.size))
    return confusion_matrix(true, pred, n)


def test_confusion_png_grows_with_the_classes_and_names_them(tmp_path):
    small = decoded(save_confusion_png(mostly_right(4), STYLES_61[:4], tmp_path / "4.png", "t"))
    big = decoded(save_confusion_png(mostly_right(61), STYLES_61, tmp_path / "61.png", "t"))
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["4.png", "61.png"]  # no temp files
    assert small.shape[0] < big.shape[0] and small.shape[1] < big.shape[1]
    assert 1000 < big.shape[1] < 2000 and 1000 < big.shape[0] < 2000
    assert colours(big) > 100  # shades of two colour maps and anti-aliased type
    h, w, _ = big.shape
    # The class names: a band of type left of the grid and one below it.
    assert dark(big[h // 8 : h * 3 // 4, : w // 12]) > 800
    assert dark(big[h * 7 // 8 :, w // 4 : w * 3 // 4]) > 800


def test_confusion_png_of_an_empty_class_and_a_wrong_shape(tmp_path):
    m = confusion_matrix([0, 1], [1, 1], 3)  # class 2 has no images
    assert colours(decoded(save_confusion_png(m, ["a", "b", "c"], tmp_path / "c.png"))) > 20
    with pytest.raises(ValueError, match="expected"):
        save_confusion_png(m, ["a", "b"], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def heat_rows(targets, seed=0) -> list[HeatRow]:
    rng = np.random.default_rng(seed)
    rows = []
    for target in targets:
        style = {s: float(rng.random()) for s in STYLES_60}
        style[STYLES_60[5]] = None  # no images of that theme
        objects = {o: float(rng.random()) for o in OBJECTS_20}
        rows.append(HeatRow(target, target, style, objects, note="UA 95.0  IRA 80.1  CRA 77.7"))
    return rows


def test_heatmap_png_grows_with_rows_and_columns(tmp_path):
    few = decoded(save_heatmap(heat_rows(["Monet"]), ["Monet"], ["Cats"], tmp_path / "a.png"))
    many = decoded(
        save_heatmap(heat_rows(STYLES_60[:20]), STYLES_60, OBJECTS_20, tmp_path / "b.png", "ESD")
    )
    assert few.shape[0] < many.shape[0] and few.shape[1] < many.shape[1]
    assert many.shape[1] < 2500
    assert colours(many) > 200  # the viridis scale over 20 x 80 random cells
    h, w, _ = many.shape
    assert dark(many[h // 8 : h // 2, : w // 16]) > 1000  # the rows' labels
    grey = np.array([232, 232, 232])
    assert (many == grey).all(axis=2).sum() > 20 * 50  # the column without images


def test_heatmap_needs_rows_and_colour_is_viridis(tmp_path):
    with pytest.raises(ValueError, match="no results"):
        save_heatmap([], ["Monet"], ["Cats"], tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()
    assert colour(0.0) == (68, 1, 84) and colour(1.0) == (253, 231, 37)
    assert colour(-1) == colour(0) and colour(2) == colour(1)
