"""Painting items: claim them, read the seed photo, paint, and write each output.

Each output is written under a temporary name and renamed, the image first and its provenance
sidecar last, so the sidecar is the done-marker: a killed run resumes with nothing lost,
repeated or half-written. An item is claimed (a lock) while it is painted, so runs that share
a workspace share its work. A failed write (``WriteError``: a full or read-only disk) stops the
run; any other failure is reported for its item.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from canvas_data import __version__
from canvas_data.atomic import WriteError, write_bytes, write_json
from canvas_data.build_record import run_settings, settings_digest
from canvas_data.errors import InputError
from canvas_data.locks import claim, release
from canvas_data.stylizers.base import Stylizer
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import (
    Item,
    image_path,
    item_seed,
    seed_photo_path,
    sha256_file,
    sidecar_path,
)

LOCKS = ".locks"  # WORK/.locks/{style}+{object}+{idx}.lock: the item a run is painting


@dataclass
class Outcome:
    """What one task (a photo's styles, or a batch) did."""

    written: int = 0
    by_others: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    busy: list[Item] = field(default_factory=list)  # claimed by another run: left for later


def is_done(work: Path, item: Item) -> bool:
    """An item is done when its image and (written last) its provenance sidecar exist."""
    image = image_path(work, item)
    return image.is_file() and sidecar_path(image).is_file()


def item_lock_path(work: Path, item: Item) -> Path:
    return work / LOCKS / f"{item.style}+{item.obj}+{item.idx}.lock"


def claim_items(
    work: Path, items: Sequence[Item], wait: bool, stack: contextlib.ExitStack, outcome: Outcome
) -> list[Item]:
    """Claim ``items`` for this process until ``stack`` closes; returns those still to paint.

    Items another process holds go to ``outcome.busy`` (unless ``wait``); items found done
    once claimed were painted by another run.
    """
    mine = []
    for item in items:
        lock = claim(item_lock_path(work, item), wait=wait)
        if lock is None:
            outcome.busy.append(item)
            continue
        stack.callback(lambda lock=lock, item=item: release(lock, finished=is_done(work, item)))
        if is_done(work, item):
            outcome.by_others += 1
        else:
            mine.append(item)
    return mine


def paint_batch(stylizer: Stylizer, work: Path, items: list[Item], wait: bool) -> Outcome:
    """Paint the items of one style (those this run can claim) in one call.

    Raises ``WriteError`` when an output cannot be written; other failures are per item.
    """
    outcome = Outcome()
    with contextlib.ExitStack() as claims:
        items = claim_items(work, items, wait, claims, outcome)
        outcome.failed = _paint_claimed(stylizer, work, items)
        outcome.written = len(items) - len(outcome.failed)
    return outcome


def _paint_claimed(stylizer: Stylizer, work: Path, items: list[Item]) -> list[tuple[str, str]]:
    failures, ready = [], []
    for item in items:
        try:
            ready.append((item, *read_seed_photo(work, item.obj, item.idx)))
        except (OSError, ValueError) as err:
            failures.append((item.key, f"{seed_photo_path(work, item.obj, item.idx)}: {err}"))
    if not ready:
        return failures
    recipe = stylizer.recipe
    try:
        spec = recipe.style(items[0].style)
    except InputError as err:
        return failures + [(item.key, str(err)) for item, _, _ in ready]
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
            write_item(stylizer, work, item, spec, seed, image, photo_sha)
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


def read_seed_photo(work: Path, obj: str, idx: int) -> tuple[Image.Image, str]:
    """The seed photo (RGB) and its sha256; ``ValueError`` says it cannot be read."""
    source = seed_photo_path(work, obj, idx)
    try:
        with Image.open(source) as im:
            photo = im.convert("RGB")
        return photo, sha256_file(source)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read seed photo ({err})") from None


def write_item(stylizer, work: Path, item: Item, spec, seed: int, painted, photo_sha: str) -> None:
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
        "settings_sha256": settings_digest(
            recipe, item.style, run_settings(recipe, stylizer.name, stylizer.options)
        ),
        "toolkit_version": __version__,
        **stylizer.describe(spec),
        **stylizer.describe_item(spec, seed),
    }
