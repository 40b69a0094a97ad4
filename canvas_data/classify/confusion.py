"""Confusion matrices: counted from labels, drawn with matplotlib as a PNG a person can read.

Rows are true classes, columns predicted ones, both named. Each cell is shaded by the share of its
row (blue on the diagonal, red off it), so a class with few images reads as clearly as one with
many, and shows its count where the cell is large enough for it; the right margin gives each
class's accuracy and image count. The figure grows with the number of classes (61 styles stay
legible: small type, column names turned upright).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from canvas_data.atomic import write_bytes
from canvas_data.escape import literal_plot_text

DPI = 100
_INK, _GREY = "#141414", "#828282"


def confusion_matrix(true: Sequence[int], pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``m[t, p]`` of images of true class ``t`` predicted as ``p``."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return matrix


def _colours(matrix: np.ndarray) -> np.ndarray:
    """RGBA per cell: the row's share in Blues on the diagonal, Reds off it, white when empty."""
    from matplotlib import colormaps

    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    shade = 0.1 + 0.9 * share  # the palest shade still differs from an empty cell
    rgba = np.where(
        np.eye(len(matrix), dtype=bool)[..., None],
        colormaps["Blues"](shade),
        colormaps["Reds"](shade),
    )
    rgba[matrix == 0] = (1.0, 1.0, 1.0, 1.0)
    return rgba


@literal_plot_text
def confusion_png(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> bytes:
    """The matrix as PNG bytes (matplotlib, Agg backend): true classes down the left, predicted
    classes along the bottom, accuracy and image count per class on the right.

    Raises ``ValueError`` when ``matrix`` is not ``(n, n)`` for ``n`` class names.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = len(classes)
    matrix = np.asarray(matrix)
    if matrix.shape != (n, n):
        raise ValueError(f"matrix is {matrix.shape}, expected ({n}, {n}) for {n} class names")
    cell = float(np.clip(9.0 / max(n, 1), 0.2, 0.6))  # inches
    font = float(np.clip(cell * 72 * 0.55, 6.5, 10))  # points
    label = max((len(c) for c in classes), default=1) * font * 0.62 / 72 + 0.5  # inches
    rows = matrix.sum(axis=1)
    right = [f"{100 * matrix[i, i] / rows[i]:.1f}% ({rows[i]})" if rows[i] else "no images"
             for i in range(n)]  # fmt: skip
    acc = max(len(r) for r in right) * font * 0.62 / 72 + 0.4
    top = 0.9 if title else 0.5
    width, height = label + n * cell + acc, top + n * cell + label
    fig = Figure(figsize=(width, height), dpi=DPI)
    ax = fig.add_axes((label / width, label / height, n * cell / width, n * cell / height))
    ax.imshow(_colours(matrix), interpolation="nearest", aspect="equal")
    ax.set_xticks(range(n), classes, rotation=90, fontsize=font)
    ax.set_yticks(range(n), classes, fontsize=font)
    ax.set_xlabel("predicted", color=_GREY, fontsize=font + 1)
    ax.set_ylabel("true", color=_GREY, fontsize=font + 1)
    ax.tick_params(length=2, pad=2)
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="#e1e1e1", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    side = ax.secondary_yaxis("right")
    side.set_yticks(range(n), right, fontsize=font)
    side.tick_params(length=0, pad=3)
    ax.text(n - 0.5, -0.6, " accuracy (n)", color=_GREY, fontsize=font, va="bottom")
    _counts(ax, matrix, rows, cell * 72)
    if title:
        fig.suptitle(title, x=0.02, y=1 - 0.15 / height, ha="left", va="top", fontsize=12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _counts(ax, matrix: np.ndarray, rows: np.ndarray, cell_pt: float) -> None:
    """Write each non-zero count in its cell, in a type that fits the cell; none if too small."""
    size = min(9.0, cell_pt * 0.45)
    digits = len(str(int(matrix.max(initial=0))))
    if size < 6 or digits * size * 0.62 > cell_pt * 0.9:  # smaller type would not read
        return
    for i, j in zip(*np.nonzero(matrix), strict=True):
        dark = matrix[i, j] / rows[i] > 0.55
        ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=size,
                color="white" if dark else _INK)  # fmt: skip


def draw_confusion(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> Image.Image:
    """The matrix as an image (see :func:`confusion_png`)."""
    image = Image.open(io.BytesIO(confusion_png(matrix, classes, title)))
    image.load()
    return image


def save_confusion_png(
    matrix: np.ndarray, classes: Sequence[str], path: Path, title: str = ""
) -> Path:
    """Draw the matrix and write it to ``path`` (a temporary name first, then a rename)."""
    path = Path(path)
    write_bytes(path, confusion_png(matrix, classes, title))
    return path
