"""The accuracy heat map as a PNG: sized to the rows and columns, legible, whole."""

from __future__ import annotations

import numpy as np
import pytest
from png_pixels import colours, dark, decoded

from canvas_data.metrics.heatmap import HeatRow, colour, save_heatmap
from canvas_data.taxonomy import OBJECTS_20, STYLES_60


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
