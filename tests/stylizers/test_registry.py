"""A stylizer from outside the package, added with ``register``, paints a workspace with worker
processes however it was defined: in a module, in the main script (guarded or not), or in a
session (``python -c``, standard input, a notebook)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import fill_seed_photos, write_recipe

from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import plan_items
from canvas_data.workspace import image_path

# The documented "Your own stylizer" example, as written: a module and an unguarded script.
MY_STYLIZERS = """\
# my_stylizers.py
from PIL import ImageOps
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.registry import register

@register
class Invert(Stylizer):
    name = "invert"

    def stylize(self, photo, style, seed):
        return ImageOps.invert(photo.convert("RGB"))
"""
SCRIPT = """\
import my_stylizers  # noqa: F401 (registers "invert")
from canvas_data.stylizers.runner import stylize_workspace

print(stylize_workspace("WORK", backend="invert").summary())
"""
PLUGIN = MY_STYLIZERS.replace("# my_stylizers.py\n", "")
RUN = SCRIPT.replace('import my_stylizers  # noqa: F401 (registers "invert")\n', "")


@pytest.fixture
def folder(tmp_path):
    """A fresh folder holding a workspace WORK of 2 objects x 3 seed photos, 4 styles."""
    recipe = load_recipe(write_recipe(tmp_path))
    fill_seed_photos(tmp_path / "WORK", recipe)
    return tmp_path


def check_painted(done, folder):
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "BrokenProcessPool" not in done.stderr
    assert "stylized 24 images" in done.stdout and "0 failed" in done.stdout
    recipe = load_recipe(folder / "WORK" / "recipe.yaml")
    for item in plan_items(recipe, folder / "WORK"):
        assert image_path(folder / "WORK", item).is_file(), item


def run_script(folder, code: str, workers: int = 2, *, stdin: bool = False):
    code = code.replace('backend="invert")', f'backend="invert", workers={workers})')
    if stdin:
        args = {"args": [sys.executable, "-"], "input": code}
    else:
        (folder / "run.py").write_text(code)
        args = {"args": [sys.executable, "run.py"]}
    return subprocess.run(**args, cwd=folder, capture_output=True, text=True, timeout=300)


def test_the_documented_example_runs_as_written_from_an_unguarded_script(folder):
    """Spawned workers would run the unguarded script again (three tracebacks and a
    BrokenProcessPool); the pool's workers run no main script."""
    (folder / "my_stylizers.py").write_text(MY_STYLIZERS)
    check_painted(run_script(folder, SCRIPT), folder)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["script", "guarded script", "stdin"])
def test_a_stylizer_defined_in_the_main_script_paints_with_workers(folder, where):
    """The class is sent by value (cloudpickle), so no worker needs to import it."""
    code = PLUGIN + RUN
    if where == "guarded script":
        body = "".join("    " + line + "\n" for line in code.splitlines())
        code = 'if __name__ == "__main__":\n' + body
    done = run_script(folder, code, stdin=where == "stdin")
    check_painted(done, folder)


@pytest.mark.slow
def test_workers_paint_in_other_processes(folder):
    """Painted by the pool's processes, not by the calling one."""
    logged = PLUGIN.replace(
        '        return ImageOps.invert(photo.convert("RGB"))',
        "        import os\n"
        '        with open("pids.log", "a") as log:\n'
        '            log.write(f"{os.getpid()}\\n")\n'
        '        return ImageOps.invert(photo.convert("RGB"))',
    )
    done = run_script(folder, logged + RUN + "import os\nprint('parent', os.getpid())\n")
    check_painted(done, folder)
    parent = done.stdout.split("parent ")[1].split()[0]
    pids = set((folder / "pids.log").read_text().split())
    assert pids and parent not in pids
