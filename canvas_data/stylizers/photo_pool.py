"""The process pool that paints seed photos for CPU stylizers: one task per photo, each pool
process with its own stylizer.

Pool processes end with the run: when it is killed (``PR_SET_PDEATHSIG`` on Linux, a parent
check between items elsewhere), and at once on Ctrl-C. They find the stylizer's class by module
and name; one that cannot make the stylizer says why, and the run paints the rest in its own
process with a warning.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from importlib import import_module
from multiprocessing import process
from pathlib import Path
from typing import Any

from canvas_data.atomic import WriteError, discard_in_progress
from canvas_data.errors import one_line
from canvas_data.recipe import Recipe
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.paint_items import Outcome, claim_items, read_seed_photo, write_item
from canvas_data.stylizers.registry import stylizer_class
from canvas_data.workspace import Item, item_seed, seed_photo_path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>: the signal a process gets when its parent dies


def run_pool(tasks, work, recipe, backend, options, workers) -> Iterator[Outcome]:
    """Yield an ``Outcome`` per finished photo task, in processes where that helps.

    The stylizer is made here first, so a constructor that fails raises its own error whatever
    ``workers`` is. Pool processes are sent ``(backend, module, qualname)`` and make their own;
    when one cannot (its module does not import there, the class is not found, the constructor
    fails), queued photos are dropped, those under way finish, and the photos not yet painted are
    painted in this process, after a warning that says why. The pool's processes end with this
    one (even when it is killed), and an error or Ctrl-C here stops them at once: queued photos
    are dropped, not painted first.
    """
    workers = workers or os.cpu_count() or 1
    cls = stylizer_class(backend)
    stylizer = cls(recipe, **options)
    sent_options = None
    if workers > 1 and len(tasks) > 1:
        sent_options, blocker = _pool_blocker(backend, cls, options)
        if blocker:
            warnings.warn(blocker, stacklevel=3)
            workers = 1
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield _paint_with(stylizer, work, *task)
        return
    # Fresh processes, not forks: a fork of a parent whose OpenCV or torch thread pools are
    # already running can hang in the child. They get the class as strings, which always
    # unpickle, and the options pickled, read in the initializer where a failure is caught.
    spawn = multiprocessing.get_context("spawn")
    ref = (backend, cls.__module__, cls.__qualname__)
    init = (recipe, ref, sent_options, os.getpid())
    pool = ProcessPoolExecutor(
        min(workers, len(tasks)), mp_context=spawn, initializer=_init_pool_worker, initargs=init
    )
    try:
        futures = {pool.submit(_paint_photo, work, *task): task for task in tasks}
        pending = dict(futures)
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except StylizerUnavailable as err:
                # Queued photos are dropped; those under way end, so no work is lost or miscounted
                pool.shutdown(wait=True, cancel_futures=True)
                warnings.warn(
                    f"stylizer {backend!r} cannot be made in worker processes ({err}): "
                    "painting in this process; define its class in a module that a fresh "
                    "process can import to use workers",
                    stacklevel=3,
                )
                yield from _finish_here(stylizer, work, pending)
                return
            del pending[fut]
            yield outcome
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _finish_here(stylizer: Stylizer, work: Path, pending: dict[Future, tuple]) -> Iterator[Outcome]:
    """After the pool stopped: the outcome of each task a worker finished, the others painted
    in this process (an item found done once claimed is not painted again)."""
    for fut, task in pending.items():
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            yield fut.result()
        else:
            yield _paint_with(stylizer, work, *task)


def _pool_blocker(
    backend: str, cls: type[Stylizer], options: dict[str, Any]
) -> tuple[bytes | None, str | None]:
    """The options pickled for the pool, or (``None``, why no pool process could paint)."""
    where = f"{cls.__module__}.{cls.__qualname__}"
    if not importable(cls):
        return None, (
            f"stylizer {backend!r} is defined where worker processes cannot import it "
            f"({where}: a notebook, `python -c`, standard input or a function): painting in "
            "this process; define it in a module to use workers"
        )
    script = _unrunnable_main()
    if script:
        return None, (
            f"worker processes cannot start: they run the main script again and {script!r} "
            "is not a file: painting in this process; run a script file to use workers"
        )
    try:
        return pickle.dumps(options), None
    except Exception as err:  # reported: the run paints without workers
        return None, (
            f"the options of stylizer {backend!r} cannot be sent to worker processes "
            f"({_plugin_error(err)}): painting in this process"
        )


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


_STYLIZER: Stylizer | None = None  # in a pool process: its stylizer, once made
_UNAVAILABLE = "the pool process was not initialised"  # in a pool process: why no _STYLIZER
_PARENT: int | None = None  # in a pool process: the pid of the run that started it


class StylizerUnavailable(Exception):
    """A pool process could not make the run's stylizer; the one argument says why."""


def importable(cls: type) -> bool:
    """Whether a fresh process finds ``cls`` by its module and name: not for a class defined in
    a function, nor in a ``__main__`` that a fresh process does not run (a notebook,
    ``python -c``, a script read from standard input, a package's ``__main__``)."""
    if "<locals>" in cls.__qualname__:
        return False
    module = sys.modules.get(cls.__module__)
    if cls.__module__ == "__main__":
        name = getattr(getattr(module, "__spec__", None), "name", None) or ""
        if name:
            return name != "__main__" and not name.endswith(".__main__")
        return bool(getattr(module, "__file__", None)) and _unrunnable_main() is None
    return module is not None


def _unrunnable_main() -> str | None:
    """The ``__file__`` of a main script that a fresh process would run again but cannot, since
    it is no file (``python - < script`` gives ``<stdin>``); ``None`` when there is none."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None):
        return None  # run with -m: a fresh process imports it by name
    path = getattr(main, "__file__", None)
    if not path:
        return None  # a fresh process leaves such a main alone
    full = os.path.join(process.ORIGINAL_DIR or os.getcwd(), path)
    return None if os.path.isfile(full) else path


def resolve_stylizer(backend: str, module: str, qualname: str) -> type[Stylizer]:
    """The stylizer class named by ``module`` and ``qualname`` (``__main__``: the main script,
    as a fresh process runs it), checked to be the one registered as ``backend``.

    Raises ``StylizerUnavailable`` saying why it cannot be found.
    """
    where = f"{module}.{qualname}"
    try:
        found: Any = sys.modules["__main__"] if module == "__main__" else import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (Exception, SystemExit) as err:  # a module that fails to import, a missing name
        raise StylizerUnavailable(f"{where} not found: {_plugin_error(err)}") from None
    if not (isinstance(found, type) and issubclass(found, Stylizer) and found.name == backend):
        raise StylizerUnavailable(f"{where} is not the stylizer {backend!r} there")
    return found


def _make_stylizer(recipe: Recipe, ref: tuple[str, str, str], options: bytes) -> Stylizer:
    """A pool process's stylizer; ``StylizerUnavailable`` says why it cannot be made."""
    cls = resolve_stylizer(*ref)
    try:
        kwargs = pickle.loads(options)
    except Exception as err:  # an option whose class this process cannot import
        raise StylizerUnavailable(f"its options cannot be read: {_plugin_error(err)}") from None
    try:
        return cls(recipe, **kwargs)
    except Exception as err:  # as made in the parent, it may still fail here
        raise StylizerUnavailable(f"{ref[1]}.{ref[2]}() failed: {_plugin_error(err)}") from None


def _plugin_error(err: BaseException) -> str:
    """What a stylizer's own code raised, kind first (it may raise anything), in one line."""
    return one_line(err, kind=True, limit=300)


def _init_pool_worker(
    recipe: Recipe, ref: tuple[str, str, str], options: bytes, parent: int | None = None
) -> None:
    """A pool process: ends with its parent, leaves Ctrl-C to it, one OpenCV thread each, and
    makes its stylizer, or records why it cannot (its tasks then raise ``StylizerUnavailable``).
    """
    global _PARENT, _STYLIZER, _UNAVAILABLE
    import cv2

    _PARENT = parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    signal.signal(signal.SIGTERM, _stop_worker)
    _end_with_parent()
    cv2.setNumThreads(1)
    try:
        _STYLIZER = _make_stylizer(recipe, ref, options)
    except StylizerUnavailable as err:
        _UNAVAILABLE = str(err)


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
    """In a pool process: paint one seed photo; ``StylizerUnavailable`` if it has no stylizer."""
    if _STYLIZER is None:
        raise StylizerUnavailable(_UNAVAILABLE)
    return _paint_with(_STYLIZER, work, obj, idx, styles, wait)


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
