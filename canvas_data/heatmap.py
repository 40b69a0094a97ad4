"""The heat map of per-concept accuracy: one row per unlearned model, drawn with Pillow.

Two panels share the rows: the style classifier's accuracy on each theme, and the object
classifier's on each object. A row's own target is outlined in black (its UA is 100% minus that
cell); the rest of the target's panel is what IRA averages, the other panel what CRA averages.
Cells are coloured on a perceptually even scale (viridis) with the percentage written in them
when they are large enough; the scale is drawn below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from canvas_data.atomic import writing

_PAPER, _INK, _GREY, _EMPTY = (255, 255, 255), (20, 20, 20), (120, 120, 120), (232, 232, 232)
_OUTLINE_NOTE = "the row's unlearning target (UA = 100% - cell)"
_VIRIDIS = np.array(
    [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
     (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)],
    dtype=float,
)  # fmt: skip


@dataclass(frozen=True)
class HeatRow:
    """One model: its label, its target (or ``None``), and per-concept accuracies (or ``None``)."""

    label: str
    target: str | None
    style: dict[str, float | None]
    objects: dict[str, float | None]
    note: str = ""


def colour(value: float) -> tuple[int, int, int]:
    """Viridis colour of ``value`` in [0, 1]."""
    x = min(max(value, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    low = int(np.floor(x))
    high = min(low + 1, len(_VIRIDIS) - 1)
    mixed = _VIRIDIS[low] + (x - low) * (_VIRIDIS[high] - _VIRIDIS[low])
    return tuple(int(round(c)) for c in mixed)


def _width(font, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def draw_heatmap(
    rows: Sequence[HeatRow], themes: Sequence[str], objects: Sequence[str], title: str = ""
) -> Image.Image:
    """The heat map as an image (see the module's docstring)."""
    if not rows:
        raise ValueError("nothing to draw: no results")
    columns = [*themes, *objects]
    cell = int(np.clip(1400 // max(len(columns), 1), 14, 36))
    font = ImageFont.load_default(size=max(11, min(15, cell - 2)))
    small = ImageFont.load_default(size=max(8, min(12, cell // 2 - 1)))
    big = ImageFont.load_default(size=18)
    margin, gap, title_h = 16, 14, 34
    row_label_w = max(_width(font, r.label) for r in rows) + 12
    col_label_h = max(_width(font, c) for c in columns) + 10
    note_w = max(_width(font, r.note) for r in rows) + 16 if any(r.note for r in rows) else 0
    left = margin + row_label_w
    x_objects = left + len(themes) * cell + gap
    names = ("style classifier: accuracy per theme", "object classifier: accuracy per object")
    stacked = left + _width(font, names[0]) + 12 > x_objects  # panel titles on two lines
    line = font.size + 6
    top = margin + title_h + line * (2 if stacked else 1) + 4 + col_label_h
    grid_right = x_objects + len(objects) * cell
    legend_w = left + 300 + 24 + 22 + _width(font, _OUTLINE_NOTE)
    width = max(grid_right + note_w, margin + _width(big, title), legend_w) + margin
    height = top + len(rows) * cell + 60 + margin
    image = Image.new("RGB", (width, height), _PAPER)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((margin, margin), title, font=big, fill=_INK)
    panels = ((names[0], left, themes, 0), (names[1], x_objects, objects, line if stacked else 0))
    for name, x0, labels, down in panels:
        draw.text((x0, margin + title_h + down), name, font=font, fill=_GREY)
        strip = Image.new("RGB", (col_label_h, max(1, len(labels)) * cell), _PAPER)
        strip_draw = ImageDraw.Draw(strip)
        for j, label in enumerate(labels):
            strip_draw.text((4, j * cell + cell // 2), label, font=font, fill=_INK, anchor="lm")
        image.paste(strip.rotate(90, expand=True), (x0, top - col_label_h))
    show_numbers = cell >= 22
    for i, row in enumerate(rows):
        y = top + i * cell
        draw.text((left - 6, y + cell // 2), row.label, font=font, fill=_INK, anchor="rm")
        for x0, names, values in ((left, themes, row.style), (x_objects, objects, row.objects)):
            for j, name in enumerate(names):
                box = (x0 + j * cell, y, x0 + (j + 1) * cell - 1, y + cell - 1)
                value = values.get(name)
                fill = _EMPTY if value is None else colour(value)
                draw.rectangle(box, fill=fill, outline=_PAPER)
                if show_numbers and value is not None:
                    ink = _PAPER if value < 0.6 else _INK
                    draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2),
                              f"{100 * value:.0f}", font=small, fill=ink, anchor="mm")  # fmt: skip
                if name == row.target:
                    draw.rectangle(box, outline=_INK, width=max(2, cell // 8))
        if row.note:
            draw.text((grid_right + 8, y + cell // 2), row.note, font=font, fill=_INK, anchor="lm")
    _legend(draw, left, top + len(rows) * cell + 18, font)
    return image


def _legend(draw: ImageDraw.ImageDraw, x: int, y: int, font) -> None:
    """The colour scale, 0% to 100%, and what the outline means."""
    length, h = 300, 14
    for k in range(length):
        draw.line([(x + k, y), (x + k, y + h)], fill=colour(k / (length - 1)))
    for share in (0, 0.5, 1):
        xs = x + share * (length - 1)
        draw.text((xs, y + h + 3), f"{100 * share:.0f}%", font=font, fill=_INK, anchor="ma")
    sx = x + length + 24
    draw.rectangle((sx, y, sx + h, y + h), outline=_INK, width=2)
    draw.text((sx + h + 8, y + h // 2), _OUTLINE_NOTE, font=font, fill=_INK, anchor="lm")
    draw.rectangle((sx, y + h + 8, sx + h, y + 2 * h + 8), fill=_EMPTY)
    draw.text((sx + h + 8, y + h + 8 + h // 2), "no images", font=font, fill=_GREY, anchor="lm")


def save_heatmap(
    rows: Sequence[HeatRow],
    themes: Sequence[str],
    objects: Sequence[str],
    path: Path,
    title: str = "",
) -> Path:
    """Draw the heat map and write it to ``path`` (a temporary name first, then a rename)."""
    path = Path(path)
    image = draw_heatmap(rows, themes, objects, title)
    with writing(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return path
