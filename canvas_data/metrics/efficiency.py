"""The efficiency columns of the benchmark's table, from ``canvas-eval profile`` and ``storage``.

Per method: **time** is the mean ``wall_s`` of its profile records (one unlearning run each),
**GPU memory** and **RSS** the highest peak among them, **storage** and **diff** the mean
``unlearned_bytes`` and ``diff_bytes`` of its storage records. A record belongs to the method
named with ``--efficiency METHOD=FILE``, else to its ``method`` field, else to the name of the
folder it is in (as accuracy results do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from canvas_data.metrics.profile import PROFILE_KIND
from canvas_data.metrics.storage import STORAGE_KIND

KINDS = (PROFILE_KIND, STORAGE_KIND)
# (row key, Markdown header, CSV field)
COLUMNS = (
    ("time_s", "time (s)", "time_s"),
    ("peak_gpu_bytes", "GPU mem (GiB)", "peak_gpu_GiB"),
    ("peak_rss_bytes", "RSS (GiB)", "peak_rss_GiB"),
    ("storage_bytes", "storage (MiB)", "storage_MiB"),
    ("diff_bytes", "diff (MiB)", "diff_MiB"),
)
_SCALE = {"time_s": 1, "peak_gpu_bytes": 2**30, "peak_rss_bytes": 2**30,
          "storage_bytes": 2**20, "diff_bytes": 2**20}  # fmt: skip


def parse_assignment(text: str) -> tuple[str, Path]:
    """``METHOD=FILE`` -> ``(METHOD, Path(FILE))``; ``ValueError`` otherwise."""
    method, sep, file = text.partition("=")
    if not sep or not method.strip() or not file:
        raise ValueError(f"--efficiency {text}: give METHOD=FILE (a profile or storage JSON)")
    return method.strip(), Path(file)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One method's efficiency cells from its profile and storage records (see the docstring)."""
    records = list(records)
    profiles = [r for r in records if r.get("kind") == PROFILE_KIND]
    storages = [r for r in records if r.get("kind") == STORAGE_KIND]
    gpu = [r["peak_gpu_bytes"] for r in profiles if r.get("peak_gpu_bytes") is not None]
    rss = [r["peak_rss_bytes"] for r in profiles if r.get("peak_rss_bytes") is not None]
    return {
        "time_s": _mean([r["wall_s"] for r in profiles]),
        "peak_gpu_bytes": max(gpu) if gpu else None,
        "peak_rss_bytes": max(rss) if rss else None,
        "storage_bytes": _mean([r["unlearned_bytes"] for r in storages]),
        "diff_bytes": _mean([r["diff_bytes"] for r in storages]),
        "profile_results": len(profiles),
        "storage_results": len(storages),
    }


def check(path: Path, record: Any) -> None:
    """``ValueError`` naming ``path`` when a profile or storage record lacks its numbers."""
    need = {PROFILE_KIND: ("wall_s",), STORAGE_KIND: ("unlearned_bytes", "diff_bytes")}
    optional = {PROFILE_KIND: ("peak_gpu_bytes", "peak_rss_bytes"), STORAGE_KIND: ()}
    for key in need[record["kind"]]:
        if not _number(record.get(key)):
            raise ValueError(f"{path}: {record['kind']} result without a number {key}")
    for key in optional[record["kind"]]:
        if record.get(key) is not None and not _number(record[key]):
            raise ValueError(f"{path}: {key} is neither a number nor null")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def present(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The efficiency columns any row has a value for (the table shows only those)."""
    return [c for c in COLUMNS if any(r.get(c[0]) is not None for r in rows)]


def cell(row: dict[str, Any], key: str) -> str:
    """A Markdown cell: seconds with 1 decimal, GiB with 2, MiB with 1; ``—`` when unmeasured.

    A value above zero that would round to zero is shown as ``<0.1`` (``<0.01``), so a method
    that stores 16 bytes does not read as one that stores nothing.
    """
    value = row.get(key)
    if value is None:
        return "—"
    digits = {"time_s": 1, "storage_bytes": 1, "diff_bytes": 1}.get(key, 2)
    shown = f"{value / _SCALE[key]:.{digits}f}"
    if value > 0 and float(shown) == 0:
        return f"<{10**-digits:.{digits}f}"
    return shown


def human_bytes(n: int) -> str:
    """``n`` bytes in the largest binary unit that keeps it at 1 or more: ``16 B``, ``1.5 KiB``,
    ``1.0 MiB``, ``2.30 GiB``."""
    if n < 2**10:
        return f"{n} B"
    if n < 2**20:
        return f"{n / 2**10:.1f} KiB"
    if n < 2**30:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**30:.2f} GiB"


def csv_value(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    return "" if value is None else value / _SCALE[key]
