"""Locks leave no files behind: a released claim removes its file, a waiter on a removed file
takes the new one (never two holders), and the files of stopped processes are cleared."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from canvas_data.locks import claim, exclusive, release, remove_free_claims


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


HOLD = """
import sys
from canvas_data.locks import claim
lock = claim(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def test_remove_free_claims_keeps_those_a_process_holds(tmp_path):
    free, held = tmp_path / "free.lock", tmp_path / "held.lock"
    free.touch()  # left by a process that was stopped: no one holds it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(held)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert remove_free_claims([free, held, tmp_path / "gone.lock"]) == 1
        assert not free.exists() and held.is_file()
    finally:
        holder.communicate("", timeout=30)
