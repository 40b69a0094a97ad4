"""Packing a copy of the release's folder: reports, pass-through bytes, image checks, memory."""

import json
import tracemalloc

from click.testing import CliRunner
from release_data import jpeg, make_release, manifest, release_recipe, tar_samples

from canvas_data.cli.build import main
from canvas_data.images.jpeg import ImageError, check_image
from canvas_data.pack.verify import verify_shards
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import Recipe, load_recipe
from canvas_data.taxonomy import STYLES_61


def damaged_release(root):
    """A release copy with one missing, two unreadable and a few extra files."""
    release = make_release(root)
    (release / "Monet" / "Cats" / "2.jpg").unlink()
    good = (release / "Van_Gogh" / "Human" / "1.jpg").read_bytes()
    (release / "Van_Gogh" / "Human" / "1.jpg").write_bytes(good[:-100])
    (release / "Monet" / "Human" / "3.jpg").write_bytes(b"not a jpeg at all")
    (release / "Monet" / "Cats" / "notes.txt").write_text("stray")
    (release / "Monet" / "Cats" / "cover.png").write_bytes(b"png")
    (release / "Monet" / "Cats_old").mkdir()
    (release / "Not_A_Style").mkdir()
    (release / "Pointillism" / "Cats").mkdir(parents=True)  # a release style, not selected
    return release


def test_bare_release_copy_packs_and_reports_missing_unreadable_and_extra(tmp_path):
    release = damaged_release(tmp_path / "release")
    out = tmp_path / "out"
    args = ["shards", "--work", str(release), "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(main, [*args, "--styles", "Monet,Van_Gogh"])
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    assert "missing 1 images: Monet/Cats/2" in err
    assert f"{release}/Van_Gogh/Human/1.jpg: truncated JPEG (no end-of-image marker)" in err
    assert f"{release}/Monet/Human/3.jpg: not an image (cannot identify image file)" in err
    assert any(line.startswith("extra files not packed (3):") for line in err)
    assert "ignored folders outside the taxonomy: ['Not_A_Style']" in err
    assert "2 unreadable" in result.stdout and "3 extra files" in result.stdout

    m = manifest(out)
    assert m["taxonomy"]["styles"] == list(STYLES_61)  # no recipe.yaml: the full release recipe
    assert m["missing"] == ["Monet/Cats/2"]
    assert [u["key"] for u in m["unreadable"]] == ["Monet/Human/3", "Van_Gogh/Human/1"]
    assert m["extra"] == ["Monet/Cats/cover.png", "Monet/Cats/notes.txt", "Monet/Cats_old"]
    samples = tar_samples(out)
    assert len(samples) == 3 * 2 * 3 - 3 == sum(m["splits"].values())
    for key, sample in samples.items():  # bytes passed through as they are
        assert sample["jpg"] == (release / f"{key}.jpg").read_bytes()
    assert verify_shards(out, progress=False).ok


def test_fixing_a_corrupt_file_repacks_only_its_shard(tmp_path):
    release = damaged_release(tmp_path / "release")
    recipe = load_recipe(release_recipe(tmp_path))
    out = tmp_path / "out"
    first = pack_dataset(release, out, recipe=recipe, progress=False)
    assert len(first.unreadable) == 2
    again = pack_dataset(release, out, recipe=recipe, progress=False)
    assert again.shards_written == 0 and len(again.unreadable) == 2  # still reported on reuse
    (release / "Monet" / "Human" / "3.jpg").write_bytes(jpeg(99))
    third = pack_dataset(release, out, recipe=recipe, progress=False)
    assert third.shards_written == 1 and [p.name for p, _ in third.unreadable] == ["1.jpg"]
    assert "Monet/Human/3" in tar_samples(out)


def test_decode_check_catches_a_broken_huffman_table_the_header_check_lets_through(tmp_path):
    data = bytearray(jpeg(1, size=128, noise=True))
    data[data.index(b"\xff\xc4") + 10] ^= 0xFF  # inside a Huffman table
    assert check_image(bytes(data), "header").format == "JPEG"
    try:
        check_image(bytes(data), "decode")
    except ImageError as err:
        assert "broken data stream" in str(err)
    else:
        raise AssertionError("a full decode should fail")
    release = make_release(tmp_path / "release")
    (release / "Monet" / "Cats" / "1.jpg").write_bytes(bytes(data))
    recipe = load_recipe(release_recipe(tmp_path))
    decode = pack_dataset(release, tmp_path / "b", recipe=recipe, check="decode", progress=False)
    assert [(p.parent.parent.name, p.name) for p, _ in decode.unreadable] == [("Monet", "1.jpg")]
    assert "Monet/Cats/1" not in tar_samples(tmp_path / "b")


def _peak_while_packing(release, out, recipe) -> int:
    tracemalloc.start()
    try:
        pack_dataset(release, out, recipe=recipe, max_samples=40, progress=False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_packing_ten_times_more_images_does_not_grow_peak_memory(tmp_path):
    """Images stream through one at a time: the peak is about one image, not the dataset."""
    image = jpeg(7, size=384, noise=True)  # ~130 kB, badly compressible like real paintings
    styles = ("Monet", "Van_Gogh", "Winter", "Pastel")
    peaks, sizes = [], []
    for photos in (2, 20):  # 20 and 200 images
        release = make_release(tmp_path / f"release-{photos}", styles=styles, photos=photos, size=8)
        for path in release.rglob("*.jpg"):
            path.write_bytes(image)
        kept = load_recipe(release_recipe(tmp_path, styles=styles))
        build = {**kept.data["build"], "photos_per_object": photos}
        recipe = Recipe(kept.name, {**kept.data, "build": build}, kept.source)
        pack_dataset(release, tmp_path / f"warm-up-{photos}", recipe=recipe, progress=False)
        sizes.append(sum(p.stat().st_size for p in release.rglob("*.jpg")))
        peaks.append(_peak_while_packing(release, tmp_path / f"out-{photos}", recipe))
    assert sizes[1] == 10 * sizes[0] > 2_000_000
    # Holding the images would take 2.6 MB and 26 MB; measured peaks: 4.5 MB and 4.7 MB (a 4 MB
    # write buffer, the card's preview and index), so 10x the images adds under 0.2 MB.
    assert peaks[1] < peaks[0] + 1_000_000, peaks
    assert peaks[1] < sizes[1] / 3, peaks


def test_resolution_variant_reencodes_and_passes_through_images_already_that_size(tmp_path):
    release = make_release(tmp_path / "release", size=48)
    recipe = load_recipe(release_recipe(tmp_path))
    small = (release / "Monet" / "Cats" / "1.jpg").read_bytes()
    (release / "Monet" / "Cats" / "1.jpg").write_bytes(jpeg(5, size=24))
    already = (release / "Monet" / "Cats" / "1.jpg").read_bytes()
    out = tmp_path / "out"
    report = pack_dataset(release, out, recipe=recipe, resolution=24, progress=False)
    assert report.unreadable == []
    samples = tar_samples(out)
    assert samples["Monet/Cats/1"]["jpg"] == already
    assert samples["Monet/Cats/2"]["jpg"] != (release / "Monet/Cats/2.jpg").read_bytes()
    assert all(check_image(s["jpg"]).width == 24 for s in samples.values())
    m = manifest(out)
    assert m["name"] == "release-tiny-24px"
    recipe_kept = json.loads(json.dumps(load_recipe(out / "recipe.yaml").data))
    assert recipe_kept["pack"] == {"base": "release-tiny", "resolution": 24}
    assert "24 x 24 px" in (out / "README.md").read_text()
    assert small != already
