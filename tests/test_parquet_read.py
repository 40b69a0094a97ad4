"""Parquet files read as untrusted input: a few kilobytes that declare a value of hundreds of
megabytes are refused before the value is read, in every reader (import-hub, export, verify),
with the file named, and memory stays far below the declared size."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from peak_memory import HIGH_WATER
from release_data import jpeg, write_release_parquet

from canvas_data.intake.release_import import import_hub_parquet
from canvas_data.limits import MAX_IMAGE_BYTES, MAX_TEXT_BYTES
from canvas_data.parquet_read import ValueTooLarge, iter_rows

HUGE = 160 << 20  # bytes of zeros in one value: zstd packs them into a few kilobytes


def good_row(i: int = 1) -> dict:
    return {
        "image": {"bytes": jpeg(i), "path": f"Monet/Cats/{i}.jpg"},
        "text": "A Cats image in Monet style",
    }


def hostile_rows(kind: str) -> list[dict]:
    """Rows that hold one value over its limit, of several kinds."""
    zeros = bytes(HUGE)
    if kind == "one huge image":
        return [
            {
                "image": {"bytes": zeros, "path": "Monet/Cats/1.jpg"},
                "text": "A Cats image in Monet style",
            }
        ]
    if kind == "huge image among small rows":
        return [good_row(i) for i in range(1, 20)] + [
            {
                "image": {"bytes": zeros, "path": "Monet/Cats/20.jpg"},
                "text": "A Cats image in Monet style",
            }
        ]
    if kind == "huge caption":
        return [
            {
                "image": {"bytes": jpeg(1), "path": "Monet/Cats/1.jpg"},
                "text": "A" * (8 * MAX_TEXT_BYTES),
            }
        ]
    if kind == "huge path":
        return [
            {
                "image": {"bytes": jpeg(1), "path": "x" * (8 * MAX_TEXT_BYTES)},
                "text": "A Cats image in Monet style",
            }
        ]
    raise AssertionError(kind)


KINDS = ["one huge image", "huge image among small rows", "huge caption", "huge path"]


def write_hostile(path, kind):
    write_release_parquet(path, hostile_rows(kind), compression="zstd")
    assert path.stat().st_size < 1 << 20  # a small file


@pytest.mark.parametrize("kind", KINDS)
def test_iter_rows_refuses_values_over_the_limit(tmp_path, kind):
    path = tmp_path / "hub" / "train-00000.parquet"
    write_hostile(path, kind)
    with pytest.raises(ValueTooLarge, match=rf"{path}: .*over the limit"):
        list(iter_rows(path))


@pytest.mark.parametrize("kind", KINDS)
def test_import_hub_rejects_the_file_naming_it(tmp_path, kind):
    path = tmp_path / "hub" / "train-00000.parquet"
    write_hostile(path, kind)
    report = import_hub_parquet(path.parent, tmp_path / "work", progress=False)
    reasons = [" ".join(map(str, r)) for r in report.rejected]
    assert any(str(path) in r and "over the limit" in r for r in reasons), reasons


def test_honest_file_within_the_limits_is_read(tmp_path):
    path = tmp_path / "hub" / "train-00000.parquet"
    write_release_parquet(path, [good_row(i) for i in range(1, 6)], compression="zstd")
    assert len(list(iter_rows(path))) == 5
    assert MAX_IMAGE_BYTES >= 32 << 20


PEAK = (
    HIGH_WATER
    + """
import json, resource, sys
from pathlib import Path
from canvas_data.intake.release_import import import_hub_parquet
report = import_hub_parquet(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
peak = peak_kib() * 1024
print(json.dumps({"placed": report.placed, "peak": peak}))
"""
)


def peak(hub, work) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(hub), str(work)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["one huge image", "huge image among small rows"])
def test_import_hub_memory_is_far_below_the_declared_value(tmp_path, kind):
    honest = tmp_path / "honest" / "train-00000.parquet"
    write_release_parquet(honest, [good_row(1)], compression="zstd")
    hostile = tmp_path / "hostile" / "train-00000.parquet"
    write_hostile(hostile, kind)
    base = peak(honest.parent, tmp_path / "w1")
    found = peak(hostile.parent, tmp_path / "w2")
    assert base["placed"] == 1
    assert found["peak"] - base["peak"] < HUGE / 4, (base, found)


def test_declared_sizes_are_what_the_check_reads(tmp_path):
    """The footer's sizes: what ``check_row_group`` compares, without reading a page."""
    path = tmp_path / "one.parquet"
    write_hostile(path, "one huge image")
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    assert chunk.total_uncompressed_size > HUGE > 1000 * chunk.total_compressed_size
    assert pa.types.is_binary(pq.read_schema(path).field("image").type.field("bytes").type)
