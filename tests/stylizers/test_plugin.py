"""A stylizer from outside the package, added with ``register``, paints a workspace."""

from __future__ import annotations

import subprocess
import sys

from canvas_data.stylizers.runner import plan_items
from canvas_data.workspace import image_path

PLUGIN = """
import sys
from pathlib import Path
from PIL import ImageOps
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.registry import register
from canvas_data.stylizers.runner import stylize_workspace

@register
class Invert(Stylizer):
    name = "invert"

    def stylize(self, photo, style, seed):
        return ImageOps.invert(photo.convert("RGB"))

report = stylize_workspace(Path(sys.argv[1]), backend="invert", workers=int(sys.argv[2]),
                           progress=False)
print(report.summary())
sys.exit(1 if report.failed else 0)
"""


def paint_with_plugin(work, workers):
    """Run the plugin as a user would from a notebook or `python -c`: the class lives in the
    session that calls ``stylize_workspace``, not in an importable module."""
    return subprocess.run(
        [sys.executable, "-c", PLUGIN, str(work), str(workers)], capture_output=True, text=True
    )


def test_a_registered_stylizer_paints_every_item_with_a_process_pool(tiny_work, tiny_recipe):
    # workers defaults to the number of cores, so a pool is what a user gets.
    done = paint_with_plugin(tiny_work, 2)
    assert done.returncode == 0, done.stderr[-2000:]
    for item in plan_items(tiny_recipe, tiny_work):
        assert image_path(tiny_work, item).is_file()
