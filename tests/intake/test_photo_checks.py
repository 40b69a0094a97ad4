"""Photos that Pillow can decode only in part are refused at intake, with the file and reason."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import write_recipe
from photo_server import serving
from PIL import Image, ImageFile

from canvas_data.images.normalize import PhotoError
from canvas_data.intake.photo_checks import decode_photo, load_photo
from canvas_data.intake.photos import intake_photos
from canvas_data.intake.web_sources import fetch_sources
from canvas_data.recipe import load_recipe
from canvas_data.workspace import seed_photo_path, sidecar_path

MIN_SIDE = 32


def _noise(width: int = 320, height: int = 240, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _cut_with_end_marker(data: bytes, keep: float = 0.5) -> bytes:
    """The first part of a JPEG, then an end-of-image marker: looks whole, holds half."""
    return data[: int(len(data) * keep)] + b"\xff\xd9"


def _declared_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0 or SOF2) is rewritten to declare ``width`` x ``height``."""
    out = bytearray(data)
    at = max(out.find(b"\xff\xc0"), out.find(b"\xff\xc2"))
    out[at + 5 : at + 7] = height.to_bytes(2, "big")
    out[at + 7 : at + 9] = width.to_bytes(2, "big")
    return bytes(out)


HOSTILE = {
    "baseline cut, end marker appended": _cut_with_end_marker(_save(_noise(), "JPEG", quality=90)),
    "baseline cut at 90%, end marker": _cut_with_end_marker(_save(_noise(), "JPEG"), keep=0.9),
    "progressive cut, end marker": _cut_with_end_marker(
        _save(_noise(), "JPEG", progressive=True, quality=90)
    ),
    "grey cut, end marker": _cut_with_end_marker(_save(_noise().convert("L"), "JPEG")),
    "cmyk cut, end marker": _cut_with_end_marker(_save(_noise().convert("CMYK"), "JPEG")),
    "9000x9000 in a few bytes": _declared_size(_save(_noise(16, 16), "JPEG"), 9000, 9000),
    "640x480 in a 16x16 file": _declared_size(_save(_noise(16, 16), "JPEG"), 640, 480),
    "png cut, IEND appended": (lambda p: p[: len(p) // 2] + p[-12:])(_save(_noise(), "PNG")),
}  # fmt: skip


@pytest.mark.parametrize("name", list(HOSTILE))
def test_partly_decodable_photos_are_refused(tmp_path, name):
    path = tmp_path / "photo.jpg"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(PhotoError) as err:
        load_photo(path, min_side=MIN_SIDE)
    reason = err.value.reason
    assert any(w in reason for w in ("truncated", "declares", "corrupt")), reason
    assert "\n" not in reason
    with pytest.raises(PhotoError):  # the same bytes from a download (URL manifests)
        decode_photo(HOSTILE[name], min_side=MIN_SIDE)


def test_a_forged_size_is_refused_before_decoding_and_says_so():
    data = HOSTILE["9000x9000 in a few bytes"]
    with pytest.raises(PhotoError, match=rf"declares 9000x9000 but holds {len(data):,} bytes"):
        decode_photo(data, min_side=MIN_SIDE)


def test_refused_even_when_pillow_is_told_to_load_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for name in ("baseline cut, end marker appended", "png cut, IEND appended"):
        with pytest.raises(PhotoError):
            decode_photo(HOSTILE[name], min_side=MIN_SIDE)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored


@pytest.mark.parametrize(
    "kw", [{}, {"progressive": True}, {"quality": 20}, {"subsampling": 0}, {"optimize": True}]
)
def test_whole_jpegs_still_pass(kw):
    for img in (_noise(), _noise().convert("L"), Image.new("RGB", (600, 400), "red")):
        photo = decode_photo(_save(img, "JPEG", **kw), min_side=MIN_SIDE)
        assert photo.image.size == img.size
    flat = Image.new("RGB", (4000, 3000), (30, 60, 90))  # a flat image compresses very far
    assert decode_photo(_save(flat, "JPEG", quality=50), min_side=MIN_SIDE).width == 4000


def test_intake_skips_them_by_name_and_keeps_the_good_ones(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, objects=["Cats"], photos_per_object=2))
    cats = tmp_path / "photos" / "Cats"
    cats.mkdir(parents=True)
    (cats / "1.jpg").write_bytes(HOSTILE["baseline cut, end marker appended"])
    (cats / "2.jpg").write_bytes(HOSTILE["9000x9000 in a few bytes"])
    (cats / "3.jpg").write_bytes(_save(_noise(seed=3), "JPEG"))
    (cats / "4.jpg").write_bytes(_save(_noise(seed=4), "JPEG"))
    work = tmp_path / "work"
    report = intake_photos(tmp_path / "photos", work, recipe, progress=False)
    rejected = {k.rsplit("/", 1)[-1]: v for k, v in report.rejected.items()}
    assert set(rejected) == {"1.jpg", "2.jpg"}
    assert rejected["1.jpg"].startswith("truncated image data (libjpeg: Corrupt JPEG data")
    assert rejected["2.jpg"].startswith("declares 9000x9000")
    assert report.accepted == {"Cats": 2}
    sidecar = json.loads(sidecar_path(seed_photo_path(work, "Cats", 1)).read_text())
    assert sidecar["source_path"].endswith("3.jpg")


def test_a_manifest_row_with_a_partly_decodable_photo_names_its_url(tmp_path, monkeypatch):
    """The URL-manifest path decodes downloads the same way: the row fails with the reason."""
    bodies = {
        "/cut.jpg": HOSTILE["baseline cut, end marker appended"],
        "/forged.jpg": HOSTILE["9000x9000 in a few bytes"],
        "/good.jpg": _save(_noise(seed=5), "JPEG"),
    }

    with serving(bodies, monkeypatch) as base:
        manifest = tmp_path / "photos.csv"
        manifest.write_text(
            "url,object,licence\n" + "".join(f"{base}{p},Cats,CC0\n" for p in sorted(bodies))
        )
        recipe = load_recipe(write_recipe(tmp_path, objects=["Cats"], photos_per_object=3))
        report = fetch_sources(manifest, tmp_path / "work", recipe, workers=1, progress=False)
    failed = {issue.url.rsplit("/", 1)[-1]: issue.line() for issue in report.failed}
    assert set(failed) == {"cut.jpg", "forged.jpg"}
    assert f"{base}/cut.jpg: truncated image data" in failed["cut.jpg"]
    assert f"{base}/forged.jpg: declares 9000x9000" in failed["forged.jpg"]
    assert report.accepted == {"Cats": 1}
