"""The manifest's model: its defaults are the readers' defaults; faults are one line."""

from __future__ import annotations

import pytest

from canvas_data.errors import InputError
from canvas_data.pack.manifest_schema import manifest_spec

BARE = {"taxonomy": {}, "splits": {"train": 1}, "shards": [], "counts": {"train": {}}}


def test_left_out_or_null_fields_read_as_the_defaults():
    spec = manifest_spec({**BARE, "backends": None, "parquet": None})
    assert spec.toolkit_version == "unknown"
    assert spec.backends == {} and spec.parquet == [] and spec.missing == []
    assert spec.taxonomy.styles == "release-61"
    assert manifest_spec(spec) is spec


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"splits": None}, "splits: "),
        ({"shards": [{"path": "a.tar", "split": "val", "samples": -1}]}, "shards.0.split"),
        ({"counts": {"train": {"Monet": {"Cats": "3"}}}}, "counts.train.Monet.Cats"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(change, needle):
    with pytest.raises(InputError) as bad:
        manifest_spec({**BARE, **change}, "uc/manifest.json")
    line = str(bad.value)
    assert line.startswith("uc/manifest.json: not a valid packed folder's manifest: ")
    assert needle in line and "\n" not in line
