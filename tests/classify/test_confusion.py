"""The confusion matrix as a PNG: sized to the classes, legible, whole."""

from __future__ import annotations

import numpy as np
import pytest
from png_pixels import colours, dark, decoded

from canvas_data.classify.confusion import confusion_matrix, save_confusion_png
from canvas_data.taxonomy import STYLES_61


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
