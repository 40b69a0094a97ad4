"""Release Parquet files whose columns have other types are rejected naming the file and the
column (never a failure deep in caption parsing), and an import that placed nothing exits
non-zero."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from release_data import jpeg, write_release_parquet

from canvas_data.cli.build import main
from canvas_data.intake.release_import import import_hub_parquet

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
