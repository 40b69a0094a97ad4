"""Draw every style of the recipe painted on one photo at full size, as a compact contact sheet.

The photo (a scikit-image sample, no download) is painted at ``--size`` px in every style of the
recipe with ``canvas-build stylize``'s code, packed with ``canvas-build shards``' code, and
drawn with ``canvas_data.card.preview``'s contact sheet, in ``--blocks`` side-by-side blocks of
styles so that the sheet stays about as wide as it is tall:

    python scripts/style_sheet.py docs/styles_1024.jpg --size 1024 --thumb 200
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

from PIL import Image
from skimage import data

from canvas_data.card.preview import contact_sheet
from canvas_data.pack.manifest import MANIFEST
from canvas_data.pack.packed import read_index
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import stylize_workspace
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import seed_photo_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dest", type=Path, help="JPEG to write")
    parser.add_argument("--size", type=int, default=1024, help="painting size, px")
    parser.add_argument("--thumb", type=int, default=200, help="thumbnail side, px")
    parser.add_argument("--blocks", type=int, default=4, help="blocks of styles side by side")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quality", type=int, default=80)
    args = parser.parse_args()
    recipe = load_recipe("unlearncanvas")
    obj = recipe.objects[0]
    with tempfile.TemporaryDirectory() as tmp:
        work, out = Path(tmp) / "work", Path(tmp) / "out"
        photo = Image.fromarray(data.astronaut()).resize((args.size, args.size), Image.LANCZOS)
        path = seed_photo_path(work, obj, 1)
        path.parent.mkdir(parents=True)
        photo.save(path, quality=95)
        stylize_workspace(work, recipe=recipe, objects=[obj], workers=args.workers, progress=False)
        pack_dataset(work, out, recipe=recipe, progress=False)
        index = read_index(out, json.loads((out / MANIFEST).read_text()))
        styles = list(recipe.styles)
        per = -(-len(styles) // args.blocks)
        blocks = [
            contact_sheet(
                out, index, styles=[SEED_STYLE, *styles[i : i + per]], objects=[obj],
                thumb=args.thumb,
            ).image
            for i in range(0, len(styles), per)
        ]  # fmt: skip
    width = sum(b.width for b in blocks)
    sheet = Image.new("RGB", (width, max(b.height for b in blocks)), "white")
    x = 0
    for b in blocks:
        sheet.paste(b, (x, 0))
        x += b.width
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=args.quality, optimize=True)
    args.dest.parent.mkdir(parents=True, exist_ok=True)
    args.dest.write_bytes(buf.getvalue())
    print(f"wrote {args.dest}: {len(styles)} styles, {sheet.width} x {sheet.height} px, "
          f"{len(buf.getvalue()) // 1024} KB")  # fmt: skip


if __name__ == "__main__":
    main()
