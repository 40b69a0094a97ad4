"""Runs that share a folder, and runs that are killed: no lost work, no double work, no orphans."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml
from click.testing import CliRunner
from conftest import fill_seed_photos, painted_workspace

from canvas_data import atomic
from canvas_data.cli.build import main as build_main
from canvas_data.locks import claim, exclusive
from canvas_data.pack.manifest import DONE_DIR, LOCK
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.paint_items import is_done, item_lock_path
from canvas_data.stylizers.runner import plan_items, stylize_workspace
from canvas_data.workspace import image_path, seed_photo_path, sidecar_path

PYTHON = [sys.executable, "-c"]
HOLD = """
import sys
from pathlib import Path
from canvas_data.locks import exclusive
out = Path(sys.argv[1])
with exclusive(out / ".pack" / "lock", out, "shards", "--out"):
    print("held", flush=True)
    sys.stdin.read()
"""


def wait_for(condition, what: str, limit: float = 30.0, step: float = 0.05):
    """Poll ``condition`` until it holds (a bound against hanging, not a speed assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(step)
    raise AssertionError(f"{what}: not within {limit} s")


def test_a_second_shards_on_the_same_out_fails_at_once_with_one_line(tmp_path):
    work, _ = painted_workspace(tmp_path)
    out = tmp_path / "uc"
    holder = subprocess.Popen(
        [*PYTHON, HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        tmp = out / "data" / f".train-000000.tar{atomic.PARTIAL}{holder.pid}"
        tmp.parent.mkdir(parents=True)
        tmp.write_bytes(b"being written")  # the other run's temporary file
        args = ["shards", "--work", str(work), "--out", str(out), "--recipe",
                str(tmp_path / "tiny.yaml"), "--no-progress"]  # fmt: skip
        busy = CliRunner().invoke(build_main, args)
        assert busy.exit_code == 1 and isinstance(busy.exception, SystemExit)
        assert busy.output == (
            f"Error: {out} is being written by another canvas-build shards (pid {holder.pid}); "
            "wait or use another --out\n"
        )
        assert tmp.read_bytes() == b"being written"  # left alone
    finally:
        holder.stdin.close()
        holder.wait(30)
    done = CliRunner().invoke(build_main, args)
    assert done.exit_code == 0, done.output
    assert not tmp.exists()  # its writer is gone now: a leftover, removed
    assert CliRunner().invoke(build_main, ["verify", str(out), "--no-progress"]).exit_code == 0


def test_remove_partials_keeps_the_files_of_running_writers(tmp_path):
    gone = subprocess.run([*PYTHON, "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(gone.stdout)
    live = tmp_path / f".a.jpg{atomic.PARTIAL}{os.getppid()}"
    dead = tmp_path / "sub" / f".b.jpg{atomic.PARTIAL}{dead_pid}"
    mine = tmp_path / f".c.jpg{atomic.PARTIAL}{os.getpid()}"  # an earlier failed write of ours
    for p in (live, dead, mine):
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
    assert atomic.remove_partials(tmp_path) == 2
    assert live.exists() and not dead.exists() and not mine.exists()
    assert atomic.remove_partials(tmp_path, everyone=True) == 1 and not live.exists()


def test_an_item_another_run_holds_is_left_to_it_and_not_painted_twice(tmp_path, tiny_work):
    recipe = load_recipe(tiny_work / "recipe.yaml")
    items = plan_items(recipe, tiny_work)
    held = items[5]
    lock = claim(item_lock_path(tiny_work, held))
    result = {}
    run = threading.Thread(
        target=lambda: result.update(
            report=stylize_workspace(tiny_work, recipe=recipe, workers=1, progress=False)
        )
    )
    run.start()
    others = [it for it in items if it != held]
    wait_for(lambda: all(is_done(tiny_work, it) for it in others), "the other items")
    assert run.is_alive() and not is_done(tiny_work, held)  # waiting for the holder
    # The holder paints its item (image, then the sidecar that marks it done), then lets go.
    image = image_path(tiny_work, held)
    atomic.write_bytes(image, seed_photo_path(tiny_work, held.obj, held.idx).read_bytes())
    atomic.write_json(sidecar_path(image), {"key": held.key, "painted_by": "the holder"})
    lock.release()
    run.join(60)
    report = result["report"]
    assert report.written == len(items) - 1 and report.by_others == 1 and not report.failed
    assert "1 painted by another run" in report.summary()
    assert json.loads(sidecar_path(image).read_text())["painted_by"] == "the holder"
    assert not list(tiny_work.glob(".locks/*.lock"))  # finished items leave no lock file


def test_disjoint_shares_never_wait_for_each_other(tmp_path, tiny_work):
    recipe = load_recipe(tiny_work / "recipe.yaml")
    items = plan_items(recipe, tiny_work)
    other_share = items[1::2]
    locks = [claim(item_lock_path(tiny_work, it)) for it in other_share]  # rank 1 is at work
    try:
        report = stylize_workspace(
            tiny_work, recipe=recipe, workers=1, num_shards=2, shard_index=0, progress=False
        )
    finally:
        for lock in locks:
            lock.release()
    assert report.written == len(items[0::2]) and report.by_others == 0


def test_two_stylize_runs_on_one_workspace_paint_each_item_once(tmp_path, tiny_work):
    command = [sys.executable, "-m", "canvas_data.cli", "stylize", "--work", str(tiny_work),
               "--workers", "1", "--no-progress"]  # fmt: skip
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    written = [int(out.split("stylized ")[1].split(" ")[0]) for out in outputs]
    assert sum(written) == 4 * 2 * 3, outputs


# --- killed runs: the pool's processes end with the run, and a rerun resumes ---


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


def painted(work: Path) -> list[Path]:
    return [p for p in work.glob("*/*/*.json") if p.parts[-3] != "Seed_Images"]


def start_stylize(work: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """A real ``canvas-build stylize`` with 2 workers, once it has painted something."""
    command = [sys.executable, "-m", "canvas_data.cli", "stylize", "--work", str(work),
               "--workers", "2", "--no-progress"]  # fmt: skip
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: painted(work) or run.poll() is not None, "a first painting", limit=120)
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
    assert len(painted(work)) == 60 * 2 * 3
    assert not list(work.rglob(f".*{atomic.PARTIAL}*"))
    return done.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 and /proc semantics")
def test_workers_end_when_the_run_is_killed(tmp_path):
    work = slow_workspace(tmp_path)
    run, workers = start_stylize(work)
    run.kill()  # kill -9: no chance to clean up
    run.wait(30)
    with ending(workers):
        wait_for(lambda: gone(workers), "the pool's processes after kill -9", limit=20)
    count = len(painted(work))
    time.sleep(0.5)
    assert len(painted(work)) == count  # nobody paints any more
    assert "already done" in rerun_finishes(work)


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
    done = len(painted(work))
    assert done < 60 * 2 * 3  # stopped midway: queued photos were not painted first
    assert f"{done} already done" in rerun_finishes(work)


def test_the_lock_of_a_killed_run_is_free(tmp_path):
    out = tmp_path / "uc"
    holder = subprocess.Popen(
        [*PYTHON, HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(30)
    with exclusive(out / DONE_DIR / LOCK, out, "shards", "--out"):
        assert (out / DONE_DIR / f"{LOCK}.pid").read_text().strip() == str(os.getpid())
