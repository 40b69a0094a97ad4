"""The stylize stage: paint every seed photo of the workspace in every style of the recipe.

The items are planned from the recipe and the seed photos present; finished items are skipped
and the rest split across ranks. CPU stylizers paint one seed photo per task in a process pool
(``photo_pool``); a batched stylizer (a model on a GPU) stays in this process and is given items
of one style (one prompt) a batch at a time. Claiming, painting and writing an item is
``paint_items``. A full or read-only disk stops the run at the first failed write.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data.atomic import PARTIAL, leftover
from canvas_data.build_record import (
    REPAINT_FLAG,
    BuildRecord,
    check_recipe,
    check_stylizer,
    read_record,
    record_lock,
    run_settings,
    stale_paintings,
    write_record,
)
from canvas_data.locks import remove_free_claims
from canvas_data.recipe import Recipe, workspace_recipe
from canvas_data.stylizers.paint_items import LOCKS, Outcome, is_done, item_lock_path, paint_batch
from canvas_data.stylizers.photo_pool import run_pool
from canvas_data.stylizers.registry import get_stylizer, stylizer_class
from canvas_data.suggest import unknown_names
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.work_share import shard_of_work
from canvas_data.workspace import Item, image_path, seed_photos, sidecar_path


@dataclass
class StylizeReport:
    """What a stylize run did."""

    planned: int = 0
    written: int = 0
    already_done: int = 0
    by_others: int = 0
    repainted: int = 0
    stale_left: dict[str, str] = field(default_factory=dict)  # key -> why it is stale
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0.0
        others = f", {self.by_others} painted by another run" if self.by_others else ""
        again = f" ({self.repainted} stale ones repainted)" if self.repainted else ""
        stale = (
            f", {len(self.stale_left)} stale left (rerun with {REPAINT_FLAG})"
            if self.stale_left
            else ""
        )
        return (
            f"stylized {self.written} images{again} ({rate:.1f}/s), {self.already_done} already "
            f"done{others}{stale}, {len(self.failed)} failed, of {self.planned} planned"
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


@dataclass(frozen=True)
class StylizeOptions:
    """What a stylize run paints and how (``canvas-build stylize``'s options).

    ``backend`` is a registered stylizer (``canvas_data.stylizers.registry``); ``styles`` and
    ``objects`` narrow the recipe's (default: all of them); ``workers`` is the processes of a
    CPU stylizer (default: the cores); this run paints share ``shard_index`` of ``num_shards``
    (``canvas_data.work_share``); ``stylizer`` holds the backend's own options, over the
    recipe's ``stylizers.<backend>`` (for ``diffusers``: the fields of ``DiffusionSettings``).
    """

    backend: str = "procedural"
    styles: tuple[str, ...] | None = None
    objects: tuple[str, ...] | None = None
    workers: int | None = None
    num_shards: int = 1
    shard_index: int = 0
    stylizer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("styles", "objects"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> StylizeOptions:
        """Options from keywords: those named like a field set it, the rest are the
        stylizer's own options (``workers=2, model="..."``)."""
        known = cls.__dataclass_fields__
        own = {k: v for k, v in fields.items() if k in known and k != "stylizer"}
        rest = {k: v for k, v in fields.items() if k not in known}
        return cls(**own, stylizer={**fields.get("stylizer", {}), **rest})


def stylize_workspace(
    work: Path,
    options: StylizeOptions | None = None,
    *,
    recipe: Recipe | None = None,
    progress: bool = True,
    repaint_stale: bool = False,
    **fields: Any,
) -> StylizeReport:
    """Paint the workspace's seed photos in the recipe's styles, skipping finished items.

    ``options`` say what and how (default: :class:`StylizeOptions`); a call that makes none may
    give its fields, and the stylizer's options, as keywords (``workers=2``).
    Runs that share a workspace share its work: each item is claimed (a lock under
    ``WORK/.locks/``) while it is painted, an item another run holds is left to it and checked
    again at the end, so no item is painted twice. A file that cannot be written (disk full,
    read-only) stops the run with ``WriteError``; an item that cannot be painted is reported and
    the run goes on.

    The workspace's build record (``WORK/build.json``) remembers the styles and objects asked
    and the stylizer settings per style: a recipe or settings that contradict it raise
    ``BuildConflict`` unless ``repaint_stale``, which repaints the paintings whose seed photo or
    settings changed since (without it they are left and counted in ``stale_left``).
    """
    if fields:
        if options is not None:
            raise TypeError(f"stylize_workspace: {', '.join(fields)} given with options")
        options = StylizeOptions.from_fields(fields)
    options = options or StylizeOptions()
    backend, styles, objects = options.backend, options.styles, options.objects
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
    asked_styles = _subset(styles, recipe.styles, "style")
    settings = run_settings(recipe, backend, options.stylizer)
    with record_lock(work):  # before painting: a killed run still remembers what was asked
        record = read_record(work)
        check_recipe(work, record, recipe, "stylize")
        if not repaint_stale:
            check_stylizer(work, record, asked_styles, settings)
        record = (record or BuildRecord.of_recipe(recipe)).with_paintings(
            asked_styles, _subset(objects, recipe.objects, "object"), settings
        )
        write_record(work, record)
    items = shard_of_work(planned, options.num_shards, options.shard_index)
    _remove_partials(work, items)
    stale = stale_paintings(work, recipe, record, items)
    if repaint_stale:
        for key in stale:  # the done-marker goes first: a killed run paints them on resume
            style, obj, idx = key.split("/")
            sidecar_path(image_path(work, Item(style, obj, int(idx)))).unlink(missing_ok=True)
    todo = [it for it in items if not is_done(work, it)]
    report = StylizeReport(planned=len(items), already_done=len(items) - len(todo))
    report.repainted = len(stale) if repaint_stale else 0
    report.stale_left = {} if repaint_stale else stale
    batched = stylizer_class(backend).batched
    bar = tqdm(total=len(todo), desc="stylize", unit="img", disable=not progress)
    try:
        for wait in (False, True):  # then the items other runs held, waiting for them
            if not todo:
                break
            if batched:
                runs = _run_batched(todo, work, recipe, backend, options.stylizer, wait)
            else:
                tasks = _photo_tasks(todo, wait)
                runs = run_pool(tasks, work, recipe, backend, options.stylizer, options.workers)
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
        _remove_free_claims(work, items)  # the lock files such workers left
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


def _remove_free_claims(work: Path, items: list[Item]) -> None:
    """Remove the lock files of ``items`` that no process holds (the folder stays: another run
    may be making a claim in it)."""
    folder = work / LOCKS
    if not folder.is_dir():
        return
    mine = {item_lock_path(work, it) for it in items}
    remove_free_claims([p for p in folder.iterdir() if p in mine])


def _run_batched(
    todo: list[Item], work: Path, recipe: Recipe, backend: str, options, wait: bool
) -> Iterator[Outcome]:
    """Yield an ``Outcome`` per batch of one style, painted in this process."""
    stylizer = get_stylizer(backend, recipe, **options)
    by_style: dict[str, list[Item]] = defaultdict(list)
    for it in todo:
        by_style[it.style].append(it)
    stylizer.check_styles(sorted(by_style))
    size = max(1, stylizer.max_batch)
    for _, items in sorted(by_style.items()):
        for start in range(0, len(items), size):
            yield paint_batch(stylizer, work, items[start : start + size], wait)
