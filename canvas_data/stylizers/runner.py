"""The stylize stage: paint every seed photo of the workspace in every style of the recipe.

Each output is written under a temporary name and renamed, the image first and its provenance
sidecar last, so the sidecar is the done-marker: a killed run resumes with nothing lost,
repeated or half-written. An item is claimed (a lock) while it is painted, so runs that share
a workspace share its work. A full or read-only disk stops the run at the first failed write.

CPU stylizers paint one seed photo per task in a process pool; a batched stylizer (a model on
a GPU) stays in this process and is given items of one style (one prompt) a batch at a time.
Pool processes end with the run: when it is killed (``PR_SET_PDEATHSIG`` on Linux, a parent
check between items elsewhere), and at once on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import (
    PARTIAL,
    WriteError,
    discard_in_progress,
    leftover,
    write_bytes,
    write_json,
)
from canvas_data.locks import claim, release
from canvas_data.recipe import Recipe, workspace_recipe
from canvas_data.stylizers.base import Stylizer
from canvas_data.stylizers.registry import get_stylizer, stylizer_class
from canvas_data.suggest import unknown_names
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.work_share import shard_of_work
from canvas_data.workspace import (
    Item,
    image_path,
    item_seed,
    seed_photo_path,
    seed_photos,
    sha256_file,
    sidecar_path,
)

LOCKS = ".locks"  # WORK/.locks/{style}+{object}+{idx}.lock: the item a run is painting
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>: the signal a process gets when its parent dies


@dataclass
class StylizeReport:
    """What a stylize run did."""

    planned: int = 0
    written: int = 0
    already_done: int = 0
    by_others: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0.0
        others = f", {self.by_others} painted by another run" if self.by_others else ""
        return (
            f"stylized {self.written} images ({rate:.1f}/s), {self.already_done} already done"
            f"{others}, {len(self.failed)} failed, of {self.planned} planned"
        )


@dataclass
class Outcome:
    """What one task (a photo's styles, or a batch) did."""

    written: int = 0
    by_others: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    busy: list[Item] = field(default_factory=list)  # claimed by another run: left for later


def plan_items(
    recipe: Recipe,
    work: Path,
    styles: Sequence[str] | None = None,
    objects: Sequence[str] | None = None,
) -> list[Item]:
    """Every (style, object, idx) to paint: the recipe's styles over the seed photos present."""
    styles = _subset(styles, recipe.styles, "style")
    objects = _subset(objects, recipe.objects, "object")
    photos = seed_photos(work, objects)
    return sorted(Item(s, o, i) for s in styles for o in objects for i in photos[o])


def is_done(work: Path, item: Item) -> bool:
    """An item is done when its image and (written last) its provenance sidecar exist."""
    image = image_path(work, item)
    return image.is_file() and sidecar_path(image).is_file()


def stylize_workspace(
    work: Path,
    *,
    backend: str = "procedural",
    recipe: Recipe | None = None,
    styles: Sequence[str] | None = None,
    objects: Sequence[str] | None = None,
    workers: int | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    progress: bool = True,
    **options: Any,
) -> StylizeReport:
    """Paint the workspace's seed photos in the recipe's styles, skipping finished items.

    Runs that share a workspace share its work: each item is claimed (a lock under
    ``WORK/.locks/``) while it is painted, an item another run holds is left to it and checked
    again at the end, so no item is painted twice. A file that cannot be written (disk full,
    read-only) stops the run with ``WriteError``; an item that cannot be painted is reported and
    the run goes on.
    """
    work = Path(work)
    recipe = recipe or workspace_recipe(work)
    started = time.perf_counter()
    planned = plan_items(recipe, work, styles, objects)
    if not planned:
        raise ValueError(
            f"nothing to stylize: no seed photos in {work / SEED_STYLE} for "
            f"{', '.join(_subset(objects, recipe.objects, 'object'))} "
            "(run `canvas-build sources` first)"
        )
    items = shard_of_work(planned, num_shards, shard_index)
    _remove_partials(work, items)
    todo = [it for it in items if not is_done(work, it)]
    report = StylizeReport(planned=len(items), already_done=len(items) - len(todo))
    batched = stylizer_class(backend).batched
    bar = tqdm(total=len(todo), desc="stylize", unit="img", disable=not progress)
    try:
        for wait in (False, True):  # then the items other runs held, waiting for them
            if not todo:
                break
            if batched:
                runs = _run_batched(todo, work, recipe, backend, options, wait)
            else:
                runs = _run(_photo_tasks(todo, wait), work, recipe, backend, options, workers)
            busy: list[Item] = []
            with contextlib.closing(runs):  # an interrupt here stops the pool at once too
                for outcome in runs:
                    report.written += outcome.written
                    report.by_others += outcome.by_others
                    report.failed.extend(outcome.failed)
                    busy.extend(outcome.busy)
                    bar.update(outcome.written + outcome.by_others + len(outcome.failed))
            todo = sorted(busy)
    finally:
        bar.close()
        _remove_partials(work, items)  # those of workers stopped by Ctrl-C or an error
    report.seconds = time.perf_counter() - started
    return report


def _photo_tasks(todo: list[Item], wait: bool) -> list[tuple[str, int, list[str], bool]]:
    """One task per seed photo: ``(object, idx, styles, wait)``."""
    by_photo: dict[tuple[str, int], list[str]] = defaultdict(list)
    for it in todo:
        by_photo[(it.obj, it.idx)].append(it.style)
    return [(obj, idx, sts, wait) for (obj, idx), sts in sorted(by_photo.items())]


def _subset(wanted: Sequence[str] | None, universe: tuple[str, ...], kind: str) -> tuple[str, ...]:
    if not wanted:
        return universe
    unknown = [w for w in wanted if w not in universe]
    if unknown:
        raise ValueError(f"not in this build: {unknown_names(kind, unknown, universe)}")
    return tuple(w for w in universe if w in set(wanted))


def _remove_partials(work: Path, items: list[Item]) -> None:
    """Delete leftovers of killed writes of ``items`` only (other ranks may be writing theirs),
    and only those whose writer is gone (another run may be writing the same item)."""
    targets = {image_path(work, it) for it in items}
    targets |= {sidecar_path(p) for p in targets}
    for folder in {p.parent for p in targets}:
        if not folder.is_dir():
            continue
        for p in folder.glob(f".*{PARTIAL}*"):
            if folder / p.name[1:].split(PARTIAL)[0] in targets and leftover(p):
                p.unlink(missing_ok=True)


def _lock_path(work: Path, item: Item) -> Path:
    return work / LOCKS / f"{item.style}+{item.obj}+{item.idx}.lock"


def _claim(
    work: Path, items: Sequence[Item], wait: bool, stack: contextlib.ExitStack, outcome: Outcome
) -> list[Item]:
    """Claim ``items`` for this process until ``stack`` closes; returns those still to paint.

    Items another process holds go to ``outcome.busy`` (unless ``wait``); items found done
    once claimed were painted by another run.
    """
    mine = []
    for item in items:
        lock = claim(_lock_path(work, item), wait=wait)
        if lock is None:
            outcome.busy.append(item)
            continue
        stack.callback(lambda lock=lock, item=item: release(lock, finished=is_done(work, item)))
        if is_done(work, item):
            outcome.by_others += 1
        else:
            mine.append(item)
    return mine


def _run(tasks, work, recipe, backend, options, workers) -> Iterator[Outcome]:
    """Yield an ``Outcome`` per finished photo task, in processes where that helps.

    The pool's processes end with this one (even when it is killed), and an error or Ctrl-C
    here stops them at once: queued photos are dropped, not painted first.
    """
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(recipe, backend, options)
        for task in tasks:
            yield _paint_photo(work, *task)
        return
    # Fresh processes, not forks: a fork of a parent whose OpenCV or torch thread pools are
    # already running can hang in the child.
    spawn = multiprocessing.get_context("spawn")
    init = (recipe, backend, options, os.getpid())
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


def _init_worker(recipe: Recipe, backend: str, options: dict[str, Any]) -> None:
    global _STYLIZER
    _STYLIZER = get_stylizer(backend, recipe, **options)


def _init_pool_worker(
    recipe: Recipe, backend: str, options: dict[str, Any], parent: int | None = None
) -> None:
    """A pool process: ends with its parent, leaves Ctrl-C to it, one OpenCV thread each."""
    global _PARENT
    import cv2

    _PARENT = parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool on Ctrl-C
    signal.signal(signal.SIGTERM, _stop_worker)
    _end_with_parent()
    cv2.setNumThreads(1)
    _init_worker(recipe, backend, options)


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


def _run_batched(
    todo: list[Item], work: Path, recipe: Recipe, backend: str, options, wait: bool
) -> Iterator[Outcome]:
    """Yield an ``Outcome`` per batch of one style, painted in this process."""
    stylizer = get_stylizer(backend, recipe, **options)
    by_style: dict[str, list[Item]] = defaultdict(list)
    for it in todo:
        by_style[it.style].append(it)
    size = max(1, stylizer.max_batch)
    for _, items in sorted(by_style.items()):
        for start in range(0, len(items), size):
            yield _paint_batch(stylizer, work, items[start : start + size], wait)


def _paint_batch(stylizer: Stylizer, work: Path, items: list[Item], wait: bool) -> Outcome:
    """Paint the items of one style (those this run can claim) in one call.

    Raises ``WriteError`` when an output cannot be written; other failures are per item.
    """
    outcome = Outcome()
    with contextlib.ExitStack() as claims:
        items = _claim(work, items, wait, claims, outcome)
        outcome.failed = _paint_claimed(stylizer, work, items)
        outcome.written = len(items) - len(outcome.failed)
    return outcome


def _paint_claimed(stylizer: Stylizer, work: Path, items: list[Item]) -> list[tuple[str, str]]:
    failures, ready = [], []
    for item in items:
        try:
            ready.append((item, *_read_photo(work, item.obj, item.idx)))
        except (OSError, ValueError) as err:
            failures.append((item.key, f"{seed_photo_path(work, item.obj, item.idx)}: {err}"))
    if not ready:
        return failures
    recipe = stylizer.recipe
    try:
        spec = recipe.style(items[0].style)
    except KeyError as err:
        return failures + [(item.key, f"KeyError: {err}") for item, _, _ in ready]
    seeds = [item_seed(recipe.seed, item) for item, _, _ in ready]
    try:
        painted = stylizer.stylize_batch([photo for _, photo, _ in ready], spec, seeds)
    except Exception as err:  # retried item by item: one bad item (or memory) spares the rest
        alone = len(ready) == 1
        painted = (
            [err]
            if alone
            else [_paint_alone(stylizer, r[1], spec, s) for r, s in zip(ready, seeds, strict=True)]
        )
    for (item, _, photo_sha), seed, image in zip(ready, seeds, painted, strict=True):
        if isinstance(image, Exception):
            failures.append((item.key, f"{type(image).__name__}: {image}"))
            continue
        try:
            _write_item(stylizer, work, item, spec, seed, image, photo_sha)
        except WriteError:  # the disk, not the item: the run stops
            raise
        except Exception as err:  # one bad item must not stop the run; it is reported
            failures.append((item.key, f"{type(err).__name__}: {err}"))
    return failures


def _paint_alone(
    stylizer: Stylizer, photo: Image.Image, spec, seed: int
) -> Image.Image | Exception:
    try:
        return stylizer.stylize_batch([photo], spec, [seed])[0]
    except Exception as err:  # reported by the caller
        return err


def _read_photo(work: Path, obj: str, idx: int) -> tuple[Image.Image, str]:
    """The seed photo (RGB) and its sha256; ``ValueError`` says it cannot be read."""
    source = seed_photo_path(work, obj, idx)
    try:
        with Image.open(source) as im:
            photo = im.convert("RGB")
        return photo, sha256_file(source)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read seed photo ({err})") from None


def _paint_photo(work: Path, obj: str, idx: int, styles: list[str], wait: bool) -> Outcome:
    """Paint one seed photo in ``styles`` (those this run can claim).

    Raises ``WriteError`` when an output cannot be written; other failures are per item.
    """
    assert _STYLIZER is not None
    stylizer, recipe = _STYLIZER, _STYLIZER.recipe
    outcome = Outcome()
    with contextlib.ExitStack() as claims:
        items = _claim(work, [Item(s, obj, idx) for s in styles], wait, claims, outcome)
        if not items:
            return outcome
        try:
            photo, photo_sha = _read_photo(work, obj, idx)
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
                _write_item(stylizer, work, item, spec, seed, painted, photo_sha)
                outcome.written += 1
            except WriteError:  # the disk, not the item: the run stops
                raise
            except Exception as err:  # one bad item must not stop the run; it is reported
                outcome.failed.append((item.key, f"{type(err).__name__}: {err}"))
    return outcome


def _write_item(stylizer, work: Path, item: Item, spec, seed: int, painted, photo_sha: str) -> None:
    """The image, then (the done-marker) its provenance sidecar, each written atomically."""
    buf = io.BytesIO()
    painted.save(buf, "JPEG", quality=stylizer.recipe.jpeg_quality)
    out = image_path(work, item)
    write_bytes(out, buf.getvalue())
    write_json(sidecar_path(out), _provenance(stylizer, spec, item, seed, photo_sha))


def _provenance(stylizer: Stylizer, spec, item: Item, seed: int, photo_sha: str) -> dict[str, Any]:
    recipe = stylizer.recipe
    return {
        "key": item.key,
        "style": item.style,
        "object": item.obj,
        "idx": item.idx,
        "seed_photo": f"{SEED_STYLE}/{item.obj}/{item.idx}.jpg",
        "seed_photo_sha256": photo_sha,
        "seed": seed,
        "recipe": recipe.name,
        "recipe_sha256": recipe.sha256,
        "toolkit_version": __version__,
        **stylizer.describe(spec),
    }
