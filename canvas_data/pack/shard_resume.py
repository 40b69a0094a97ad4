"""One planned shard as a unit of work: written in every format, marked done, skipped on rerun.

Each shard file is written under a temporary name and renamed, then marked done in
``DIR/.pack/`` with a fingerprint of its inputs (images, sidecars, recipe, check level); a rerun
skips a shard whose inputs have not changed, and removes shards of an earlier, larger plan.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from canvas_data.atomic import write_json, writing
from canvas_data.images.jpeg import STORE_RULES, ImageError
from canvas_data.pack.manifest import DONE_DIR, SHARD_FILES
from canvas_data.pack.shard_formats import FORMATS, sample_record, writer_class
from canvas_data.pack.shard_plan import Sample
from canvas_data.recipe import Recipe
from canvas_data.resume_state import read_state
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import sha256_file, sidecar_path


def _shard_path(out: Path, fmt: str, name: str) -> Path:
    folder, suffix = SHARD_FILES[fmt]
    return out / folder / f"{name}{suffix}"


def _done_path(out: Path, fmt: str, name: str) -> Path:
    return out / DONE_DIR / (f"{name}.json" if fmt == "webdataset" else f"{name}.{fmt}.json")


def _fingerprint(samples: list[Sample]) -> str:
    """Changes whenever a shard's inputs (images or sidecars) change."""
    h = hashlib.sha256()
    for s in samples:
        side = sidecar_path(s.path)
        for p in (s.path, side):
            st = p.stat() if p.exists() else None
            h.update(f"{p.name}:{st and st.st_size}:{st and st.st_mtime_ns};".encode())
        h.update(f"{s.item.key}|{s.split}\n".encode())
    return h.hexdigest()


def _done_entry(out: Path, fmt: str, name: str, fingerprint: str) -> dict | None:
    """The entry of a shard already written from the same inputs, if there is one."""
    path, done = _shard_path(out, fmt, name), _done_path(out, fmt, name)
    if not (done.is_file() and path.is_file()):
        return None
    entry = read_state(done, _whole_entry)  # a damaged marker is set aside: written again
    if entry is None:
        return None
    if entry.get("fingerprint") == fingerprint and entry.get("bytes") == path.stat().st_size:
        return entry
    return None


def _whole_entry(entry: dict) -> bool:
    """What a done-marker holds: the inputs' fingerprint and the shard's size."""
    return isinstance(entry.get("fingerprint"), str) and type(entry.get("bytes")) is int


def pack_one(
    out: Path,
    name: str,
    samples: list[Sample],
    recipe: Recipe,
    formats: Sequence[str],
    check: str,
    advance: Callable[[int], Any],
    index: dict[str, list] | None = None,
) -> tuple[dict[str, dict], bool]:
    """Write one shard in every format that lacks an identical one; returns (entries, reused).

    Each image is read once and streamed into every format's writer. ``index`` receives, per
    tar written, its samples' ``json`` members and image offsets (``TarShardWriter.rows``).
    """
    fingerprint = f"{_fingerprint(samples)}{recipe.sha256}{check}{STORE_RULES}"
    entries = {fmt: e for fmt in formats if (e := _done_entry(out, fmt, name, fingerprint))}
    todo = [fmt for fmt in formats if fmt not in entries]
    if not todo:
        advance(len(samples))
        return entries, True
    paths = {fmt: _shard_path(out, fmt, name) for fmt in todo}
    writers = {}
    counts: Counter[str] = Counter()
    backends: Counter[str] = Counter()
    rejected = []
    # Each shard file is written under a temporary name and renamed when the block ends; an
    # error (disk full, Ctrl-C) closes the writers unfinished and removes their files.
    with contextlib.ExitStack() as stack:
        for fmt, path in paths.items():
            writers[fmt] = writer_class(fmt)(stack.enter_context(writing(path)), recipe)
            stack.callback(writers[fmt].abort)
        for sample in sorted(samples, key=lambda s: s.item.key):
            advance(1)
            try:
                record, meta = sample_record(sample, recipe, check=check)
            except (ImageError, OSError) as err:
                rejected.append({"key": sample.item.key, "reason": str(err)})
                continue
            for writer in writers.values():
                writer.write(record, meta)
            counts[f"{sample.item.style}/{sample.item.obj}"] += 1
            if sample.item.style != SEED_STYLE:
                backends[(meta["provenance"] or {}).get("backend", "unknown")] += 1
        for writer in writers.values():
            writer.close()
    for fmt, writer in writers.items():
        if index is not None and getattr(writer, "rows", None) is not None:
            index[paths[fmt].relative_to(out).as_posix()] = writer.rows
        entries[fmt] = {
            "path": paths[fmt].relative_to(out).as_posix(),
            "split": samples[0].split,
            "samples": sum(counts.values()),
            "bytes": paths[fmt].stat().st_size,
            "sha256": getattr(writer, "sha256", None) or sha256_file(paths[fmt]),
            "counts": dict(sorted(counts.items())),
            "backends": dict(backends),
            "rejected": rejected,
            "fingerprint": fingerprint,
        }
        write_json(_done_path(out, fmt, name), entries[fmt])
    return entries, False


def remove_stale(out: Path, names: set[str], formats: Sequence[str]) -> None:
    """Delete shards (and their done-markers) of an earlier, larger plan or a dropped format."""
    for fmt in FORMATS:
        folder, suffix = SHARD_FILES[fmt]
        for path in (out / folder).glob(f"*{suffix}"):
            if fmt not in formats or path.stem not in names:
                path.unlink()
                _done_path(out, fmt, path.stem).unlink(missing_ok=True)
