"""Importing the Hub release's Parquet files (only ``image`` and ``text``) into a workspace."""

import json

import pyarrow.parquet as pq
from click.testing import CliRunner
from release_data import jpeg, release_recipe, tar_samples, write_release_parquet

from canvas_data.cli.build import main
from canvas_data.intake.release_import import import_hub_parquet
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.taxonomy import STYLES_61


def row(text, data, path=None):
    return {"image": {"bytes": data, "path": path}, "text": text}


def release_parquet(folder):
    """Two files with every caption variant, paths and no paths, and rows that cannot be placed."""
    first = [
        row("A Cats image in Van Gogh style", jpeg(1), "Van_Gogh/Cats/2.jpg"),
        row("A Cats image in Van_Gogh style.", jpeg(2), "Van_Gogh/Cats/1.jpg"),
        row("An Architectures image in Monet style", jpeg(3), "Monet/Architectures/1.jpg"),
        row("A Cats image in photo style", jpeg(4), "Seed_Images/Cats/1.jpg"),
        row("A Cats image in Photo style.", jpeg(5), "2.jpg"),
        row("a cats image in monet style", jpeg(6), None),  # no path: held aside
        row("A Cats image in Monet style", jpeg(7, fmt="PNG"), None),  # PNG: re-encoded
        row("A Cats image in Glitter style", jpeg(8), None),  # unknown style
        row("A Cats image in Monet style", b"\x00" * 50, None),  # not an image
        row("A Cats image in Monet style", jpeg(9), "Winter/Dogs/3.jpg"),  # path contradicts
        row("A Cats image in Van Gogh style", jpeg(10), "Van_Gogh/Cats/2.jpg"),  # duplicate
        row(None, jpeg(11), None),  # no caption
    ]
    second = [
        row("A Cats image in Monet style", jpeg(12), "Monet/Cats/1.jpg"),  # path: idx 1
        row("A Cats image in Monet style", jpeg(13), None),  # no path: held aside
    ]
    write_release_parquet(folder / "data" / "train-00000-of-00002.parquet", first)
    write_release_parquet(folder / "data" / "train-00001-of-00002.parquet", second)
    return folder


def test_import_places_rows_by_caption_and_path_and_reports_the_rest(tmp_path):
    hub = release_parquet(tmp_path / "hub")
    work = tmp_path / "work"
    result = CliRunner().invoke(
        main, ["import-hub", str(hub), "--work", str(work), "--no-progress"]
    )
    assert result.exit_code == 1, result.output  # rows without a path are not guessed
    assert "imported 6 of 14 rows from 2 Parquet files" in result.stdout
    assert "3 without a path held aside, 1 re-encoded as JPEG, 5 rejected" in result.stdout
    assert "Error: 3 rows have no file path" in result.stderr
    err = result.stderr.splitlines()
    first = "data/train-00000-of-00002.parquet"
    assert (
        f"{first} row 7: unknown style 'Glitter' in caption 'A Cats image in Glitter style'" in err
    )
    assert f"{first} row 8: not an image (cannot identify image file)" in err
    assert any(line.startswith(f"{first} row 9: path 'Winter/Dogs/3.jpg' says") for line in err)
    assert f"{first} row 10: Van_Gogh/Cats/2.jpg is already taken by {first} row 0" in err
    assert f"{first} row 11: no caption" in err

    assert (work / "Van_Gogh/Cats/2.jpg").read_bytes() == jpeg(1)  # bytes as they are
    assert (work / "Van_Gogh/Cats/1.jpg").read_bytes() == jpeg(2)
    assert (work / "Monet/Architectures/1.jpg").read_bytes() == jpeg(3)
    assert (work / "Seed_Images/Cats/1.jpg").read_bytes() == jpeg(4)
    assert (work / "Seed_Images/Cats/2.jpg").read_bytes() == jpeg(5)
    # Monet/Cats: idx 1 from a path; the rows without one are held aside, not numbered by order
    assert (work / "Monet/Cats/1.jpg").read_bytes() == jpeg(12)
    assert sorted(p.name for p in (work / "Monet/Cats").glob("*.jpg")) == ["1.jpg"]
    held = sorted((work / ".import" / "pending" / "Monet" / "Cats").glob("*.jpg"))
    assert len(held) == 3 and held[1].read_bytes()[:2] == b"\xff\xd8"  # the PNG, as JPEG
    side = json.loads((work / "Van_Gogh/Cats/2.json").read_text())
    assert side["file"] == first and side["row"] == 0 and side["format"] == "JPEG"
    assert side["idx_from"] == "path" and side["backend"] == "release"
    report = json.loads((work / "reports" / "import-hub.json").read_text())
    assert len(report["rejected"]) == 5 and report["placed"] == 6
    assert report["held_without_path"] == 3


def test_rerun_skips_done_files_and_changes_nothing(tmp_path):
    hub = release_parquet(tmp_path / "hub")
    work = tmp_path / "work"
    first = import_hub_parquet(hub, work, progress=False)
    files = {p: p.read_bytes() for p in work.rglob("*") if p.is_file() and "reports" not in p.parts}
    again = import_hub_parquet(hub, work, progress=False)
    assert again.files_reused == 2 and (again.placed, again.held) == (6, 3)
    assert again.rejected == first.rejected
    assert {p: p.read_bytes() for p in files} == files
    assert len(list((work / ".import" / "pending").rglob("*.jpg"))) == 3


def test_imported_workspace_packs_with_labels_from_the_captions(tmp_path):
    hub = tmp_path / "hub"
    rows = [
        row(f"A {obj} image in {style} style", jpeg(i * 10 + idx), f"{folder}/{obj}/{idx}.jpg")
        for i, (style, folder) in enumerate([("photo", "Seed_Images"), ("Van Gogh", "Van_Gogh")])
        for obj in ("Cats", "Human")
        for idx in (1, 2, 3)
    ]
    write_release_parquet(hub / "train-00000.parquet", rows)
    work = tmp_path / "work"
    assert import_hub_parquet(hub, work, progress=False).placed == 12
    recipe = load_recipe(release_recipe(tmp_path, styles=("Van_Gogh",)))
    report = pack_dataset(work, tmp_path / "out", recipe=recipe, progress=False)
    assert report.samples == {"train": 8, "test": 4} and report.missing == []
    samples = tar_samples(tmp_path / "out")
    sample = samples["Van_Gogh/Human/3"]
    assert STYLES_61[int(sample["style.cls"])] == "Van_Gogh"
    assert sample["txt"] == b"A Human image in Van Gogh style"
    assert sample["jpg"] == jpeg(10 + 3)
    meta = json.loads(sample["json"])
    assert meta["split"] == "test" and meta["provenance"]["file"] == "train-00000.parquet"


def test_damaged_files_are_reported_and_the_rest_is_imported(tmp_path):
    hub = tmp_path / "hub"
    good = [row("A Cats image in Monet style", jpeg(i), f"Monet/Cats/{i}.jpg") for i in (1, 2)]
    write_release_parquet(hub / "a-good.parquet", good)
    (hub / "b-not-parquet.parquet").write_bytes(b"PAR1 but not really")
    damaged = [row("A Human image in Monet style", jpeg(i), f"Monet/Human/{i}.jpg") for i in (1, 2)]
    write_release_parquet(hub / "c-damaged.parquet", damaged, use_dictionary=False)
    data = bytearray((hub / "c-damaged.parquet").read_bytes())
    start = pq.ParquetFile(hub / "c-damaged.parquet").metadata.row_group(0).column(0)
    data[start.data_page_offset : start.data_page_offset + 30] = b"\xff" * 30
    (hub / "c-damaged.parquet").write_bytes(bytes(data))
    report = import_hub_parquet(hub, tmp_path / "work", progress=False)
    assert report.placed == 2
    where = dict(report.rejected)
    assert "not a readable Parquet file" in where["b-not-parquet.parquet"]
    assert "damaged" in where["c-damaged.parquet row 0"]
    assert str(hub / "c-damaged.parquet") in where["c-damaged.parquet row 0"]
    assert (tmp_path / "work" / "Monet" / "Cats" / "2.jpg").read_bytes() == jpeg(2)
    write_release_parquet(hub / "c-damaged.parquet", damaged)  # replaced by a good copy
    again = import_hub_parquet(hub, tmp_path / "work", progress=False)
    assert again.files_reused == 1 and again.placed == 4
    assert [w for w, _ in again.rejected] == ["b-not-parquet.parquet"]
