"""Hub rows without a file path: refused by default, placed by matching paintings to photos."""

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFilter
from release_data import write_release_parquet

from canvas_data.cli.build import main
from canvas_data.intake.photo_matching import LOW_MARGIN
from canvas_data.intake.release_import import import_hub_parquet
from canvas_data.taxonomy import caption

OBJECTS = ("Cats", "Human")
STYLES = {"Monet": "Monet", "Van Gogh": "Van_Gogh"}
N = 20
RELEASE_ORDER = sorted(range(1, N + 1), key=str)  # 1, 10, 11, ..., 19, 2, 20, 3, ..., 9


def photo(obj: str, idx: int, size: int = 96) -> Image.Image:
    """A distinct arrangement of flat shapes, one per (object, idx)."""
    rng = np.random.default_rng([OBJECTS.index(obj), idx])
    im = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x, y = (int(v) for v in rng.integers(0, size - 20, 2))
        w, h = (int(v) for v in rng.integers(10, size // 2, 2))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x, y, x + w, y + h], fill=fill)
    return im


def paint(im: Image.Image, style: str, seed: int) -> Image.Image:
    """A stand-in stylization: blurred, colours shifted (channels swapped, or tones inverted),
    contrast changed, noise added."""
    rng = np.random.default_rng(seed)
    a = np.asarray(im.filter(ImageFilter.GaussianBlur(1.5)), np.float64)
    a = 255 - a if style == "Van_Gogh" else a[..., rng.permutation(3)]
    a = a * rng.uniform(0.6, 1.0) + rng.uniform(0, 60) + rng.normal(0, 12, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def release_rows(seed_paths: bool, photos=photo, painting_paths: bool = False):
    """(rows, {(style, obj, idx): bytes}) in the release's row order, with or without paths."""
    rows, made = [], {}
    for caption_style, style in {"photo": "Seed_Images", **STYLES}.items():
        for obj in OBJECTS:
            for idx in RELEASE_ORDER:
                source = photos(obj, idx)
                im = source if style == "Seed_Images" else paint(source, style, idx)
                data = made[style, obj, idx] = jpeg(im)
                has_path = seed_paths if style == "Seed_Images" else painting_paths
                path = f"{style}/{obj}/{idx}.jpg" if has_path else None
                text = f"A {obj} image in {caption_style} style"
                rows.append({"image": {"bytes": data, "path": path}, "text": text})
    return rows, made


def write_hub(folder, rows, shuffle: int | None = None):
    rows = list(rows)
    if shuffle is not None:
        random.Random(shuffle).shuffle(rows)
    half = len(rows) // 2
    write_release_parquet(folder / "train-00000-of-00002.parquet", rows[:half])
    write_release_parquet(folder / "train-00001-of-00002.parquet", rows[half:])
    return folder


def images(work):
    return {
        p.relative_to(work): p.read_bytes() for p in work.rglob("*.jpg") if ".import" not in p.parts
    }


def run(hub, work, *extra):
    args = ["import-hub", str(hub), "--work", str(work), "--no-progress", *extra]
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("shuffle", [None, 7])
def test_rows_without_a_path_are_refused_then_matched_to_their_photo(tmp_path, shuffle):
    rows, made = release_rows(seed_paths=True)
    hub, work = write_hub(tmp_path / "hub", rows, shuffle), tmp_path / "work"
    refused = run(hub, work)
    assert refused.exit_code == 1
    assert "Error: 80 rows have no file path" in refused.stderr
    assert "--match-photos" in refused.stderr
    assert not (work / "Monet").exists()  # nothing guessed
    assert all((work / "Seed_Images" / o / f"{i}.jpg").is_file() for o in OBJECTS for i in (1, 20))

    matched = run(hub, work, "--match-photos")  # the files are done: the held rows are placed
    assert matched.exit_code == 0, matched.output
    assert "80 matched by image" in matched.stdout
    for (style, obj, idx), data in made.items():
        assert (work / style / obj / f"{idx}.jpg").read_bytes() == data, (style, obj, idx)
    side = json.loads((work / "Monet" / "Cats" / "10.json").read_text())
    assert side["idx_from"] == "matched" and side["match"]["photo"] == "Seed_Images/Cats/10.jpg"
    report = json.loads((work / "reports" / "import-hub.json").read_text())
    confidence = report["match_confidence"]
    assert report["matched"] == 80 and report["held_without_path"] == 0
    assert confidence["margin_min"] > LOW_MARGIN and confidence["low_confidence"] == []
    assert confidence["margin_median"] >= confidence["margin_min"]


def test_without_any_path_photos_are_numbered_by_content_and_paintings_follow(tmp_path):
    rows, made = release_rows(seed_paths=False)
    works = {}
    for shuffle in (None, 3):
        hub = write_hub(tmp_path / f"hub{shuffle}", rows, shuffle)
        work = works[shuffle] = tmp_path / f"work{shuffle}"
        result = run(hub, work, "--match-photos")
        assert result.exit_code == 0, result.output
        assert "40 seed photos numbered by content" in result.stdout
        by_bytes = {data: idx for (style, obj, idx), data in made.items() if style == "Seed_Images"}
        for obj in OBJECTS:
            for idx in range(1, N + 1):
                source = by_bytes[(work / "Seed_Images" / obj / f"{idx}.jpg").read_bytes()]
                for style in STYLES.values():
                    painted = (work / style / obj / f"{idx}.jpg").read_bytes()
                    assert painted == made[style, obj, source], (style, obj, idx)
    assert images(works[None]) == images(works[3])  # row order changes nothing


@pytest.mark.parametrize("shuffle", [None, 5])
def test_photos_without_a_path_take_the_index_of_the_paintings_with_one(tmp_path, shuffle):
    rows, made = release_rows(seed_paths=False, painting_paths=True)
    hub, work = write_hub(tmp_path / "hub", rows, shuffle), tmp_path / "work"
    assert run(hub, work).exit_code == 1  # 40 seed photos held aside
    result = run(hub, work, "--match-photos")
    assert result.exit_code == 0, result.output
    assert (
        "40 matched by image" in result.stdout
        and "0 seed photos numbered by content" in result.stdout
    )
    for (style, obj, idx), data in made.items():
        assert (work / style / obj / f"{idx}.jpg").read_bytes() == data, (style, obj, idx)
    side = json.loads((work / "Seed_Images" / "Human" / "7.json").read_text())
    assert side["match"]["paintings"] == ["Monet/Human/7.jpg", "Van_Gogh/Human/7.jpg"]


def test_near_identical_photos_are_listed_as_low_confidence(tmp_path):
    def photos(obj, idx):
        if idx != N:
            return photo(obj, idx)
        twin = photo(obj, N - 1)  # photo 20 is photo 19 with one small dot
        ImageDraw.Draw(twin).ellipse([40, 40, 43, 43], fill=(0, 0, 0))
        return twin

    rows, _ = release_rows(seed_paths=True, photos=photos)
    hub, work = write_hub(tmp_path / "hub", rows), tmp_path / "work"
    result = run(hub, work, "--match-photos")
    assert result.exit_code == 0, result.output
    report = json.loads((work / "reports" / "import-hub.json").read_text())
    low = report["match_confidence"]["low_confidence"]
    assert {c["image"].rsplit("/", 1)[1] for c in low} == {f"{N - 1}.jpg", f"{N}.jpg"}
    assert len(low) == 2 * len(OBJECTS) * len(STYLES)
    assert all(c["margin"] < LOW_MARGIN for c in low)
    assert sum("with a low margin" in line for line in result.stderr.splitlines()) == len(low)


def test_paintings_without_a_photo_to_match_stay_held_aside(tmp_path):
    data = jpeg(paint(photo("Cats", 1), "Monet", 1))
    rows = [{"image": {"bytes": data, "path": None}, "text": "A Dogs image in Monet style"}]
    hub, work = write_hub(tmp_path / "hub", rows * 2), tmp_path / "work"
    report = import_hub_parquet(hub, work, progress=False, match_photos=True)
    assert report.held == 2 and report.matched == 0
    assert all("no seed photo of Dogs" in reason for _, reason in report.unmatched)
    result = run(hub, work, "--match-photos")
    assert (
        result.exit_code == 1 and "2 rows without a file path could not be matched" in result.stderr
    )
    assert len(list((work / ".import" / "pending").rglob("*.jpg"))) == 2


def test_a_painting_whose_photo_is_missing_is_the_one_left_held_aside(tmp_path):
    rows, made = release_rows(seed_paths=True)
    missing = made["Seed_Images", "Cats", 5]
    rows = [r for r in rows if r["image"]["bytes"] != missing]
    hub, work = write_hub(tmp_path / "hub", rows), tmp_path / "work"
    result = run(hub, work, "--match-photos")
    assert result.exit_code == 1
    assert "2 rows without a file path could not be matched" in result.stderr
    held = sorted((work / ".import" / "pending").rglob("*.jpg"))
    assert sorted(p.read_bytes() for p in held) == sorted(
        made[style, "Cats", 5] for style in STYLES.values()
    )
    for (style, obj, idx), data in made.items():
        if idx != 5 or obj != "Cats":
            assert (work / style / obj / f"{idx}.jpg").read_bytes() == data, (style, obj, idx)


def test_paintings_of_the_cpu_stylizer_find_their_photos(tmp_path, tiny_painted):
    work, _ = tiny_painted
    made = {p.relative_to(work).as_posix(): p.read_bytes() for p in work.glob("*/*/*.jpg")}
    rows = [
        {
            "image": {"bytes": data, "path": rel if rel.startswith("Seed_Images/") else None},
            "text": caption(*rel.split("/")[:2]),
        }
        for rel, data in sorted(made.items())
    ]
    hub, again = write_hub(tmp_path / "hub", rows, shuffle=11), tmp_path / "again"
    result = run(hub, again, "--match-photos")
    assert result.exit_code == 0, result.output
    assert images(again) == {Path(rel): data for rel, data in made.items()}
