"""Old module paths used the way user code uses them: star imports, the public ``load``, ``-m``,
and the old command modules' names."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_the_public_load_stays_a_function_after_it_was_used_once():
    done = run(
        "import canvas_data\n"
        "first = canvas_data.load\n"
        "print(callable(first), callable(canvas_data.load))\n"
        "from canvas_data import load\n"
        "print(callable(load))\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "True"], done.stdout


def test_a_star_import_of_an_old_module_gives_its_public_names():
    done = run(
        "import warnings; warnings.simplefilter('ignore')\n"
        "from canvas_data.loaders import *\n"
        "print(sorted({'CanvasDataset', 'load', 'style_classification'} - set(dir())))\n"
        "import canvas_data.shards as s\n"
        "print('pack_shards' in dir(s))\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout


def test_running_an_old_module_with_dash_m_is_no_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "canvas_data.shards"], capture_output=True, text=True
    )
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_the_old_command_modules_keep_their_commands():
    done = run(
        "import warnings; warnings.simplefilter('ignore')\n"
        "from canvas_data.cli_train import style, import_release\n"
        "from canvas_data.cli_eval import accuracy, fid\n"
        "print(style.name, accuracy.name)\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["style", "accuracy"]
