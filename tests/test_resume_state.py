"""A damaged resume-state file (``OUT/.pack/``, ``WORK/.import/``) is set aside, named in one
line, and the step it stood for done again: it never blocks a rerun."""

from __future__ import annotations

import pytest
from conftest import painted_workspace
from release_data import jpeg, write_release_parquet

from canvas_data.intake.release_import import import_hub_parquet
from canvas_data.pipeline import pack_dataset

DAMAGE = {
    "empty": b"",
    "cut short": b'{"fingerprint": "ab',
    "not an object": b"[1, 2]",
    "not UTF-8": b"\xff\xfe{}",
    "nested deep": b"[" * 100_000 + b"]" * 100_000,
    "wrong types": b'{"rows": "many", "placed": [], "rejected": 3, "pending": null}',
}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return painted_workspace(tmp_path_factory.mktemp("state"))


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_shard_marker_is_set_aside_and_the_shard_rewritten(work, tmp_path, kind, capsys):
    work_dir, recipe = work
    out = tmp_path / "uc"
    pack_dataset(work_dir, out, recipe=recipe, progress=False)
    marker = sorted((out / ".pack").glob("*.json"))[0]
    marker.write_bytes(DAMAGE[kind])
    report = pack_dataset(work_dir, out, recipe=recipe, progress=False)
    assert report is not None
    assert marker.with_name(marker.name + ".damaged").is_file()
    err = capsys.readouterr().err
    assert f"{marker}: damaged" in err and "set aside" in err
    from canvas_data.pack.verify import verify_shards

    assert verify_shards(out, progress=False).ok


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_import_marker_is_set_aside_and_the_file_read_again(tmp_path, kind, capsys):
    hub = tmp_path / "hub" / "train-00000.parquet"
    rows = [
        {"image": {"bytes": jpeg(i), "path": f"Monet/Cats/{i}.jpg"},
         "text": "A Cats image in Monet style"}
        for i in (1, 2)
    ]  # fmt: skip
    write_release_parquet(hub, rows)
    first = import_hub_parquet(hub.parent, tmp_path / "work", progress=False)
    assert first.placed == 2
    marker = next((tmp_path / "work" / ".import" / "files").glob("*.json"))
    marker.write_bytes(DAMAGE[kind])
    again = import_hub_parquet(hub.parent, tmp_path / "work", progress=False)
    assert again.placed == 2 and again.files_reused == 0
    assert "damaged" in capsys.readouterr().err
    assert marker.is_file()  # written again, whole
