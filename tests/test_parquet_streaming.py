"""Parquet files are read a few images at a time, whatever their row groups and pages.

Memory checks run each read in a fresh process and report the peak of Python's allocations
(tracemalloc) plus that of Arrow's memory pool, where pyarrow keeps the pages it reads.
"""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from release_data import jpeg, write_release_parquet

from canvas_data.parquet_shards import ParquetShardWriter
from canvas_data.parquet_stream import ParquetStreamError, iter_column_values, streamable
from canvas_data.recipe import load_recipe
from canvas_data.release_import import release_rows
from canvas_data.taxonomy import OBJECTS_20, STYLES_60

IMAGE_ROWS = (60, 240)  # one row group each; 240 images are about 30 MB

IMPORT = """
import json, sys, tracemalloc
from pathlib import Path
import pyarrow as pa
from canvas_data.release_import import import_hub_parquet
tracemalloc.start()
report = import_hub_parquet(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
peak = tracemalloc.get_traced_memory()[1] + pa.default_memory_pool().max_memory()
print(json.dumps({"placed": report.placed, "peak": peak}))
"""

READ = """
import json, sys
from pathlib import Path
import pyarrow as pa
from canvas_data.parquet_shards import iter_rows
rows = sum(1 for _ in iter_rows(Path(sys.argv[1])))
print(json.dumps({"rows": rows, "peak": pa.default_memory_pool().max_memory()}))
"""


def run_alone(script: str, *args) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def images(n: int) -> list[bytes]:
    return [jpeg(i, size=384, noise=True) for i in range(n)]  # ~130 kB each, all distinct


def labelled_rows(n: int) -> list[dict]:
    rows = []
    for i, data in enumerate(images(n)):
        style, obj = STYLES_60[i // 20], OBJECTS_20[i % 20]
        text = f"A {obj} image in {style.replace('_', ' ')} style"
        rows.append({"image": {"bytes": data, "path": f"{style}/{obj}/1.jpg"}, "text": text})
    return rows


@pytest.mark.parametrize(
    "layout",
    [
        {},  # pyarrow's defaults: the row group's images in one dictionary page (streamed here)
        {"compression": "zstd", "write_batch_size": 4},  # small pages, read by pyarrow
    ],
    ids=["one-page-snappy", "small-pages-zstd"],
)
def test_import_hub_memory_does_not_grow_with_the_row_group(tmp_path, layout):
    peaks, sizes = [], []
    for n in IMAGE_ROWS:
        hub = tmp_path / f"hub-{n}"
        write_release_parquet(hub / "train-00000.parquet", labelled_rows(n), **layout)
        sizes.append((hub / "train-00000.parquet").stat().st_size)
        result = run_alone(IMPORT, hub, tmp_path / f"work-{n}")
        assert result["placed"] == n
        peaks.append(result["peak"])
    assert sizes[1] > 4 * sizes[0] * 0.9 and sizes[1] > 25_000_000
    # Holding the row group would take more than the file; streaming holds an 8 MB read buffer
    # and a batch of 16 images at most, whatever the row group (measured: 8-18 MB for both).
    assert peaks[1] < peaks[0] + 2_000_000, peaks
    assert peaks[1] < sizes[1] * 0.75, (peaks, sizes)


def test_streamed_rows_equal_pyarrow_rows(tmp_path):
    rows = labelled_rows(30)
    rows[3]["image"] = None
    rows[4]["image"]["bytes"] = None
    rows[5]["image"]["path"] = None
    rows[6]["text"] = None
    rows[7]["image"]["bytes"] = rows[2]["image"]["bytes"]  # a repeat: a dictionary index back
    path = tmp_path / "train-00000.parquet"
    write_release_parquet(path, rows)
    pf = pq.ParquetFile(path)
    streamed = list(release_rows(path, pf, stream_above=0))
    assert streamed == list(release_rows(path, pf, stream_above=1 << 40)) == rows


def test_parquet_shards_are_written_in_small_pages(tmp_path):
    """One row group of 240 images: a reader holds a page of them at a time, not all."""
    recipe = load_recipe("unlearncanvas")
    path = tmp_path / "train-000000.parquet"
    writer = ParquetShardWriter(path, recipe, row_group_rows=1000, row_group_bytes=1 << 30)
    for i, data in enumerate(images(IMAGE_ROWS[1])):
        key = f"{STYLES_60[i // 20]}/{OBJECTS_20[i % 20]}/1"
        record = {"jpg": data, "style.cls": str(i // 20), "object.cls": str(i % 20)}
        writer.write(record, {"key": key, "caption": key, "idx": 1, "split": "train"})
    writer.close()
    result = run_alone(READ, path)
    assert result["rows"] == IMAGE_ROWS[1]
    assert result["peak"] < path.stat().st_size / 2, (result, path.stat().st_size)


def mixed_table() -> pa.Table:
    """Values of many sizes, some compressible (Snappy copies), nulls at both levels, repeats."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        size = int(rng.choice([0, 5, 3000, 70_000, 200_000]))
        quarter = rng.integers(0, 256, max(1, size // 4), dtype=np.uint8).tobytes()
        value = (quarter * 4)[:size] + b"x" * (i % 5)
        if i % 7 == 3:
            value = None
        image = None if i % 11 == 5 else {"bytes": value, "path": f"p{i}"}
        rows.append({"image": image, "text": f"t{i % 9}"})
    return pa.Table.from_pylist(rows, schema=RELEASE_SCHEMA)


RELEASE_SCHEMA = pa.schema(
    [("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), ("text", pa.string())]
)


@pytest.mark.parametrize(
    "layout",
    [
        {},
        {"write_batch_size": 3},
        {"compression": "NONE"},
        {"use_dictionary": False},
        {"data_page_version": "2.0"},
        {"data_page_version": "2.0", "write_batch_size": 2, "use_dictionary": False},
        {"write_batch_size": 2, "dictionary_pagesize_limit": 10_000_000},
        {"row_group_size": 37},
    ],
    ids=["defaults", "small-pages", "uncompressed", "plain", "v2", "v2-plain-small", "dict", "rg"],
)
def test_streamed_values_equal_pyarrow_in_every_page_layout(tmp_path, layout):
    path = tmp_path / "t.parquet"
    pq.write_table(mixed_table(), path, **layout)
    pf = pq.ParquetFile(path)
    assert pf.num_row_groups == (4 if "row_group_size" in layout else 1)
    for rg in range(pf.num_row_groups):
        table = pf.read_row_group(rg)
        images = [(image or {}).get("bytes") for image in table.column("image").to_pylist()]
        assert list(iter_column_values(path, pf, rg, "image.bytes")) == images
        texts = [t.encode() for t in table.column("text").to_pylist()]
        assert list(iter_column_values(path, pf, rg, "text")) == texts


def test_other_codecs_are_left_to_pyarrow_and_damage_is_named(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(mixed_table(), path, compression="zstd")
    assert not streamable(pq.ParquetFile(path), 0, "image.bytes")
    pq.write_table(mixed_table(), path, use_dictionary=False)
    pf = pq.ParquetFile(path)
    data = bytearray(path.read_bytes())
    start = pf.metadata.row_group(0).column(0).data_page_offset
    data[start : start + 40] = b"\xff" * 40  # the first page header
    path.write_bytes(bytes(data))
    with pytest.raises(ParquetStreamError, match=str(path)):
        list(iter_column_values(path, pf, 0, "image.bytes"))
