"""The contact sheet: one photo per object painted in a few styles, styles down, objects across.

The first row is the photo itself (``Seed_Images``); every column shows the same photo, so a row
shows one style over every object and a column shows one photo in every style. Images are read
back from the packed shards, so the sheet shows what the dataset holds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from canvas_data.atomic import write_bytes
from canvas_data.pack.manifest import MANIFEST, read_manifest
from canvas_data.pack.packed import PackedIndex, Row, open_image, read_index
from canvas_data.taxonomy import SEED_STYLE

PREVIEW = "preview.jpg"
DEFAULT_THUMB = 160
DEFAULT_ROWS = 8  # the photo row and seven styles: readable at the top of a card
DEFAULT_COLUMNS = 8
# Styles of the release that look unlike each other, shown first when the build has them.
SHOWCASE = (
    "Van_Gogh", "Ukiyoe", "Pop_Art", "Pencil_Drawing", "Mosaic", "Neon_Lines", "Watercolor",
    "Winter", "Cubism", "Byzantine", "Crayon", "Monet",
)  # fmt: skip

_INK, _GREY, _PAPER, _EMPTY = (34, 34, 34), (120, 120, 120), (255, 255, 255), (225, 225, 225)


@dataclass(frozen=True)
class Layout:
    """Where things go on a sheet of ``rows`` x ``columns`` thumbnails."""

    rows: int
    columns: int
    thumb: int
    label_width: int
    header_height: int
    gap: int = 4
    margin: int = 12

    @property
    def size(self) -> tuple[int, int]:
        width = 2 * self.margin + self.label_width + self.columns * (self.thumb + self.gap)
        height = 2 * self.margin + self.header_height + self.rows * (self.thumb + self.gap)
        return width, height

    def cell_box(self, row: int, column: int) -> tuple[int, int, int, int]:
        """The thumbnail's box (left, top, right, bottom) of grid cell (row, column)."""
        left = self.margin + self.label_width + column * (self.thumb + self.gap)
        top = self.margin + self.header_height + row * (self.thumb + self.gap)
        return left, top, left + self.thumb, top + self.thumb


@dataclass
class Sheet:
    """A contact sheet and what it shows."""

    image: Image.Image
    layout: Layout
    styles: list[str]
    objects: list[str]
    photo_idx: dict[str, int | None]  # per object: the photo its column shows
    cells: dict[tuple[str, str], Row | None]  # (style, object) -> the sample shown


def pick_styles(available: Sequence[str], n: int = DEFAULT_ROWS) -> list[str]:
    """The photo row, then up to ``n - 1`` styles: showcase styles first, then evenly spaced."""
    painted = [s for s in available if s != SEED_STYLE]
    chosen = [s for s in SHOWCASE if s in painted][: max(n - 1, 0)]
    rest = [s for s in painted if s not in chosen]
    want = max(n - 1 - len(chosen), 0)
    if want and rest:
        step = len(rest) / want
        chosen += list(dict.fromkeys(rest[int(i * step)] for i in range(min(want, len(rest)))))
    head = [SEED_STYLE] if SEED_STYLE in available else []
    return head + [s for s in painted if s in chosen]


def pick_objects(available: Sequence[str], n: int = DEFAULT_COLUMNS) -> list[str]:
    """All objects when they fit, else ``n`` evenly spaced ones (class order kept)."""
    if len(available) <= n:
        return list(available)
    step = len(available) / n
    return [available[int(i * step)] for i in range(n)]


def contact_sheet(
    out: Path,
    index: PackedIndex,
    *,
    styles: Sequence[str] | None = None,
    objects: Sequence[str] | None = None,
    idx: int | None = None,
    thumb: int = DEFAULT_THUMB,
) -> Sheet:
    """Draw the sheet. ``styles``/``objects`` are names (``["all"]`` for every one present);
    ``idx`` picks the photo of every column (default: each object's first photo)."""
    cells = index.cells()
    present_styles = _in_order({s for s, _ in cells}, index, "style")
    present_objects = _in_order({o for _, o in cells}, index, "object")
    styles = _choose(styles, present_styles, pick_styles, "style", out)
    objects = _choose(objects, present_objects, pick_objects, "object", out)
    photo_idx = {o: idx if idx is not None else _first_photo(cells, styles, o) for o in objects}
    shown = {
        (s, o): next((r for r in cells.get((s, o), []) if r.idx == photo_idx[o]), None)
        for s in styles
        for o in objects
    }
    font = ImageFont.load_default(size=max(11, thumb // 9))
    small = ImageFont.load_default(size=max(9, thumb // 12))
    label_width = max(_text_width(font, s) for s in [*styles, "photo"]) + 16
    header = _line_height(font) + _line_height(small) + 10
    layout = Layout(len(styles), len(objects), thumb, label_width, header)
    sheet = Image.new("RGB", layout.size, _PAPER)
    draw = ImageDraw.Draw(sheet)
    for c, obj in enumerate(objects):
        left, top, right, _ = layout.cell_box(0, c)
        centre = (left + right) // 2
        draw.text(
            (centre, layout.margin), _fit(font, obj, thumb), font=font, fill=_INK, anchor="ma"
        )
        note = f"photo {photo_idx[obj]}" if photo_idx[obj] is not None else "no photo"
        draw.text(
            (centre, layout.margin + _line_height(font) + 2),
            note,
            font=small,
            fill=_GREY,
            anchor="ma",
        )
    for r, style in enumerate(styles):
        left, top, _, bottom = layout.cell_box(r, 0)
        label = "photo" if style == SEED_STYLE else style
        draw.text((layout.margin, (top + bottom) // 2), label, font=font, fill=_INK, anchor="lm")
        for c, obj in enumerate(objects):
            box = layout.cell_box(r, c)
            row = shown[(style, obj)]
            image = _open_or_none(out, row, thumb) if row is not None else None
            if image is None:
                draw.rectangle(box, fill=_EMPTY)
                word = "missing" if row is None else "unreadable"
                draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), word,
                          font=small, fill=_GREY, anchor="mm")  # fmt: skip
                continue
            tile = ImageOps.fit(image, (thumb, thumb), Image.LANCZOS)
            sheet.paste(tile, box[:2])
    return Sheet(sheet, layout, list(styles), list(objects), photo_idx, shown)


def _open_or_none(out: Path, row: Row, thumb: int) -> Image.Image | None:
    """The sample's image, decoded at the smallest JPEG scale that still covers a ``thumb``
    square, or None when it does not decode (verify names such samples)."""
    try:
        return open_image(out, row, min_size=thumb)
    except (OSError, ValueError):
        return None


def write_preview(
    out: Path,
    dest: Path | None = None,
    *,
    index: PackedIndex | None = None,
    styles: Sequence[str] | None = None,
    objects: Sequence[str] | None = None,
    idx: int | None = None,
    thumb: int = DEFAULT_THUMB,
    quality: int = 85,
) -> Sheet:
    """Write the contact sheet of the packed folder ``out`` to ``dest`` (``out/preview.jpg``), in
    the format its suffix names (``image_format``)."""
    out = Path(out)
    if index is None:
        manifest_path = out / MANIFEST
        if not manifest_path.is_file():
            raise FileNotFoundError(f"{manifest_path}: missing, {out} is not a packed folder")
        index = read_index(out, read_manifest(manifest_path))
        if index.problems:  # a sheet over part of the data would hide what is broken
            raise ValueError(f"{index.problems[0]}; no contact sheet drawn")
    dest = Path(dest) if dest else out / PREVIEW
    fmt = image_format(dest)
    sheet = contact_sheet(out, index, styles=styles, objects=objects, idx=idx, thumb=thumb)
    buf = io.BytesIO()
    lossy = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    sheet.image.save(buf, fmt, optimize=True, **lossy)
    write_bytes(dest, buf.getvalue())
    return sheet


def image_format(path: Path) -> str:
    """The Pillow format a contact sheet is saved in, from ``path``'s suffix (``.jpg``: JPEG,
    ``.png``: PNG, ...). ``ValueError`` for a suffix Pillow cannot write."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ValueError(
            f"{path}: cannot tell the image format from {Path(path).suffix or 'no suffix'!r}; "
            "name the file .jpg, .png or .webp"
        )
    return fmt


def _in_order(names: set[str], index: PackedIndex, kind: str) -> list[str]:
    position = {}
    for row in index.rows:
        name, i = (
            (row.style, row.style_index) if kind == "style" else (row.object, row.object_index)
        )
        position[name] = i
    return sorted(names, key=lambda n: position[n])


def _choose(wanted, present: list[str], default, kind: str, out: Path) -> list[str]:
    if not present:
        raise ValueError(f"{out}: no images to show")
    if not wanted:
        return default(present)
    if list(wanted) == ["all"]:
        return present
    unknown = [w for w in wanted if w not in present]
    if unknown:
        raise ValueError(
            f"{out}: no images of {kind} {', '.join(unknown)}; it has {', '.join(present)}"
        )
    return list(dict.fromkeys(wanted))


def _first_photo(cells, styles: Sequence[str], obj: str) -> int | None:
    """The lowest photo idx of ``obj`` that every chosen style has (else the most common one)."""
    per_style = [{r.idx for r in cells.get((s, obj), [])} for s in styles]
    common = set.intersection(*per_style) if per_style else set()
    if common:
        return min(common)
    anywhere = sorted(set().union(*per_style))
    return anywhere[0] if anywhere else None


def _text_width(font, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def _line_height(font) -> int:
    _, top, _, bottom = font.getbbox("Ag")
    return int(bottom - top) + 2


def _fit(font, text: str, width: int) -> str:
    """``text``, cut with an ellipsis when it is wider than ``width``."""
    if _text_width(font, text) <= width:
        return text
    while text and _text_width(font, text + "...") > width:
        text = text[:-1]
    return text + "..."
