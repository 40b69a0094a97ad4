"""WebDataset tars without webdataset's import of torch: the writer, the reader, the card index."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import webdataset as wds

from canvas_data.pack import packed
from canvas_data.pack.manifest import MANIFEST
from canvas_data.pack.packed import SAMPLES_CSV, open_image, read_index, samples_csv
from canvas_data.pack.shard_formats import FIXED_MTIME
from canvas_data.pack.tar_samples import iter_samples
from canvas_data.pack.wds_tar import TarWriter
from canvas_data.taxonomy import Taxonomy

TAXONOMY = Taxonomy(styles=("Style_0", "Style_1", "Style_2"), objects=("Obj_0", "Obj_1"))


def random_samples(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append(
            {
                "__key__": f"Style_{i % 3}/Obj_{i % 2}/{i + 1}",
                "jpg": rng.bytes(int(rng.integers(0, 30000))),
                "style.cls": str(i % 3).encode(),
                "txt": f"caption {i} ü".encode(),
                "json": json.dumps({"i": i}).encode(),
            }
        )
    return out


def test_tars_are_byte_identical_to_webdataset_tarwriter_and_offsets_point_at_the_data():
    records = random_samples(25)
    ref = io.BytesIO()
    writer = wds.TarWriter(ref, encoder=False, mtime=FIXED_MTIME, user="", group="")
    for r in records:
        writer.write(r)
    writer.close()
    ours = io.BytesIO()
    tar = TarWriter(ours, mtime=FIXED_MTIME)
    where = [tar.write(r) for r in records]
    tar.close()
    data = ours.getvalue()
    assert data == ref.getvalue()
    for r, w in zip(records, where, strict=True):
        assert sorted(w) == ["jpg", "json", "style.cls", "txt"]
        for ext, (offset, size) in w.items():
            assert data[offset : offset + size] == r[ext]


def test_writer_refuses_samples_webdataset_would_refuse():
    tar = TarWriter(io.BytesIO(), mtime=0)
    with pytest.raises(ValueError, match="__key__"):
        tar.write({"jpg": b"x"})
    out = io.BytesIO()
    tar = TarWriter(out, mtime=0)
    with pytest.raises(ValueError, match="not bytes"):
        tar.write({"__key__": "a/1", "jpg": b"image", "txt": "text"})
    assert out.getvalue() == b""  # nothing of the refused sample was written


def test_reader_groups_members_as_webdataset_does(tmp_path):
    path = tmp_path / "s.tar"
    with open(path, "wb") as f:
        tar = TarWriter(f, mtime=FIXED_MTIME)
        for r in random_samples(7):
            tar.write(r)
        tar.close()
    ref = [
        {k: v for k, v in s.items() if k not in ("__url__", "__local_path__")}
        for s in wds.WebDataset(str(path), shardshuffle=False, empty_check=False)
    ]
    ours = [{k: v for k, v in s.items() if k != "__url__"} for s in iter_samples(path, TAXONOMY)]
    assert ours == ref and len(ref) == 7


def test_reader_refuses_a_sample_with_a_member_twice(tmp_path):
    path = tmp_path / "twice.tar"
    with open(path, "wb") as f:
        tar = TarWriter(f, mtime=0)
        tar.write({"__key__": "a/1", "jpg": b"1"})
        tar.write({"__key__": "a/1", "jpg": b"2"})
        tar.close()
    with pytest.raises(ValueError, match="jpg"):
        list(iter_samples(path, TAXONOMY))


def test_card_index_comes_from_the_writer_and_matches_a_reread(tmp_path, monkeypatch, tiny_painted):
    work, _ = tiny_painted
    from canvas_data.pipeline import pack_dataset

    def no_rereading(*args, **kwargs):
        raise AssertionError("a shard written in this run was read back")

    with monkeypatch.context() as m:
        m.setattr(packed, "_read_shard", no_rereading)
        pack_dataset(work, tmp_path / "uc", progress=False, max_samples=7)
    out = tmp_path / "uc"
    manifest = json.loads((out / MANIFEST).read_text())
    reread = read_index(out, manifest)
    assert len(reread.rows) == sum(manifest["splits"].values()) > 7 and not reread.problems
    assert (out / SAMPLES_CSV).read_text() == samples_csv(reread)
    for row in reread.rows[:5]:
        assert open_image(out, row).size == (row.width, row.height)


def test_preview_decodes_at_a_reduced_scale_that_still_covers_the_thumbnail(tiny_packed):
    out = tiny_packed
    row = read_index(out, json.loads((out / MANIFEST).read_text())).rows[0]
    full = open_image(out, row)
    for side in (8, 16, 32):
        small = open_image(out, row, min_size=side)
        assert min(small.size) >= side and small.width < full.width


@pytest.mark.parametrize("name", ["demo", "unlearncanvas"])
def test_card_features_are_what_datasets_writes(name):
    from canvas_data.card.metadata import features, features_yaml
    from canvas_data.recipe import load_recipe

    taxonomy = load_recipe(name).taxonomy
    assert features_yaml(taxonomy) == features(taxonomy)._to_yaml_list()


def test_shard_files_table_matches_the_writers():
    from canvas_data.pack.manifest import SHARD_FILES
    from canvas_data.pack.shard_formats import FORMATS, writer_class

    for fmt in FORMATS:
        assert SHARD_FILES[fmt] == (writer_class(fmt).folder, writer_class(fmt).suffix)
