"""A registered stylizer that pool workers cannot import, run with workers=2 from a script: the
run paints in the calling process with a warning, whatever way the class was made unimportable;
a plugin whose constructor fails raises its own error whatever the number of workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import fill_seed_photos, write_recipe

from canvas_data.recipe import load_recipe

PLUGIN = """
from PIL import ImageOps
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.registry import register

@register
class Invert(Stylizer):
    name = "invert_attack"

    def stylize(self, photo, style, seed):
        return ImageOps.invert(photo.convert("RGB"))
"""
RUN = (
    "from canvas_data.stylizers.runner import stylize_workspace\n"
    "print(stylize_workspace(WORK, backend='invert_attack', workers=2, progress=False)"
    ".summary())\n"
)


@pytest.fixture
def work(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    work = tmp_path / "work"
    fill_seed_photos(work, recipe)
    return work


def painted(work):
    return sorted(p for p in work.rglob("*.jpg") if "Seed_Images" not in p.parts)


def check_painted_in_process(done, work):
    assert "BrokenProcessPool" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "painting in this process" in done.stderr
    assert len(painted(work)) == 24 and "0 failed" in done.stdout


def script(body: str, work) -> str:
    return f"WORK = {str(work)!r}\n" + body


def test_a_class_defined_under_the_main_guard(tmp_path, work):
    main = script(
        'if __name__ == "__main__":\n'
        + textwrap.indent(PLUGIN, "    ")
        + textwrap.indent(RUN, "    "),
        work,
    )
    (tmp_path / "guarded.py").write_text(main)
    done = subprocess.run(
        [sys.executable, "guarded.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    check_painted_in_process(done, work)


def test_a_script_read_from_stdin(tmp_path, work):
    done = subprocess.run(
        [sys.executable, "-"],
        input=script(PLUGIN + RUN, work),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    check_painted_in_process(done, work)


def test_a_module_loaded_from_a_file_under_a_made_up_name(tmp_path, work):
    (tmp_path / "somewhere_plugin.py").write_text(PLUGIN)
    main = script(
        "import importlib.util, sys\n"
        'if __name__ == "__main__":\n'
        f"    spec = importlib.util.spec_from_file_location('made_up_name', "
        f"{str(tmp_path / 'somewhere_plugin.py')!r})\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    sys.modules[spec.name] = module\n"
        "    spec.loader.exec_module(module)\n" + textwrap.indent(RUN, "    "),
        work,
    )
    (tmp_path / "main.py").write_text(main)
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    done = subprocess.run(
        [sys.executable, str(tmp_path / "main.py")],
        cwd=sub,
        capture_output=True,
        text=True,
        timeout=300,
        env=None,
    )
    check_painted_in_process(done, work)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_plugin_whose_constructor_fails_raises_its_own_error(tmp_path, work, workers):
    (tmp_path / "bad_plugin.py").write_text(
        "from canvas_data.stylizers.base import Stylizer\n"
        "from canvas_data.stylizers.registry import register\n"
        "@register\n"
        "class Bad(Stylizer):\n"
        "    name = 'bad_attack'\n"
        "    def __init__(self, recipe, **options):\n"
        "        raise ValueError('weights file /nope/model.bin is missing')\n"
        "    def stylize(self, photo, style, seed):\n"
        "        return photo\n"
    )
    (tmp_path / "main.py").write_text(
        script(
            "import bad_plugin\n"
            "from canvas_data.stylizers.runner import stylize_workspace\n"
            'if __name__ == "__main__":\n'
            "    try:\n"
            f"        stylize_workspace(WORK, backend='bad_attack', workers={workers}, "
            "progress=False)\n"
            "    except ValueError as err:\n"
            "        print('caught:', err)\n",
            work,
        )
    )
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "caught: weights file /nope/model.bin is missing" in done.stdout
