"""Memory of ``import-hub`` and of reading Parquet shards: bounded by a row group, not a file.

Memory checks run each read in a fresh process and report the peak of Python's allocations
(tracemalloc) plus that of Arrow's memory pool, where pyarrow keeps the pages it reads.
"""

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from release_data import jpeg, write_release_parquet

from canvas_data.cli.build import main
from canvas_data.intake.release_import import import_hub_parquet
from canvas_data.intake.release_rows import release_rows
from canvas_data.pack.parquet import ParquetShardWriter
from canvas_data.parquet_read import open_parquet
from canvas_data.recipe import load_recipe
from canvas_data.taxonomy import OBJECTS_20, STYLES_60

IMAGES = 240  # about 30 MB of distinct JPEGs

IMPORT = """
import json, sys, tracemalloc
from pathlib import Path
import pyarrow as pa
from canvas_data.intake.release_import import import_hub_parquet
tracemalloc.start()
report = import_hub_parquet(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
peak = tracemalloc.get_traced_memory()[1] + pa.default_memory_pool().max_memory()
print(json.dumps({"placed": report.placed, "peak": peak}))
"""

READ = """
import json, sys
from pathlib import Path
import pyarrow as pa
from canvas_data.parquet_read import iter_rows
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


def test_import_hub_memory_follows_the_row_group_not_the_file(tmp_path):
    """The same 240 images in one row group, then in eight: the peak falls with the row group,
    so a file is never held whole (only its largest row group)."""
    rows = labelled_rows(IMAGES)
    peaks = {}
    for groups in (1, 8):
        hub = tmp_path / f"hub-{groups}"
        write_release_parquet(hub / "train-00000.parquet", rows, row_group_size=IMAGES // groups)
        assert pq.ParquetFile(hub / "train-00000.parquet").num_row_groups == groups
        result = run_alone(IMPORT, hub, tmp_path / f"work-{groups}")
        assert result["placed"] == IMAGES
        peaks[groups] = result["peak"]
    size = (tmp_path / "hub-1" / "train-00000.parquet").stat().st_size
    assert size > 25_000_000
    # Measured: 83 MB for one row group of 32 MB (pyarrow holds the compressed and the
    # decompressed page, and a batch in Python), 23 MB for eight of 4 MB.
    assert peaks[8] < peaks[1] / 3, peaks  # a row group at a time
    assert peaks[8] < size, (peaks, size)


def test_release_rows_keep_nulls_and_repeats(tmp_path):
    rows = labelled_rows(30)
    rows[3]["image"] = None
    rows[4]["image"]["bytes"] = None
    rows[5]["image"]["path"] = None
    rows[6]["text"] = None
    rows[7]["image"]["bytes"] = rows[2]["image"]["bytes"]  # a repeat: a dictionary index back
    path = tmp_path / "train-00000.parquet"
    write_release_parquet(path, rows, row_group_size=7)
    pf = open_parquet(path)
    assert pf.num_row_groups == 5
    assert list(release_rows(pf)) == rows


def test_parquet_shards_are_written_in_small_pages(tmp_path):
    """One row group of 240 images: a reader holds a page of them at a time, not all."""
    recipe = load_recipe("unlearncanvas")
    path = tmp_path / "train-000000.parquet"
    writer = ParquetShardWriter(path, recipe, row_group_rows=1000, row_group_bytes=1 << 30)
    for i, data in enumerate(images(IMAGES)):
        key = f"{STYLES_60[i // 20]}/{OBJECTS_20[i % 20]}/1"
        record = {"jpg": data, "style.cls": str(i // 20), "object.cls": str(i % 20)}
        writer.write(record, {"key": key, "caption": key, "idx": 1, "split": "train"})
    writer.close()
    result = run_alone(READ, path)
    assert result["rows"] == IMAGES
    assert result["peak"] < path.stat().st_size / 2, (result, path.stat().st_size)


# --- columns of another type, and an import that placed nothing ---


IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def image(i=1):
    return {"bytes": jpeg(i), "path": f"Monet/Cats/{i}.jpg"}


TABLES = {
    "text as int64": lambda: pa.table(
        {"image": pa.array([image()], IMAGE), "text": pa.array([42], pa.int64())}
    ),
    "text as a struct": lambda: pa.table(
        {
            "image": pa.array([image()], IMAGE),
            "text": pa.array([{"a": "A Cats image in Monet style"}]),
        }
    ),
    "image as int64": lambda: pa.table(
        {"image": pa.array([7], pa.int64()), "text": ["A Cats image in Monet style"]}
    ),
    "image bytes as text": lambda: pa.table(
        {
            "image": pa.array(
                [{"bytes": "not bytes", "path": "a/b/1.jpg"}],
                pa.struct([("bytes", pa.string()), ("path", pa.string())]),
            ),
            "text": ["A Cats image in Monet style"],
        }
    ),
    "path as int": lambda: pa.table(
        {
            "image": pa.array(
                [{"bytes": jpeg(1), "path": 3}],
                pa.struct([("bytes", pa.binary()), ("path", pa.int32())]),
            ),
            "text": ["A Cats image in Monet style"],
        }
    ),
}


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_columns_of_another_type_reject_the_file_naming_the_column(tmp_path, kind):
    path = tmp_path / "hub" / "train-00000.parquet"
    path.parent.mkdir()
    pq.write_table(TABLES[kind](), path)
    report = import_hub_parquet(path.parent, tmp_path / "work", progress=False)
    assert report.placed == 0
    [(where, reason)] = report.rejected
    assert where == "train-00000.parquet"
    assert "column 'image" in reason or "column 'text'" in reason
    run = CliRunner().invoke(
        main, ["import-hub", str(path.parent), "--work", str(tmp_path / "w2"), "--no-progress"]
    )
    assert run.exit_code == 1, run.output
    assert "train-00000.parquet" in run.output and "nothing imported" in run.output


def test_an_import_with_some_rows_placed_exits_zero(tmp_path):
    path = tmp_path / "hub" / "train-00000.parquet"
    rows = [{"image": image(1), "text": "A Cats image in Monet style"},
            {"image": image(2), "text": "no caption at all"}]  # fmt: skip
    write_release_parquet(path, rows)
    run = CliRunner().invoke(
        main, ["import-hub", str(path.parent), "--work", str(tmp_path / "w"), "--no-progress"]
    )
    assert run.exit_code == 0, run.output
