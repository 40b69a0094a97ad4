"""The stylize pool: its processes end with the run (killed or Ctrl-C), and a rerun resumes.

A registered stylizer that pool workers cannot import, run with workers=2 from a script: the
run paints in the calling process with a warning, whatever way the class was made unimportable;
a plugin whose constructor fails raises its own error whatever the number of workers."""

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


@pytest.mark.parametrize("name", ["made_up_name", "made_up.plugins.invert"])
def test_a_module_loaded_from_a_file_under_a_made_up_name(tmp_path, work, name):
    (tmp_path / "somewhere_plugin.py").write_text(PLUGIN)
    main = script(
        "import importlib.util, sys\n"
        'if __name__ == "__main__":\n'
        f"    spec = importlib.util.spec_from_file_location({name!r}, "
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


def test_a_built_in_stylizer_from_a_script_read_from_stdin(tmp_path, work):
    """Fresh processes run the main script again: ``<stdin>`` is no file, so none can start,
    whatever the stylizer."""
    run = RUN.replace("invert_attack", "procedural")
    done = subprocess.run(
        [sys.executable, "-"],
        input=script(run, work),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    check_painted_in_process(done, work)
    assert "'<stdin>' is not a file" in done.stderr


def test_a_constructor_that_fails_only_in_pool_processes(tmp_path, work):
    """Made in the parent, the stylizer cannot be made in a pool process (say, a device only
    the parent has): the warning gives the constructor's reason, on one line."""
    (tmp_path / "parent_only.py").write_text(
        PLUGIN.replace(
            "    def stylize",
            "    def __init__(self, recipe, **options):\n"
            "        import multiprocessing\n"
            "        if multiprocessing.parent_process() is not None:\n"
            "            raise RuntimeError('device 3\\nis not here')\n"
            "        super().__init__(recipe, **options)\n\n    def stylize",
        )
    )
    main = script(
        'import parent_only\nif __name__ == "__main__":\n' + textwrap.indent(RUN, "    "), work
    )
    (tmp_path / "main.py").write_text(main)
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    check_painted_in_process(done, work)
    assert "parent_only.Invert() failed: RuntimeError: device 3 is not here" in done.stderr


OPTIONS = {
    # pickles in the parent; a pool process cannot import the class to read it back
    "unreadable": (
        'if __name__ == "__main__":\n    class Weights:\n        pass\n\n    hook = Weights()\n'
    ),
    "unpicklable": 'if __name__ == "__main__":\n    hook = lambda photo: photo\n',
}


@pytest.mark.parametrize("kind", sorted(OPTIONS))
def test_options_that_cannot_reach_pool_processes(tmp_path, work, kind):
    describe = "\n    def describe(self, style):\n        return {'backend': self.name}\n"
    (tmp_path / "opt_plugin.py").write_text(PLUGIN + describe)  # options are no JSON
    run = RUN.replace("progress=False)", "progress=False, hook=hook)")
    main = script("import opt_plugin\n" + OPTIONS[kind] + textwrap.indent(run, "    "), work)
    (tmp_path / "main.py").write_text(main)
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    check_painted_in_process(done, work)


MIXED = """
import multiprocessing, os, time
from pathlib import Path
from PIL import ImageOps
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.registry import register

HERE = Path(__file__).parent

@register
class FirstOnly(Stylizer):
    name = "invert_attack"

    def __init__(self, recipe, **options):
        super().__init__(recipe, **options)
        if multiprocessing.parent_process() is None:
            return
        try:  # the first pool process makes it; the next waits for its first painting, fails
            os.close(os.open(HERE / "first", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            for _ in range(600):
                if (HERE / "log").exists():
                    break
                time.sleep(0.05)
            raise RuntimeError("not in this one")

    def stylize(self, photo, style, seed):
        time.sleep(0.02)
        with open(HERE / "log", "a") as log:
            log.write(f"{os.getpid()} {seed}\\n")
        return ImageOps.invert(photo.convert("RGB"))
"""


def test_one_pool_process_paints_another_cannot(tmp_path, work):
    """What the working process painted or has under way is kept and counted as this run's;
    the rest is painted here; no item is painted twice."""
    (tmp_path / "mixed.py").write_text(MIXED)
    main = script('import mixed\nif __name__ == "__main__":\n' + textwrap.indent(RUN, "    "), work)
    (tmp_path / "main.py").write_text(main)
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    check_painted_in_process(done, work)
    assert "stylized 24 images" in done.stdout and "another run" not in done.stdout
    log = [line.split() for line in (tmp_path / "log").read_text().splitlines()]
    assert len(log) == 24 and len({seed for _, seed in log}) == 24
    assert len({pid for pid, _ in log}) == 2


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
        assert run.returncode != 0 and "Traceback" not in err, err
        wait_for(lambda: gone(workers), "the pool's processes after Ctrl-C", limit=20)
    assert not list(work.rglob(f".*{atomic.PARTIAL}*"))  # nothing half-written
    done = len(painted_killed(work))
    assert done < 60 * 2 * 3  # stopped midway: queued photos were not painted first
    assert f"{done} already done" in rerun_finishes(work)
