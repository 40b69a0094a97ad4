"""A stylizer from outside the package, added with ``register``, paints a workspace, with
worker processes where they can import it and in the calling process where they cannot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from canvas_data.stylizers.runner import plan_items
from canvas_data.workspace import image_path

PLUGIN = """
from PIL import ImageOps
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.registry import register

@register
class Invert(Stylizer):
    name = "invert"

    def stylize(self, photo, style, seed):
        return ImageOps.invert(photo.convert("RGB"))
"""

RUN = """
import sys
from pathlib import Path
from canvas_data.stylizers.runner import stylize_workspace

report = stylize_workspace(Path(sys.argv[1]), backend="invert", workers=int(sys.argv[2]),
                           progress=False)
print(report.summary())
sys.exit(1 if report.failed else 0)
"""

CANNOT = "worker processes cannot import it"


def paint(work, workers, code, env=None):
    return subprocess.run(
        [sys.executable, "-c", code, str(work), str(workers)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def assert_painted(work, recipe):
    for item in plan_items(recipe, work):
        assert image_path(work, item).is_file(), item


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stylizer_from_an_importable_module_paints_with_worker_processes(
    tiny_work, tiny_recipe, tmp_path, workers
):
    """The pool's processes get the class by reference and import its module themselves, even
    when the script imported it where they never look (here: ``python -c``)."""
    (tmp_path / "invert_plugin.py").write_text(PLUGIN)
    done = paint(tiny_work, workers, "import invert_plugin\n" + RUN, {"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert CANNOT not in done.stderr
    assert_painted(tiny_work, tiny_recipe)


def test_a_stylizer_defined_in_a_session_paints_in_that_process_with_a_warning(
    tiny_work, tiny_recipe
):
    """Defined in ``python -c`` (as in a notebook), no fresh process can import the class: the
    run paints in the calling process and says so, instead of breaking the pool."""
    done = paint(tiny_work, 2, PLUGIN + RUN)
    assert done.returncode == 0, done.stderr[-2000:]
    assert CANNOT in done.stderr and "painting in this process" in done.stderr
    assert_painted(tiny_work, tiny_recipe)
