"""The stylize stage: paint every seed photo of the workspace in every style of the recipe.

Each output is written under a temporary name and renamed, the image first and its provenance
sidecar last, so the sidecar is the done-marker: a killed run resumes with nothing lost,
repeated or half-written. CPU stylizers paint one seed photo per task in a process pool; a
batched stylizer (a model on a GPU) stays in this process and is given items of one style (one
prompt) a batch at a time.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import write_bytes, write_json
from canvas_data.recipe import Recipe, workspace_recipe
from canvas_data.stylizers import Stylizer, get_stylizer, stylizer_class
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


@dataclass
class StylizeReport:
    """What a stylize run did."""

    planned: int = 0
    written: int = 0
    already_done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0.0
        return (
            f"stylized {self.written} images ({rate:.1f}/s), {self.already_done} already done, "
            f"{len(self.failed)} failed, of {self.planned} planned"
        )


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
    """Paint the workspace's seed photos in the recipe's styles, skipping finished items."""
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
    if stylizer_class(backend).batched:
        runs = _run_batched(todo, work, recipe, backend, options) if todo else iter(())
    else:
        by_photo: dict[tuple[str, int], list[str]] = defaultdict(list)
        for it in todo:
            by_photo[(it.obj, it.idx)].append(it.style)
        tasks = [(obj, idx, sts) for (obj, idx), sts in sorted(by_photo.items())]
        runs = _run(tasks, work, recipe, backend, options, workers)
    bar = tqdm(total=len(todo), desc="stylize", unit="img", disable=not progress)
    for failures, count in runs:
        report.written += count - len(failures)
        report.failed.extend(failures)
        bar.update(count)
    bar.close()
    report.seconds = time.perf_counter() - started
    return report


def _subset(wanted: Sequence[str] | None, universe: tuple[str, ...], kind: str) -> tuple[str, ...]:
    if not wanted:
        return universe
    unknown = [w for w in wanted if w not in universe]
    if unknown:
        raise ValueError(f"not in this build: {unknown_names(kind, unknown, universe)}")
    return tuple(w for w in universe if w in set(wanted))


def _remove_partials(work: Path, items: list[Item]) -> None:
    """Delete leftovers of killed writes of ``items`` only: other ranks may be writing theirs."""
    targets = {image_path(work, it) for it in items}
    targets |= {sidecar_path(p) for p in targets}
    for folder in {p.parent for p in targets}:
        if not folder.is_dir():
            continue
        for p in folder.glob(".*.partial-*"):
            if folder / p.name[1:].split(".partial-")[0] in targets:
                p.unlink(missing_ok=True)


def _run(tasks, work, recipe, backend, options, workers):
    """Yield ``(failures, count)`` per finished photo task, in processes where that helps."""
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(recipe, backend, options)
        for task in tasks:
            yield _paint_photo(work, *task), len(task[2])
        return
    # Fresh processes, not forks: a fork of a parent whose OpenCV or torch thread pools are
    # already running can hang in the child.
    spawn = multiprocessing.get_context("spawn")
    init = (recipe, backend, options)
    with ProcessPoolExecutor(
        workers, mp_context=spawn, initializer=_init_pool_worker, initargs=init
    ) as pool:
        futures = {pool.submit(_paint_photo, work, *task): len(task[2]) for task in tasks}
        for fut in as_completed(futures):
            yield fut.result(), futures[fut]


_STYLIZER: Stylizer | None = None


def _init_worker(recipe: Recipe, backend: str, options: dict[str, Any]) -> None:
    global _STYLIZER
    _STYLIZER = get_stylizer(backend, recipe, **options)


def _init_pool_worker(recipe: Recipe, backend: str, options: dict[str, Any]) -> None:
    """A pool process: one OpenCV thread each, as the pool already has a process per core."""
    import cv2

    cv2.setNumThreads(1)
    _init_worker(recipe, backend, options)


def _run_batched(todo: list[Item], work: Path, recipe: Recipe, backend: str, options):
    """Yield ``(failures, count)`` per batch of one style, painted in this process."""
    stylizer = get_stylizer(backend, recipe, **options)
    by_style: dict[str, list[Item]] = defaultdict(list)
    for it in todo:
        by_style[it.style].append(it)
    size = max(1, stylizer.max_batch)
    for _, items in sorted(by_style.items()):
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            yield _paint_batch(stylizer, work, batch), len(batch)


def _paint_batch(stylizer: Stylizer, work: Path, items: list[Item]) -> list[tuple[str, str]]:
    """Paint items of one style in one call; returns ``(key, reason)`` for each that failed."""
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


def _paint_photo(work: Path, obj: str, idx: int, styles: list[str]) -> list[tuple[str, str]]:
    """Paint one seed photo in ``styles``; returns ``(key, reason)`` for each item that failed."""
    assert _STYLIZER is not None
    stylizer, recipe = _STYLIZER, _STYLIZER.recipe
    try:
        photo, photo_sha = _read_photo(work, obj, idx)
    except ValueError as err:
        source = seed_photo_path(work, obj, idx)
        return [(Item(s, obj, idx).key, f"{source}: {err}") for s in styles]
    failures = []
    for style in styles:
        item = Item(style, obj, idx)
        try:
            spec = recipe.style(style)
            seed = item_seed(recipe.seed, item)
            painted = stylizer.stylize(photo, spec, seed)
            _write_item(stylizer, work, item, spec, seed, painted, photo_sha)
        except Exception as err:  # one bad item must not stop the run; it is reported
            failures.append((item.key, f"{type(err).__name__}: {err}"))
    return failures


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
