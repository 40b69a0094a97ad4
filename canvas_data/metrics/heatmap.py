"""The heat map of per-concept accuracy: one row per unlearned model, drawn with matplotlib.

Two panels share the rows: the style classifier's accuracy on each theme, and the object
classifier's on each object. A row's own target is outlined in black (its UA is 100% minus that
cell); the rest of the target's panel is what IRA averages, the other panel what CRA averages.
Cells are coloured on a perceptually even scale (viridis) with the percentage written in them
when they are large enough; the scale is drawn below. The figure grows with the number of rows
and columns (60 themes and 20 objects stay legible: small type, column names turned upright).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from canvas_data.atomic import write_bytes
from canvas_data.escape import literal_plot_text

DPI = 100
_INK, _GREY, _EMPTY = "#141414", "#787878", "#e8e8e8"
_OUTLINE_NOTE = "the row's unlearning target (UA = 100% - cell)"
_NAMES = ("style classifier: accuracy per theme", "object classifier: accuracy per object")


@dataclass(frozen=True)
class HeatRow:
    """One model: its label, its target (or ``None``), and per-concept accuracies (or ``None``)."""

    label: str
    target: str | None
    style: dict[str, float | None]
    objects: dict[str, float | None]
    note: str = ""


def colour(value: float) -> tuple[int, int, int]:
    """Viridis colour (matplotlib's) of ``value`` in [0, 1], as 8-bit RGB."""
    from matplotlib import colormaps

    rgba = colormaps["viridis"](min(max(float(value), 0.0), 1.0))
    return tuple(int(round(255 * c)) for c in rgba[:3])


def _inches(text: str, points: float) -> float:
    """About how wide ``text`` is set in DejaVu Sans at ``points``."""
    return len(text) * points * 0.6 / 72


def _grid(rows: Sequence[HeatRow], names: Sequence[str], kind: str) -> np.ndarray:
    values = [[getattr(r, kind).get(n) for n in names] for r in rows]
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)


@literal_plot_text
def heatmap_png(
    rows: Sequence[HeatRow], themes: Sequence[str], objects: Sequence[str], title: str = ""
) -> bytes:
    """The heat map as PNG bytes (matplotlib, Agg backend; see the module's docstring).

    Raises ``ValueError`` when there are no rows.
    """
    if not rows:
        raise ValueError("nothing to draw: no results")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    ncols, nrows = len(themes) + len(objects), len(rows)
    cell = float(np.clip(14.0 / max(ncols, 1), 0.2, 0.45))  # inches
    font = float(np.clip(cell * 72 * 0.55, 6.5, 10))  # points
    label_w = max(_inches(r.label, font) for r in rows) + 0.3
    label_h = max(_inches(c, font) for c in [*themes, *objects]) + 0.3
    note_w = max(_inches(r.note, font) for r in rows) + 0.3 if any(r.note for r in rows) else 0.2
    gap, margin = 0.3, 0.2
    widths = (max(len(themes), 1) * cell, max(len(objects), 1) * cell)
    stacked = _inches(_NAMES[0], font + 1) + 0.2 > widths[0] + gap
    title_h = (0.45 if title else 0.1) + (0.25 if stacked else 0) + 0.3
    legend_h = 1.0
    grid_w = label_w + widths[0] + gap + widths[1] + note_w
    width = max(grid_w + margin, _inches(title, 12) + 2 * margin, 8.0)
    height = title_h + nrows * cell + label_h + legend_h
    fig = Figure(figsize=(width, height), dpi=DPI)
    cmap = colormaps["viridis"].with_extremes(bad=_EMPTY)
    x0 = label_w
    y0 = (label_h + legend_h) / height
    image = None
    panels = (("style", themes, _NAMES[0] + ("\n" if stacked else "")),
              ("objects", objects, _NAMES[1]))  # fmt: skip
    for (kind, names, name), w in zip(panels, widths, strict=True):
        ax = fig.add_axes((x0 / width, y0, w / width, nrows * cell / height))
        image = ax.imshow(_grid(rows, names, kind), cmap=cmap, vmin=0, vmax=1,
                          interpolation="nearest", aspect="auto")  # fmt: skip
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=font)
        ax.set_yticks(range(nrows), [r.label for r in rows] if kind == "style" else [],
                      fontsize=font)  # fmt: skip
        ax.tick_params(length=2, pad=2)
        ax.set_title(name, loc="left", fontsize=font + 1, color=_GREY, pad=4)
        for side in ax.spines.values():
            side.set_visible(False)
        for i, row in enumerate(rows):
            if row.target in names:
                j = list(names).index(row.target)
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=_INK,
                                       linewidth=2))  # fmt: skip
        _numbers(ax, _grid(rows, names, kind), cell * 72)
        if kind == "objects":
            for i, row in enumerate(rows):
                ax.text(len(names) - 0.5 + 0.3 / cell, i, row.note, va="center", ha="left",
                        fontsize=font, color=_INK, clip_on=False)  # fmt: skip
        x0 += w + gap
    cax = fig.add_axes((label_w / width, 0.45 / height, 3.0 / width, 0.15 / height))
    bar = fig.colorbar(image, cax=cax, orientation="horizontal", ticks=[0, 0.5, 1])
    bar.ax.set_xticklabels(["0%", "50%", "100%"], fontsize=font)
    handles = [Patch(fill=False, edgecolor=_INK, linewidth=2, label=_OUTLINE_NOTE),
               Patch(facecolor=_EMPTY, label="no images")]  # fmt: skip
    fig.legend(handles=handles, loc="lower left", fontsize=font, frameon=False,
               bbox_to_anchor=((label_w + 3.3) / width, 0.15 / height))  # fmt: skip
    if title:
        fig.suptitle(title, x=margin / width, y=1 - 0.1 / height, ha="left", va="top", fontsize=12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _numbers(ax, values: np.ndarray, cell_pt: float) -> None:
    """The percentage in each cell, when the cell is large enough for three digits."""
    size = min(8.0, cell_pt * 0.4)
    if size * 0.6 * 3 > cell_pt * 0.9 or size < 6:  # smaller type would not read
        return
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):
            ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=size,
                    color="white" if value < 0.6 else _INK)  # fmt: skip


def draw_heatmap(
    rows: Sequence[HeatRow], themes: Sequence[str], objects: Sequence[str], title: str = ""
) -> Image.Image:
    """The heat map as an image (see :func:`heatmap_png`)."""
    image = Image.open(io.BytesIO(heatmap_png(rows, themes, objects, title)))
    image.load()
    return image


def save_heatmap(
    rows: Sequence[HeatRow],
    themes: Sequence[str],
    objects: Sequence[str],
    path: Path,
    title: str = "",
) -> Path:
    """Draw the heat map and write it to ``path`` (a temporary name first, then a rename)."""
    path = Path(path)
    write_bytes(path, heatmap_png(rows, themes, objects, title))
    return path
