"""Photo intake: bad photos are skipped with a reason, good ones of any mode land as seed photos."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_OBJECTS, error_line, write_recipe
from PIL import Image, ImageFile

from canvas_data.cli.build import main
from canvas_data.images.normalize import PhotoError, square_box, square_resize
from canvas_data.intake.bundled_photos import BUNDLED, bundled_credits, write_bundled_photos
from canvas_data.intake.photo_checks import load_photo
from canvas_data.intake.photos import intake_photos
from canvas_data.recipe import RECIPE_FILE, load_recipe
from canvas_data.workspace import seed_photo_path, sidecar_path

RES = 64
MIN_SIDE = 32
DEMO_OBJECTS = ("Architectures", "Cats", "Flowers", "Human", "Towers")


# ---------------------------------------------------------------- photo makers


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    data = _save(Image.fromarray(noise), "JPEG")
    return data[: len(data) // 2]


def fake_png(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds a few bytes of pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def cmyk_red() -> bytes:
    return _save(Image.new("CMYK", (80, 60), (0, 255, 255, 0)), "JPEG", quality=95)


def grey() -> bytes:
    return _save(Image.new("L", (60, 60), 100), "PNG")


def rgba_half_transparent() -> bytes:
    img = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    img.paste((0, 160, 0, 255), (0, 0, 30, 60))
    return _save(img, "PNG")


def palette_blue() -> bytes:
    return _save(Image.new("RGB", (60, 60), (0, 0, 255)).convert("P"), "GIF")


def grey16_mid() -> bytes:
    img = Image.fromarray(np.full((60, 60), 32768, dtype=np.uint16))
    assert img.mode == "I;16"
    return _save(img, "PNG")


def exif_rotated(orientation: int = 6) -> bytes:
    """Stored pixels: top half red, bottom half blue; the tag says how to turn them upright."""
    img = Image.new("RGB", (80, 48), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 80, 24))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(img, "JPEG", quality=95, exif=exif)


def plain(seed: int) -> bytes:
    colour = tuple(int(v) for v in np.random.default_rng(seed).integers(0, 256, 3))
    return _save(Image.new("RGB", (70, 50), colour), "JPEG")


BAD = {
    "01_truncated.jpg": (truncated_jpeg, "truncated image data"),
    "02_empty.jpg": (lambda: b"", "empty file"),
    "03_text.jpg": (lambda: b"hello, not a photo\n", "not an image (cannot identify image file)"),
    "04_bomb.png": (lambda: fake_png(30000, 30000), "decompression bomb"),
    "05_bomb_just_over.png": (
        lambda: fake_png(12000, 12000),
        "decompression bomb: 12000x12000 pixels exceeds the 89,478,485 limit",
    ),
    "06_too_small.png": (
        lambda: _save(Image.new("RGB", (40, 20)), "PNG"),
        "too small: 40x20, the short side must be at least 32 px",
    ),
}
GOOD = {
    "07_cmyk.jpg": cmyk_red,
    "08_grey.png": grey,
    "09_rgba.png": rgba_half_transparent,
    "10_palette.gif": palette_blue,
    "11_grey16.png": grey16_mid,
    "12_exif_rotated.jpg": exif_rotated,
}


def make_recipe(tmp_path: Path, n: int) -> Path:
    path = tmp_path / f"recipe-{n}.yaml"
    path.write_text(
        f"extends: demo\nbuild: {{resolution: {RES}, min_photo_side: {MIN_SIDE}, "
        f"photos_per_object: {n}}}\n"
    )
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Cats: bad and good photos; 'flowers' (case differs): one photo; Dogs: not in the build;
    Kittens: not in the taxonomy; plus hidden files that must be ignored."""
    root = tmp_path / "photos"
    cats = root / "Cats"
    cats.mkdir(parents=True)
    for name, (make, _) in BAD.items():
        (cats / name).write_bytes(make())
    for name, make in GOOD.items():
        (cats / name).write_bytes(make())
    (cats / ".DS_Store").write_bytes(b"junk")
    (root / "flowers").mkdir()
    (root / "flowers" / "rose.jpg").write_bytes(plain(1))
    (root / "Dogs").mkdir()
    (root / "Dogs" / "rex.jpg").write_bytes(plain(2))
    (root / "Kittens").mkdir()
    (root / "Kittens" / "tom.jpg").write_bytes(plain(3))
    (root / ".hidden").mkdir()
    return root


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under ``root``: its sha256 (files) and mtime. ``.locks/`` is left
    out: a run takes a lock there and removes its file when done, so only the folder's mtime moves.
    """
    out = {}
    for p in sorted(root.rglob("*")):
        if p.relative_to(root).parts[0] == ".locks":
            continue
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(root))] = (digest, p.stat().st_mtime_ns)
    return out


def pixel(path: Path, x: int, y: int) -> tuple[int, int, int]:
    with Image.open(path) as im:
        return im.convert("RGB").getpixel((x, y))


def close(a, b, tol: int = 12) -> bool:
    return all(abs(int(u) - int(v)) <= tol for u, v in zip(a, b, strict=True))


# ---------------------------------------------------------------- load_photo


@pytest.mark.parametrize("name", list(BAD))
def test_bad_photo_raises_with_reason(tmp_path: Path, name: str) -> None:
    make, reason = BAD[name]
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(PhotoError) as info:
        load_photo(path, min_side=MIN_SIDE)
    assert reason in info.value.reason
    assert "\n" not in info.value.reason


def test_bomb_checked_against_max_pixels_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_save(Image.new("RGB", (300, 300)), "PNG"))
    with pytest.raises(PhotoError, match=r"decompression bomb: 300x300 pixels exceeds the 50,000"):
        load_photo(path, min_side=1, max_pixels=50_000)
    assert load_photo(path, min_side=1, max_pixels=90_000).size == (300, 300)


def test_truncated_images_are_not_padded() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (cmyk_red, (255, 0, 0)),
        (grey, (100, 100, 100)),
        (palette_blue, (0, 0, 255)),
        (grey16_mid, (128, 128, 128)),
    ],
)
def test_modes_convert_to_rgb(tmp_path: Path, make, expected) -> None:
    path = tmp_path / "photo"
    path.write_bytes(make())
    img = load_photo(path, min_side=1)
    assert img.mode == "RGB"
    assert close(img.getpixel((5, 5)), expected, tol=3)


def test_transparency_becomes_white(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(rgba_half_transparent())
    img = load_photo(path, min_side=1)
    assert img.getpixel((5, 5)) == (0, 160, 0)
    assert img.getpixel((55, 5)) == (255, 255, 255)


@pytest.mark.parametrize(("orientation", "red_side"), [(6, "right"), (8, "left")])
def test_exif_orientation_applied(tmp_path: Path, orientation: int, red_side: str) -> None:
    path = tmp_path / "r.jpg"
    path.write_bytes(exif_rotated(orientation))
    img = load_photo(path, min_side=1)
    assert img.size == (48, 80)
    left, right = img.getpixel((5, 40)), img.getpixel((42, 40))
    red, blue = (right, left) if red_side == "right" else (left, right)
    assert close(red, (255, 0, 0), tol=40) and close(blue, (0, 0, 255), tol=40)


def test_square_resize_centre_crop() -> None:
    img = Image.new("RGB", (90, 30), (0, 0, 0))
    img.paste((255, 255, 255), (30, 0, 60, 30))
    assert square_box(90, 30) == (30, 0, 60, 30)
    out = square_resize(img, 16)
    assert out.size == (16, 16)
    assert np.asarray(out).min() >= 250


# ---------------------------------------------------------------- intake_photos


def test_intake_skips_bad_and_writes_good(tmp_path: Path, photos: Path) -> None:
    work = tmp_path / "work"
    recipe = load_recipe(make_recipe(tmp_path, n=len(GOOD)))
    before = snapshot(photos)
    report = intake_photos(photos, work, recipe, progress=False)

    assert snapshot(photos) == before  # the input is only read
    cats = photos / "Cats"
    assert set(report.rejected) == {str(cats / name) for name in BAD}
    for name, (_, reason) in BAD.items():
        assert reason in report.rejected[str(cats / name)]
    assert report.accepted["Cats"] == len(GOOD)
    assert report.accepted["Flowers"] == 1
    assert report.unknown_folders == ["Kittens"]
    assert report.skipped_objects == ["Dogs"]
    assert report.short_objects == {
        "Architectures": 0, "Flowers": 1, "Human": 0, "Towers": 0
    }  # fmt: skip
    assert (work / RECIPE_FILE).is_file()
    saved = json.loads((work / "reports" / "sources.json").read_text())
    assert saved["unknown_folders"] == ["Kittens"]
    assert saved["accepted"]["Cats"] == len(GOOD)
    assert set(saved["rejected"]) == {str(cats / n) for n in BAD}

    for idx, name in enumerate(GOOD, start=1):  # idx 1..N in name order
        out = seed_photo_path(work, "Cats", idx)
        with Image.open(out) as im:
            assert (im.format, im.size, im.mode) == ("JPEG", (RES, RES), "RGB")
        meta = json.loads(sidecar_path(out).read_text())
        source = cats / name
        assert meta["source_path"] == f"Cats/{name}"  # relative to the photos folder
        assert meta["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert meta["source_bytes"] == source.stat().st_size
        assert meta["resolution"] == RES and meta["idx"] == idx and meta["object"] == "Cats"
        assert {"licence", "author", "toolkit_version", "crop_box"} <= set(meta)
    assert not seed_photo_path(work, "Cats", len(GOOD) + 1).exists()
    assert not (work / "Seed_Images" / "Dogs").exists()
    assert not (work / "Seed_Images" / "Kittens").exists()


def test_intake_prints_each_skip(tmp_path: Path, photos: Path, capsys) -> None:
    recipe = load_recipe(make_recipe(tmp_path, n=len(GOOD)))
    intake_photos(photos, tmp_path / "work", recipe, progress=False)
    err = capsys.readouterr().err.splitlines()
    for name, (_, reason) in BAD.items():
        line = next(x for x in err if x.startswith(f"skipped {photos / 'Cats' / name}: "))
        assert reason in line


def test_intake_output_colours(tmp_path: Path, photos: Path) -> None:
    work = tmp_path / "work"
    intake_photos(photos, work, load_recipe(make_recipe(tmp_path, n=len(GOOD))), progress=False)
    out = {name: seed_photo_path(work, "Cats", i) for i, name in enumerate(GOOD, start=1)}
    mid = RES // 2
    assert close(pixel(out["07_cmyk.jpg"], mid, mid), (255, 0, 0))
    assert close(pixel(out["08_grey.png"], mid, mid), (100, 100, 100), tol=3)
    assert close(pixel(out["09_rgba.png"], 4, mid), (0, 160, 0))
    assert close(pixel(out["09_rgba.png"], RES - 4, mid), (255, 255, 255), tol=3)
    assert close(pixel(out["10_palette.gif"], mid, mid), (0, 0, 255))
    assert close(pixel(out["11_grey16.png"], mid, mid), (128, 128, 128), tol=3)
    # orientation 6: the stored top (red) is the upright right-hand side
    assert close(pixel(out["12_exif_rotated.jpg"], RES - 6, mid), (255, 0, 0), tol=40)
    assert close(pixel(out["12_exif_rotated.jpg"], 6, mid), (0, 0, 255), tol=40)
    meta = json.loads(sidecar_path(out["12_exif_rotated.jpg"]).read_text())
    assert meta["exif_orientation"] == 6 and meta["exif_orientation_applied"] is True
    assert (meta["source_width"], meta["source_height"]) == (80, 48)
    assert meta["source_mode"] == "RGB"
    assert json.loads(sidecar_path(out["07_cmyk.jpg"]).read_text())["source_mode"] == "CMYK"


def test_rerun_changes_nothing(tmp_path: Path, photos: Path) -> None:
    work = tmp_path / "work"
    recipe = load_recipe(make_recipe(tmp_path, n=len(GOOD)))
    first = intake_photos(photos, work, recipe, progress=False)
    outputs = snapshot(work)
    again = intake_photos(photos, work, recipe, progress=False)
    assert snapshot(work) == outputs
    assert (first.written, first.unchanged) == (len(GOOD) + 1, 0)
    assert (again.written, again.unchanged) == (0, len(GOOD) + 1)


def test_photos_per_object_caps(tmp_path: Path, photos: Path) -> None:
    work = tmp_path / "work"
    report = intake_photos(photos, work, load_recipe(make_recipe(tmp_path, n=2)), progress=False)
    assert report.accepted["Cats"] == 2
    assert "Cats" not in report.short_objects
    assert sorted(p.name for p in (work / "Seed_Images" / "Cats").iterdir()) == [
        "1.jpg", "1.json", "2.jpg", "2.json"
    ]  # fmt: skip
    first_good = list(GOOD)[1]
    meta = json.loads(sidecar_path(seed_photo_path(work, "Cats", 2)).read_text())
    assert Path(meta["source_path"]).name == first_good


def test_summary_is_one_line(tmp_path: Path, photos: Path) -> None:
    report = intake_photos(
        photos, tmp_path / "w", load_recipe(make_recipe(tmp_path, n=3)), progress=False
    )
    line = report.summary()
    assert "\n" not in line and "Kittens" in line and "skipped" in line


# ---------------------------------------------------------------- bundled photos


def test_bundled_photos_make_the_demo(tmp_path: Path) -> None:
    src = write_bundled_photos(tmp_path / "bundled")
    for obj in DEMO_OBJECTS:
        assert len(list((src / obj).glob("*.png"))) >= 4
    with Image.open(src / "Human" / "02_camera.png") as im:
        assert im.mode == "L"  # kept greyscale; the intake converts
    credits = bundled_credits()
    assert len(credits) == len(BUNDLED)
    assert {c["object"] for c in credits} == set(DEMO_OBJECTS)
    assert all(c["licence"] and c["credit"] and (src / c["photo"]).is_file() for c in credits)

    work = tmp_path / "work"
    recipe = load_recipe("demo")
    report = intake_photos(src, work, recipe, progress=False)
    assert report.rejected == {} and report.short_objects == {}
    for obj in DEMO_OBJECTS:
        assert report.accepted[obj] == 4
        for idx in range(1, 5):
            with Image.open(seed_photo_path(work, obj, idx)) as im:
                assert im.size == (512, 512)
        meta = json.loads(sidecar_path(seed_photo_path(work, obj, 1)).read_text())
        assert meta["licence"]  # the credit travels from the PNG into the sidecar
    before = snapshot(src)
    write_bundled_photos(src)
    assert snapshot(src) == before


def test_natural_order_duplicates_and_stale(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for folder, names in {"Cats": ["img10.jpg", "img2.jpg", "img1.jpg"], "cats": ["x.jpg"]}.items():
        (root / folder).mkdir(parents=True)
        for seed, name in enumerate(names):
            (root / folder / name).write_bytes(plain(seed))
    work = tmp_path / "work"
    report = intake_photos(root, work, load_recipe(make_recipe(tmp_path, n=3)), progress=False)
    assert report.duplicate_folders == ["cats"]  # the exact name wins
    names = [
        Path(json.loads(sidecar_path(seed_photo_path(work, "Cats", i)).read_text())["source_path"])
        for i in (1, 2, 3)
    ]
    assert [p.name for p in names] == ["img1.jpg", "img2.jpg", "img10.jpg"]
    smaller = intake_photos(
        root, work, load_recipe(make_recipe(tmp_path, n=2)), progress=False, repaint_stale=True
    )
    assert smaller.stale == [str(Path("Seed_Images") / "Cats" / "3.jpg")]
    assert seed_photo_path(work, "Cats", 3).is_file()  # reported, never deleted


@pytest.mark.parametrize("layout", ["flat", "wrong folders"])
def test_a_folder_without_object_folders_is_one_line_before_any_warning(tmp_path, layout):
    from click.testing import CliRunner

    from canvas_data.cli.build import main

    photos = tmp_path / "photos"
    folder = photos if layout == "flat" else photos / "cat"
    folder.mkdir(parents=True)
    if layout == "wrong folders":
        (photos / "holiday").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    args = ["sources", "--photos", str(photos), "--work", str(tmp_path / "work")]
    done = CliRunner().invoke(main, [*args, "--recipe", "demo", "--no-progress"])
    assert done.exit_code == 1
    assert done.output.count("\n") == 1 and "warning" not in done.output, done.output
    assert done.output.startswith(f"Error: {photos}: no object folders")
    if layout == "wrong folders":
        assert "cat/ -> Cats?" in done.output
    assert not (tmp_path / "work" / "Seed_Images").exists()


# Photo file names that are not UTF-8 (legal on Linux) reach every stage: the seed photo's
# provenance names the file with the odd bytes escaped, and stylize, shards, verify and export
# work on; an unusable photo with such a name is reported and skipped, not a crash.


def run(*args):
    result = CliRunner().invoke(main, [*args, "--no-progress"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_photos_with_non_utf8_names_build_verify_and_export(tmp_path):
    recipe = write_recipe(tmp_path, styles=["Monet"], photos_per_object=2)
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for obj in TINY_OBJECTS:
        folder = photos / obj
        folder.mkdir(parents=True)
        for i in range(2):
            name = os.fsencode(folder) + b"/caf\xe9-\xff%d.jpg" % i  # Latin-1 bytes, not UTF-8
            Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(
                name.decode("utf-8", "surrogateescape"), "JPEG"
            )
        open(os.fsencode(folder) + b"/a-empty-\xff.jpg", "wb").close()
    work, out, export = tmp_path / "work", tmp_path / "uc", tmp_path / "export"

    result = run("sources", "--photos", str(photos), "--work", str(work), "--recipe", str(recipe))
    assert result.exit_code == 0, result.output
    assert "a-empty-" in result.output and "empty file" in result.output
    sidecar = json.loads((work / "Seed_Images" / TINY_OBJECTS[0] / "1.json").read_text("utf-8"))
    assert sidecar["source_path"] == f"{TINY_OBJECTS[0]}/caf\\xe9-\\xff0.jpg"

    assert run("stylize", "--work", str(work), "--workers", "1").exit_code == 0
    result = run("shards", "--work", str(work), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert run("verify", str(out)).exit_code == 0
    assert run("export", str(out), "--out", str(export)).exit_code == 0
    lines = (export / "metadata.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == len(TINY_OBJECTS) * 2 * 2  # photos and Monet, 2 per object


# A folder with no usable photo fails; a folder named almost like an object gets a hint.


def _jpeg(seed: int = 0, size: tuple[int, int] = (96, 80)) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


def test_sources_with_no_usable_photo_fails_in_one_line(tmp_path):
    recipe = write_recipe(tmp_path)
    photos = tmp_path / "photos"
    (photos / "Cats").mkdir(parents=True)
    (photos / "Cats" / "1.jpg").write_bytes(b"not a photo")
    (photos / "Human").mkdir()
    args = ["sources", "--photos", str(photos), "--work", str(tmp_path / "w"), "--recipe"]
    line = error_line(CliRunner().invoke(main, [*args, str(recipe), "--no-progress"]))
    assert f"no usable photo in {photos}" in line


@pytest.mark.parametrize("folder", ["cat", "Cat", "cats_", "Catz"])
def test_a_folder_named_almost_like_an_object_gets_a_suggestion(tmp_path, folder):
    recipe = load_recipe(write_recipe(tmp_path))
    photos = tmp_path / "photos"
    (photos / folder).mkdir(parents=True)
    (photos / folder / "1.jpg").write_bytes(_jpeg())
    (photos / "Human").mkdir()
    (photos / "Human" / "1.jpg").write_bytes(_jpeg(1))
    report = intake_photos(photos, tmp_path / "w", recipe, progress=False)
    assert report.near_misses == {folder: "Cats"}
    assert f"{folder} (did you mean Cats?)" in report.summary()


def test_the_failure_line_names_the_near_miss(tmp_path):
    photos = tmp_path / "photos"
    (photos / "cat").mkdir(parents=True)
    (photos / "cat" / "1.jpg").write_bytes(_jpeg())
    args = ["sources", "--photos", str(photos), "--work", str(tmp_path / "w")]
    result = CliRunner().invoke(main, [*args, "--recipe", str(write_recipe(tmp_path))])
    assert "cat/ -> Cats?" in error_line(result)


def test_photos_beyond_photos_per_object_are_counted_and_listed(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "Cats").mkdir(parents=True)
    for i in range(1, 6):
        (root / "Cats" / f"img{i}.jpg").write_bytes(plain(i))
    (root / "Cats" / "img0.jpg").write_bytes(b"not a photo")
    work = tmp_path / "work"
    report = intake_photos(root, work, load_recipe(make_recipe(tmp_path, n=3)), progress=False)
    assert report.accepted["Cats"] == 3
    assert "1 files skipped" in report.summary()
    assert "2 photos beyond photos_per_object (3) left out" in report.summary()
    listed = json.loads((work / "reports" / "sources.json").read_text())
    assert listed["beyond_photos_per_object"] == {"Cats": ["Cats/img4.jpg", "Cats/img5.jpg"]}
