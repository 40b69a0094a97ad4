"""Confusion matrices: counted from labels, drawn with Pillow as a PNG a person can read.

Rows are true classes, columns predicted ones, both named. Each cell is shaded by the share of its
row (so a class with few images reads as clearly as one with many) and shows its count; the right
margin gives each class's accuracy and image count.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from canvas_data.atomic import writing

_PAPER = (255, 255, 255)
_INK = (20, 20, 20)
_GREY = (130, 130, 130)
_GRID = (225, 225, 225)
_HIT = (33, 102, 172)  # a row's share on the diagonal
_MISS = (202, 0, 32)  # a row's share off the diagonal


def confusion_matrix(true: Sequence[int], pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``m[t, p]`` of images of true class ``t`` predicted as ``p``."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return matrix


def _shade(share: float, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(round(255 + (c - 255) * share)) for c in colour)


def _width(font, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def draw_confusion(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> Image.Image:
    """The matrix as an image: true classes down the left, predicted classes across the top."""
    n = len(classes)
    if matrix.shape != (n, n):
        raise ValueError(f"matrix is {matrix.shape}, expected ({n}, {n}) for {n} class names")
    cell = int(np.clip(1100 // max(n, 1), 16, 48))
    font = ImageFont.load_default(size=max(10, min(15, cell - 4)))
    small = ImageFont.load_default(size=max(10, min(14, cell // 2)))
    big = ImageFont.load_default(size=18)
    label_w = max(_width(font, c) for c in classes) + 12
    margin, title_h, axis_h = 16, 30, 22
    acc_w = _width(font, "100.0%  (9999)") + 16
    left = margin + axis_h + label_w
    top = margin + title_h + axis_h + label_w
    width, height = left + n * cell + acc_w + margin, top + n * cell + margin
    image = Image.new("RGB", (width, height), _PAPER)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((margin, margin), title, font=big, fill=_INK)
    # Column labels: drawn horizontally on a strip, then turned upright.
    strip = Image.new("RGB", (label_w, n * cell), _PAPER)
    strip_draw = ImageDraw.Draw(strip)
    for j, name in enumerate(classes):
        strip_draw.text((6, j * cell + cell // 2), name, font=font, fill=_INK, anchor="lm")
    image.paste(strip.rotate(90, expand=True), (left, top - label_w))
    draw.text(
        (left + n * cell // 2, margin + title_h), "predicted", font=font, fill=_GREY, anchor="ma"
    )
    side = Image.new("RGB", (n * cell, axis_h), _PAPER)
    ImageDraw.Draw(side).text((n * cell // 2, 2), "true", font=font, fill=_GREY, anchor="ma")
    image.paste(side.rotate(90, expand=True), (margin, top))
    draw.text((left + n * cell + 8, top - 6), "accuracy (n)", font=font, fill=_GREY, anchor="ld")
    rows = matrix.sum(axis=1)
    for i, name in enumerate(classes):
        y = top + i * cell
        draw.text((left - 6, y + cell // 2), name, font=font, fill=_INK, anchor="rm")
        for j in range(n):
            box = (left + j * cell, y, left + (j + 1) * cell - 1, y + cell - 1)
            count = int(matrix[i, j])
            share = count / rows[i] if rows[i] else 0.0
            fill = _shade(share, _HIT if i == j else _MISS) if count else _PAPER
            draw.rectangle(box, fill=fill, outline=_GRID)
            if count:
                ink = _PAPER if share > 0.55 else _INK
                draw.text(
                    ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                    str(count),
                    font=small,
                    fill=ink,
                    anchor="mm",
                )
        acc = f"{100 * matrix[i, i] / rows[i]:.1f}%  ({rows[i]})" if rows[i] else "no images"
        draw.text(
            (left + n * cell + 8, y + cell // 2),
            acc,
            font=font,
            fill=_INK if rows[i] else _GREY,
            anchor="lm",
        )
    return image


def save_confusion_png(
    matrix: np.ndarray, classes: Sequence[str], path: Path, title: str = ""
) -> Path:
    """Draw the matrix and write it to ``path`` (a temporary name first, then a rename)."""
    path = Path(path)
    image = draw_confusion(matrix, classes, title)
    with writing(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return path
