"""The process pool that paints seed photos for CPU stylizers: one task per photo, each pool
process with its own stylizer.

Pool processes end with the run: when it is killed (``PR_SET_PDEATHSIG`` on Linux, a parent
check between items elsewhere), and at once on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from canvas_data.atomic import WriteError, discard_in_progress
from canvas_data.recipe import Recipe
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.paint_items import Outcome, claim_items, read_seed_photo, write_item
from canvas_data.stylizers.registry import stylizer_class
from canvas_data.workspace import Item, item_seed, seed_photo_path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>: the signal a process gets when its parent dies


def run_pool(tasks, work, recipe, backend, options, workers) -> Iterator[Outcome]:
    """Yield an ``Outcome`` per finished photo task, in processes where that helps.

    The pool's processes end with this one (even when it is killed), and an error or Ctrl-C
    here stops them at once: queued photos are dropped, not painted first.
    """
    workers = workers or os.cpu_count() or 1
    stylizer = stylizer_class(backend)
    if workers > 1 and len(tasks) > 1 and not importable(stylizer):
        warnings.warn(
            f"stylizer {backend!r} is defined where worker processes cannot import it "
            f"({stylizer.__module__}.{stylizer.__qualname__}: a notebook, `python -c` or a "
            "function): painting in this process; define it in a module to use workers",
            stacklevel=3,
        )
        workers = 1
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(recipe, stylizer, options)
        for task in tasks:
            yield _paint_photo(work, *task)
        return
    # Fresh processes, not forks: a fork of a parent whose OpenCV or torch thread pools are
    # already running can hang in the child. The class goes to them by reference, so a
    # stylizer a plugin registered is found there without the registry.
    spawn = multiprocessing.get_context("spawn")
    init = (recipe, stylizer, options, os.getpid())
    pool = ProcessPoolExecutor(
        min(workers, len(tasks)), mp_context=spawn, initializer=_init_pool_worker, initargs=init
    )
    try:
        futures = [pool.submit(_paint_photo, work, *task) for task in tasks]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _stop_pool(pool: ProcessPoolExecutor, grace: float = 10.0) -> None:
    """Drop queued tasks and stop the pool's processes now (SIGTERM, then SIGKILL)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


_STYLIZER: Stylizer | None = None
_PARENT: int | None = None  # in a pool process: the pid of the run that started it


def importable(cls: type) -> bool:
    """Whether a fresh process finds ``cls`` by its module and name: not for a class defined in
    a function, nor in a ``__main__`` with no file (a notebook, ``python -c``)."""
    if "<locals>" in cls.__qualname__:
        return False
    module = sys.modules.get(cls.__module__)
    if cls.__module__ == "__main__":
        return bool(getattr(module, "__file__", None))
    return module is not None


def _init_worker(recipe: Recipe, stylizer: type[Stylizer], options: dict[str, Any]) -> None:
    global _STYLIZER
    _STYLIZER = stylizer(recipe, **options)


def _init_pool_worker(
    recipe: Recipe, stylizer: type[Stylizer], options: dict[str, Any], parent: int | None = None
) -> None:
    """A pool process: ends with its parent, leaves Ctrl-C to it, one OpenCV thread each."""
    global _PARENT
    import cv2

    _PARENT = parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    signal.signal(signal.SIGTERM, _stop_worker)
    _end_with_parent()
    cv2.setNumThreads(1)
    _init_worker(recipe, stylizer, options)


def _end_with_parent() -> None:
    """Ask Linux for SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere the
    parent is checked between items. Stops now if the parent is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    _check_parent()


def _check_parent() -> None:
    """In a pool process: stop if the run that started it is gone."""
    if _PARENT is not None and os.getppid() != _PARENT:
        _stop_worker(signal.SIGTERM, None)


def _stop_worker(signum, frame) -> None:
    """Remove this process's half-written files and end it at once."""
    discard_in_progress()
    os._exit(128 + signum)


def _paint_photo(work: Path, obj: str, idx: int, styles: list[str], wait: bool) -> Outcome:
    """Paint one seed photo in ``styles`` (those this run can claim).

    Raises ``WriteError`` when an output cannot be written; other failures are per item.
    """
    assert _STYLIZER is not None
    stylizer, recipe = _STYLIZER, _STYLIZER.recipe
    outcome = Outcome()
    with contextlib.ExitStack() as claims:
        items = claim_items(work, [Item(s, obj, idx) for s in styles], wait, claims, outcome)
        if not items:
            return outcome
        try:
            photo, photo_sha = read_seed_photo(work, obj, idx)
        except ValueError as err:
            source = seed_photo_path(work, obj, idx)
            outcome.failed = [(item.key, f"{source}: {err}") for item in items]
            return outcome
        for item in items:
            _check_parent()
            try:
                spec = recipe.style(item.style)
                seed = item_seed(recipe.seed, item)
                painted = stylizer.stylize(photo, spec, seed)
                write_item(stylizer, work, item, spec, seed, painted, photo_sha)
                outcome.written += 1
            except WriteError:  # the disk, not the item: the run stops
                raise
            except Exception as err:  # one bad item must not stop the run; it is reported
                outcome.failed.append((item.key, f"{type(err).__name__}: {err}"))
    return outcome
