"""``canvas-eval style-transfer generate``: a method run over the benchmark's triplets.

Every triplet (``canvas_data.transfer.triplets``) is painted by the method and written as a JPEG
under the release's name, ``OUT/{Style}/{Object}_test{t}_ref{k}.jpg``, under a temporary name
then renamed: a rerun skips the outputs that exist and decode, so a killed run resumes. Ranks
(``--num-shards``/``--shard-index``, or ``WORLD_SIZE``/``RANK``) take disjoint shares of the
sorted names (``canvas_data.work_share``). ``transfer.json`` records the method and settings; a
rerun with another method or settings into the same folder is refused.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import write_bytes, write_json
from canvas_data.errors import reading
from canvas_data.images.decode import decode_image
from canvas_data.transfer.methods import MethodOptions, get_method
from canvas_data.transfer.triplets import Triplet, index_for, plan_triplets
from canvas_data.work_share import shard_of_work

SETTINGS_FILE = "transfer.json"
SAME_IN_ONE_SET = ("method", "vgg", "decoder", "resolution", "alpha", "seed")


@dataclass
class TransferReport:
    """What a generate run did."""

    planned: int = 0
    written: int = 0
    already_done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.written / self.seconds if self.seconds > 0 else 0.0
        return (
            f"painted {self.written} images ({rate:.2f}/s), {self.already_done} already done, "
            f"{len(self.failed)} failed, of {self.planned} in this share"
        )


def is_done(path: Path) -> bool:
    """An output exists and decodes (a file cut short by a kill is painted again)."""
    if not path.is_file():
        return False
    try:
        decode_image(path.read_bytes(), name=str(path))
    except (OSError, ValueError):
        return False
    return True


def _check_settings(out: Path, record: dict) -> None:
    path = out / SETTINGS_FILE
    if not path.is_file():
        return
    with reading(path, "the settings of a style-transfer run"):
        old = json.loads(path.read_text(encoding="utf-8"))
    differ = [k for k in SAME_IN_ONE_SET if old.get(k) != record.get(k)]
    if differ:
        k = differ[0]
        raise ValueError(
            f"{path}: this folder holds images made with {k}={old.get(k)!r}, not "
            f"{record.get(k)!r}; use another --out"
        )


def generate_transfers(
    data: Path,
    out: Path,
    method: str,
    options: MethodOptions,
    *,
    styles: list[str] | None = None,
    objects: list[str] | None = None,
    batch_size: int = 8,
    seed: int = 0,
    jpeg_quality: int = 95,
    num_shards: int = 1,
    shard_index: int = 0,
    progress: bool = False,
) -> TransferReport:
    """Paint this share of the triplets of ``data`` with ``method`` into ``out``.

    Bad names, a missing split and bad weights fail before any image is painted; an image that
    fails is reported in ``failed`` and the rest go on.
    """
    start = time.perf_counter()
    options.check()
    index = index_for(Path(data))
    triplets = plan_triplets(index, styles, objects)
    if not triplets:
        raise ValueError(f"{data}: no style-transfer triplets for these styles and objects")
    mine: list[Triplet] = shard_of_work(triplets, num_shards, shard_index)
    report = TransferReport(planned=len(mine))
    todo = []
    for t in mine:
        if is_done(out / t.name):
            report.already_done += 1
        else:
            todo.append(t)
    if not todo:
        report.seconds = time.perf_counter() - start
        return report
    runner = get_method(method, options)
    record = {
        **runner.describe(),
        "seed": seed,
        "jpeg_quality": jpeg_quality,
        "data": str(data),
        "toolkit_version": __version__,
    }
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, record)
    if shard_index == 0 or not (out / SETTINGS_FILE).exists():
        write_json(out / SETTINGS_FILE, record)
    bar = tqdm(total=len(todo), unit="img", desc="transfer", disable=not progress)
    for at in range(0, len(todo), batch_size):
        batch = todo[at : at + batch_size]
        try:
            contents = [_read(index, t.content) for t in batch]
            references = [_read(index, t.reference) for t in batch]
            images = runner.transfer(contents, references, [t.seed(seed) for t in batch])
        except (OSError, ValueError, RuntimeError) as err:
            report.failed.extend((t.name, str(err).splitlines()[0]) for t in batch)
            bar.update(len(batch))
            continue
        for t, image in zip(batch, images, strict=True):
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=jpeg_quality)
            write_bytes(out / t.name, buffer.getvalue())
            report.written += 1
        bar.update(len(batch))
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


def _read(index, key: str):
    return decode_image(index.read(key), name=f"{index.root}:{key}")
