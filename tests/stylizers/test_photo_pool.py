"""The stylize pool. A registered stylizer run with workers=2 from a script, however it was
defined: the workers make it from the class and options sent to them, so it paints there; what
they cannot be sent or cannot make is one error that says why, and nothing painted is lost or
painted twice. Its processes end with the run (killed or Ctrl-C), and a rerun resumes."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import fill_seed_photos, wait_for, write_recipe

from canvas_data import atomic
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


def check_painted_by_workers(done, work):
    assert "BrokenProcessPool" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "painting in this process" not in done.stderr
    assert len(painted(work)) == 24 and "0 failed" in done.stdout


def script(body: str, work) -> str:
    return f"WORK = {str(work)!r}\n" + body


def run_main(tmp_path, main: str, cwd=None):
    (tmp_path / "main.py").write_text(main)
    return subprocess.run(
        [sys.executable, str(tmp_path / "main.py")],
        cwd=cwd or tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_built_in_stylizer_from_a_script_read_from_stdin(tmp_path, work):
    """Workers run no main script, so one that is no file does not matter."""
    run = RUN.replace("invert_attack", "procedural")
    done = subprocess.run(
        [sys.executable, "-"],
        input=script(run, work),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    check_painted_by_workers(done, work)


OPTIONS = {
    # a class the workers could not import, and a lambda: both sent by value
    "class in __main__": "class Weights:\n    pass\n\nhook = Weights()\n",
    "lambda": "hook = lambda photo: photo\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(OPTIONS))
def test_options_defined_in_the_script_reach_the_workers(tmp_path, work, kind):
    describe = "\n    def describe(self, style):\n        return {'backend': self.name}\n"
    (tmp_path / "opt_plugin.py").write_text(PLUGIN + describe)  # options are no JSON
    run = RUN.replace("progress=False)", "progress=False, hook=hook)")
    done = run_main(tmp_path, script("import opt_plugin\n" + OPTIONS[kind] + run, work))
    check_painted_by_workers(done, work)


def test_options_that_cannot_be_sent_are_one_error_before_any_painting(tmp_path, work):
    describe = "\n    def describe(self, style):\n        return {'backend': self.name}\n"
    (tmp_path / "opt_plugin.py").write_text(PLUGIN + describe)
    run = RUN.replace("progress=False)", "progress=False, hook=threading.Lock())")
    main = script(
        "import threading, opt_plugin\ntry:\n"
        + textwrap.indent(run, "    ")
        + "except ValueError as err:\n    print('caught:', err)\n",
        work,
    )
    done = run_main(tmp_path, main)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "caught: stylizer 'invert_attack' or its options cannot be sent" in done.stdout
    assert "workers=1" in done.stdout and not painted(work)


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
    main = script(
        "import bad_plugin\n"
        "from canvas_data.stylizers.runner import stylize_workspace\n"
        "try:\n"
        f"    stylize_workspace(WORK, backend='bad_attack', workers={workers}, progress=False)\n"
        "except ValueError as err:\n"
        "    print('caught:', err)\n",
        work,
    )
    done = run_main(tmp_path, main)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "caught: weights file /nope/model.bin is missing" in done.stdout


PARENT_ONLY = PLUGIN.replace(
    "    def stylize",
    "    def __init__(self, recipe, **options):\n"
    "        import multiprocessing, os\n"
    "        if os.getpid() != PARENT:\n"
    "            raise RuntimeError('device 3 is not here')\n"
    "        super().__init__(recipe, **options)\n\n    def stylize",
).replace("@register", "import os\nPARENT = os.getpid()\n\n@register")


@pytest.mark.slow
def test_a_constructor_that_fails_only_in_workers_stops_the_run_with_its_error(tmp_path, work):
    """Made here, the stylizer cannot be made in a worker (a device only this process has):
    the run raises the worker's error, paints nothing twice, and a run with workers=1 ends it."""
    main = script(
        PARENT_ONLY
        + "try:\n"
        + textwrap.indent(RUN, "    ")
        + "except RuntimeError as err:\n    print('caught:', err)\n",
        work,
    )
    done = run_main(tmp_path, main)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "caught: device 3 is not here" in done.stdout
    assert not list(work.rglob(".*partial*"))
    alone = run_main(tmp_path, main.replace("workers=2", "workers=1"))
    assert alone.returncode == 0 and "stylized 24 images" in alone.stdout, alone.stderr[-3000:]


@pytest.mark.slow
def test_a_module_the_workers_cannot_import_is_named(tmp_path, work):
    """A plugin loaded from a file under a made-up module name: the error names the module."""
    (tmp_path / "somewhere_plugin.py").write_text(PLUGIN)
    main = script(
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('made_up_name', "
        f"{str(tmp_path / 'somewhere_plugin.py')!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "sys.modules[spec.name] = module\n"
        "spec.loader.exec_module(module)\n"
        "try:\n" + textwrap.indent(RUN, "    ") + "except RuntimeError as err:\n"
        "    print('caught:', err)\n",
        work,
    )
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    done = run_main(tmp_path, main, cwd=sub)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "caught: a worker process cannot read the stylizer" in done.stdout
    assert "made_up_name" in done.stdout


# Killed runs: the pool's processes end with the run, and a rerun resumes.


def slow_workspace(root: Path) -> Path:
    """60 styles x 2 objects x 3 photos at 160 px: long enough to be stopped midway."""
    path = root / "slow.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "extends": "demo",
                "name": "slow",
                "build": {
                    "objects": ["Cats", "Human"],
                    "photos_per_object": 3,
                    "resolution": 160,
                    "min_photo_side": 32,
                },  # fmt: skip
                "photos": {"source": "folder", "licence": "made by the test"},
            }
        )
    )
    work = root / "work"
    fill_seed_photos(work, load_recipe(path))
    return work


def painted_killed(work: Path) -> list[Path]:
    return [p for p in work.glob("*/*/*.json") if p.parts[-3] != "Seed_Images"]


def start_stylize(work: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """A real ``canvas-build stylize`` with 2 workers, once it has painted something."""
    command = [sys.executable, "-m", "canvas_data.cli", "stylize", "--work", str(work),
               "--workers", "2", "--no-progress"]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: painted_killed(work) or run.poll() is not None, "a first painting", limit=120)
    assert run.poll() is None, "the run ended before it could be stopped"
    workers = psutil.Process(run.pid).children(recursive=True)
    assert len(workers) >= 2
    return run, workers


def gone(processes: list[psutil.Process]) -> bool:
    def ended(p: psutil.Process) -> bool:
        try:
            return p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return all(ended(p) for p in processes)


@contextlib.contextmanager
def ending(processes: list[psutil.Process]):
    """Whatever the test finds, no process it started outlives it."""
    try:
        yield
    finally:
        for p in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()


def rerun_finishes(work: Path) -> str:
    command = [sys.executable, "-m", "canvas_data.cli", "stylize", "--work", str(work),
               "--workers", "2", "--no-progress"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(painted_killed(work)) == 60 * 2 * 3
    assert not list(work.rglob(f".*{atomic.PARTIAL}*"))
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 and /proc semantics")
def test_workers_end_when_the_run_is_killed(tmp_path):
    work = slow_workspace(tmp_path)
    run, workers = start_stylize(work)
    run.kill()  # kill -9: no chance to clean up
    run.wait(30)
    with ending(workers):
        wait_for(lambda: gone(workers), "the pool's processes after kill -9", limit=20)
    count = len(painted_killed(work))
    time.sleep(0.5)
    assert len(painted_killed(work)) == count  # nobody paints any more
    assert "already done" in rerun_finishes(work)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signal semantics")
def test_ctrl_c_stops_the_run_and_its_workers_and_the_rerun_resumes(tmp_path):
    work = slow_workspace(tmp_path)
    run, workers = start_stylize(work)
    run.send_signal(signal.SIGINT)
    with ending([psutil.Process(run.pid), *workers]):
        _, err = run.communicate(timeout=60)
        assert run.returncode == 130 and "Traceback" not in err, err
        wait_for(lambda: gone(workers), "the pool's processes after Ctrl-C", limit=20)
    assert not list(work.rglob(f".*{atomic.PARTIAL}*"))  # nothing half-written
    assert not list(work.rglob("*.lock"))  # no lock file left
    done = len(painted_killed(work))
    assert done < 60 * 2 * 3  # stopped midway: queued photos were not painted first
    assert f"{done} already done" in rerun_finishes(work)
