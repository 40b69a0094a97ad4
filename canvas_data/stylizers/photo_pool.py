"""The process pool that paints seed photos for CPU stylizers: one task per photo, each worker
with its own stylizer.

The pool is loky's (through joblib): workers are fresh interpreters that run no main script, so
an unguarded script, ``python -c``, standard input and notebooks all work, and the stylizer's
class and options are sent with cloudpickle, by value when the class is defined in ``__main__``
or a notebook. Workers end with the run: after it, when it is killed (``PR_SET_PDEATHSIG`` on
Linux, a parent check between items elsewhere), and within seconds on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
from joblib.externals.loky import ProcessPoolExecutor, as_completed

from canvas_data.atomic import WriteError, discard_in_progress
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.paint_items import Outcome, claim_items, read_seed_photo, write_item
from canvas_data.stylizers.registry import stylizer_class
from canvas_data.workspace import Item, item_seed, seed_photo_path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>: the signal a process gets when its parent dies
STOP_GRACE_S = 5.0  # after Ctrl-C or an error: how long workers get to remove their temporary files


def run_pool(tasks, work, recipe, backend, options, workers) -> Iterator[Outcome]:
    """Yield an ``Outcome`` per finished photo task, in worker processes where that helps.

    The stylizer is made here first, so a constructor that fails raises its own error whatever
    ``workers`` is; each worker makes its own from the class and options sent to it. Raises
    ``ValueError`` when they cannot be pickled (a lock, an open file: pass ``workers=1``), and
    the error of a worker that cannot make or use the stylizer, after stopping the others. An
    error or Ctrl-C here stops the workers at once: queued photos are dropped, not painted.
    """
    workers = workers or os.cpu_count() or 1
    cls = stylizer_class(backend)
    stylizer = cls(recipe, **options)
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield _paint_with(stylizer, work, *task)
        return
    try:
        sent = cloudpickle.dumps((cls, recipe, options))
    except Exception as err:  # a lock, an open file, a generator among the options
        raise ValueError(
            f"stylizer {backend!r} or its options cannot be sent to worker processes "
            f"({type(err).__name__}: {err}); pass workers=1 to paint in this process"
        ) from None
    pool = ProcessPoolExecutor(
        min(workers, len(tasks)), initializer=_init_worker, initargs=(sent, os.getpid())
    )
    try:
        futures = [pool.submit(_paint_photo, work, *task) for task in tasks]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Drop queued tasks and end the workers now: SIGTERM first (each removes its temporary
    files), then loky kills what is left and waits for it."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for p in processes:
        with contextlib.suppress(ProcessLookupError, TypeError):
            os.kill(p.pid, signal.SIGTERM)
    for p in processes:
        with contextlib.suppress(Exception):
            p.join(STOP_GRACE_S / max(1, len(processes)))
    pool.shutdown(wait=True, kill_workers=True)


_SENT: bytes | None = None  # in a worker: the pickled (class, recipe, options)
_STYLIZER: Stylizer | None = None  # in a worker: its stylizer, made for its first photo
_PARENT: int | None = None  # in a worker: the pid of the run that started it


def _init_worker(sent: bytes, parent: int) -> None:
    """A worker: ends with its parent, leaves Ctrl-C to it, one OpenCV thread each."""
    global _PARENT, _SENT
    import cv2

    _SENT, _PARENT = sent, parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    signal.signal(signal.SIGTERM, _stop_worker)
    _end_with_parent()
    cv2.setNumThreads(1)


def _worker_stylizer() -> Stylizer:
    """This worker's stylizer, made once; an error says what a worker could not do."""
    global _STYLIZER
    if _STYLIZER is None:
        try:
            cls, recipe, options = cloudpickle.loads(_SENT)
        except Exception as err:  # its module does not import here (a made-up module name)
            raise RuntimeError(
                f"a worker process cannot read the stylizer ({type(err).__name__}: {err}); "
                "make its module importable, or pass workers=1"
            ) from None
        _STYLIZER = cls(recipe, **options)
    return _STYLIZER


def _end_with_parent() -> None:
    """Ask Linux for SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere the
    parent is checked between items. Stops now if the parent is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    _check_parent()


def _check_parent() -> None:
    """In a worker: stop if the run that started it is gone."""
    if _PARENT is not None and os.getppid() != _PARENT:
        _stop_worker(signal.SIGTERM, None)


def _stop_worker(signum, frame) -> None:
    """Remove this process's half-written files and end it at once."""
    discard_in_progress()
    os._exit(128 + signum)


def _paint_photo(work: Path, obj: str, idx: int, styles: list[str], wait: bool) -> Outcome:
    """In a worker: paint one seed photo with this worker's stylizer."""
    return _paint_with(_worker_stylizer(), work, obj, idx, styles, wait)


def _paint_with(
    stylizer: Stylizer, work: Path, obj: str, idx: int, styles: list[str], wait: bool
) -> Outcome:
    """Paint one seed photo in ``styles`` (those this run can claim and are not done).

    Raises ``WriteError`` when an output cannot be written; other failures are per item.
    """
    recipe = stylizer.recipe
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
