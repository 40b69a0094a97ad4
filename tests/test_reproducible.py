"""The same build in two folders gives the same bytes, and nothing it writes names the folder."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
from conftest import write_recipe
from photo_server import serving
from PIL import Image

from canvas_data.intake.bundled_photos import write_bundled_photos
from canvas_data.intake.photos import intake_photos
from canvas_data.intake.web_sources import fetch_sources
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import stylize_workspace


def _build(root: Path) -> Path:
    """Bundled photos -> sources -> stylize -> shards, all under ``root``; returns the output."""
    recipe = load_recipe(write_recipe(root, photos_per_object=2, styles=["Monet", "Winter"]))
    photos = write_bundled_photos(root / "photos")
    work, out = root / "work", root / "out"
    intake_photos(photos, work, recipe, progress=False)
    stylize_workspace(work, recipe=recipe, workers=1, progress=False)
    pack_dataset(work, out, recipe=recipe, formats=("webdataset", "parquet"), progress=False)
    return out


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every file a push uploads (hidden resume state such as ``.pack/`` is local)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def test_two_folders_build_the_same_bytes_and_leak_no_path(tmp_path):
    first, second = tmp_path / "first" / "deep", tmp_path / "second"
    first.mkdir(parents=True)
    second.mkdir()
    a, b = _build(first), _build(second)
    digests_a, digests_b = _digests(a), _digests(b)
    assert {"manifest.json", "README.md", "samples.csv"} <= set(digests_a)
    assert any(name.endswith(".tar") for name in digests_a)
    assert any(name.endswith(".parquet") for name in digests_a)
    assert digests_a == digests_b
    for out, root in ((a, first), (b, second)):
        for path in sorted(out.rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                for leak in (str(root), str(tmp_path), str(root.resolve())):
                    assert leak.encode() not in data, f"{path} names {leak}"


def test_seed_sidecars_name_the_photo_relative_to_its_folder(tmp_path):
    out = _build(tmp_path)
    with open(out / "samples.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows
    sidecars = sorted((tmp_path / "work" / "Seed_Images").rglob("*.json"))
    assert sidecars
    for sidecar in sidecars:
        text = sidecar.read_text()
        assert str(tmp_path) not in text
        assert '"source_path": "' + sidecar.parent.name + "/" in text


def test_manifest_sidecars_name_no_local_folder(tmp_path, monkeypatch):
    """Photos from a URL manifest: the sidecars name the manifest file, not where it lies."""
    rng = np.random.default_rng(0)
    bodies = {}
    for i in range(2):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
        bodies[f"/{i}.jpg"] = buf.getvalue()

    with serving(bodies, monkeypatch) as base:
        sidecars = []
        for root in (tmp_path / "a", tmp_path / "b" / "c"):
            root.mkdir(parents=True)
            recipe = load_recipe(write_recipe(root, objects=["Cats"], photos_per_object=2))
            manifest = root / "photos.csv"
            lines = ["url,object,licence"] + [f"{base}{p},Cats,CC0" for p in sorted(bodies)]
            manifest.write_text("\n".join(lines) + "\n")
            work = root / "work"
            fetch_sources(manifest, work, recipe, workers=1, progress=False)
            found = sorted((work / "Seed_Images").rglob("*.json"))
            assert len(found) == 2
            sidecars.append([p.read_text() for p in found])
    assert sidecars[0] == sidecars[1]
    assert all(str(tmp_path) not in text for text in sidecars[0])
    assert json.loads(sidecars[0][0])["manifest"] == "photos.csv"


def test_an_older_sidecar_with_an_absolute_path_is_rewritten(tmp_path):
    """A workspace made before paths were relative loses its local path on the next intake."""
    recipe = load_recipe(write_recipe(tmp_path, objects=["Cats"], photos_per_object=2))
    photos = write_bundled_photos(tmp_path / "photos")
    work = tmp_path / "work"
    intake_photos(photos, work, recipe, progress=False)
    sidecar = work / "Seed_Images" / "Cats" / "1.json"
    image = sidecar.with_suffix(".jpg")
    meta = json.loads(sidecar.read_text())
    relative = meta["source_path"]
    meta["source_path"] = str(photos / relative)
    sidecar.write_text(json.dumps(meta))
    before = image.stat().st_mtime_ns
    report = intake_photos(photos, work, recipe, progress=False)
    assert report.unchanged == 2 and report.written == 0
    assert json.loads(sidecar.read_text())["source_path"] == relative
    assert image.stat().st_mtime_ns == before  # the photo itself is kept
