"""The console commands and the ``-m`` entry points the README names all start their command.

``python -m canvas_data.cli`` is what ``torchrun -m`` and ``accelerate launch -m`` run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

# (how it is started, a command only that program's --help lists)
ENTRY_POINTS = [
    ([sys.executable, "-m", "canvas_data.cli"], "stylize"),
    ([sys.executable, "-m", "canvas_data.cli.build"], "stylize"),
    ([sys.executable, "-m", "canvas_data.cli.train"], "import-release"),
    ([sys.executable, "-m", "canvas_data.cli.eval"], "summarize"),
    ([str(BIN / "canvas-build")], "stylize"),
    ([str(BIN / "canvas-train")], "import-release"),
    ([str(BIN / "canvas-eval")], "summarize"),
]


@pytest.mark.parametrize(("start", "command"), ENTRY_POINTS, ids=lambda v: " ".join(v)[-30:])
def test_each_entry_point_starts_its_command(start, command):
    done = subprocess.run([*start, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"  {command} " in done.stdout, done.stdout
