"""Runs that share a folder: one `shards` per output folder, one claim per item being painted,
no lost work, no double work; the lock of a killed run is free. A released claim
removes its file, a waiter on a removed file takes the new one (never two holders), and the
files of stopped processes are cleared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner
from conftest import wait_for

from canvas_data import atomic
from canvas_data.cli.build import main as build_main
from canvas_data.locks import claim, exclusive, release, remove_free_claims
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


def test_a_second_shards_on_the_same_out_fails_at_once_with_one_line(tmp_path, tiny_painted):
    work, _ = tiny_painted
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
                str(work.parent / "tiny.yaml"), "--no-progress"]  # fmt: skip
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


# Lock files: none left behind.


def test_a_released_claim_leaves_no_file(tmp_path):
    path = tmp_path / ".locks" / "a.lock"
    lock = claim(path)
    assert lock is not None and path.is_file()
    assert claim(path) is None  # held
    release(lock, finished=False)
    assert not path.exists()


@pytest.mark.parametrize("fails", [False, True])
def test_exclusive_leaves_no_file_after_success_or_error(tmp_path, fails):
    lock_file = tmp_path / ".pack" / "lock"
    try:
        with exclusive(lock_file, tmp_path, "shards", "--out"):
            assert lock_file.is_file()
            if fails:
                raise RuntimeError("stopped")
    except RuntimeError:
        assert fails
    assert list((tmp_path / ".pack").iterdir()) == []


def test_a_waiter_on_a_removed_lock_file_never_holds_it_with_another(tmp_path):
    path = tmp_path / "item.lock"
    first = claim(path)
    got = {}
    waiter = threading.Thread(target=lambda: got.update(lock=claim(path, wait=True)))
    waiter.start()
    path.unlink()  # as a release does, while the first still holds the old file
    third = claim(path)  # a new file at the path: free, so a third process takes it
    assert third is not None
    first.release()  # the waiter wakes on the old, removed file ...
    waiter.join(2)
    assert waiter.is_alive() and "lock" not in got  # ... and waits for the new one
    release(third)
    waiter.join(30)
    assert got["lock"] is not None and path.is_file()
    release(got["lock"])


HOLD_CLAIM = """
import sys
from canvas_data.locks import claim
lock = claim(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def test_remove_free_claims_keeps_those_a_process_holds(tmp_path):
    free, held = tmp_path / "free.lock", tmp_path / "held.lock"
    free.touch()  # left by a process that was stopped: no one holds it
    command = [sys.executable, "-c", HOLD_CLAIM, str(held)]
    holder = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert remove_free_claims([free, held, tmp_path / "gone.lock"]) == 1
        assert not free.exists() and held.is_file()
    finally:
        holder.communicate("", timeout=30)
