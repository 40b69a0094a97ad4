"""A repeated sample in one tar is one problem, however many members it has: ``iter_samples``
reports each run of repeated members once and skips the rest of that run, and keeps the first
copy of every sample whole."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile

import pytest
from click.testing import CliRunner
from PIL import Image

from canvas_data.cli.build import main
from canvas_data.pack.manifest import UnsafeEntry
from canvas_data.pack.tar_samples import iter_samples
from canvas_data.taxonomy import Taxonomy
from canvas_data.workspace import sha256_file

TAXONOMY = Taxonomy(styles=("Monet", "Winter"), objects=("Cats", "Human"))
EXTS = ("jpg", "style.cls", "object.cls", "txt", "json")


def members(key: str, tag: str = "", exts=EXTS) -> list[tuple[str, bytes]]:
    return [(f"{key}.{ext}", f"{key} {ext}{tag}".encode()) for ext in exts]


def write_tar(path, entries) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def read(path):
    problems: list[str] = []
    samples = list(iter_samples(path, TAXONOMY, on_problem=problems.append))
    return [{k: v for k, v in s.items() if k != "__url__"} for s in samples], problems


A, B, C = "Monet/Cats/1", "Monet/Human/2", "Winter/Cats/3"
WHOLE = [{"__key__": k, **{ext: f"{k} {ext}".encode() for ext in EXTS}} for k in (A, B, C)]


@pytest.mark.parametrize(
    ("name", "entries", "repeated"),
    [
        # a whole sample again, after other samples: at the end, or between two others
        ("at-end", members(A) + members(B) + members(C) + members(A, " copy"), [A]),
        ("between", members(A) + members(B) + members(A, " copy") + members(C), [A]),
        # part of a sample again (three of its members)
        ("part", members(A) + members(B) + members(A, " copy", EXTS[:3]) + members(C), [A]),
        # a sample's members written twice in a row, adjacent to the first copy
        ("adjacent", members(A) + members(A, " copy") + members(B) + members(C), [A]),
        # two repeated runs of one key, and one of another: one problem each
        (
            "two-runs",
            members(A)
            + members(B)
            + members(A, " 2")
            + members(C)
            + members(A, " 3")
            + members(B, " 2"),
            [A, A, B],
        ),
    ],
)
def test_a_repeated_run_is_one_problem_and_the_first_copy_is_kept(
    tmp_path, name, entries, repeated
):
    path = tmp_path / f"{name}.tar"
    write_tar(path, entries)
    samples, problems = read(path)
    assert samples == WHOLE
    assert len(problems) == len(repeated), problems
    for problem, key in zip(problems, repeated, strict=True):
        assert str(path) in problem and repr(key) in problem, problem


def test_without_on_problem_the_first_repeated_member_raises(tmp_path):
    path = tmp_path / "again.tar"
    write_tar(path, members(A) + members(B) + members(A, " copy"))
    with pytest.raises(UnsafeEntry, match=rf"member '{A}\.jpg'.*sample '{A}' again"):
        list(iter_samples(path, TAXONOMY))


def test_a_bad_member_inside_a_repeated_run_is_still_reported(tmp_path):
    path = tmp_path / "mixed.tar"
    write_tar(path, members(A) + members(B) + members(A, " copy") + [("Monet/Dogs/1.jpg", b"x")])
    samples, problems = read(path)
    assert samples == WHOLE[:2]
    assert len(problems) == 2 and "'Monet/Dogs/1.jpg'" in problems[1], problems


# Tar shards that are well-formed tars but hold contradicting or broken samples: export names
# the shard and the sample in one line and never lets one shard overwrite another's images.


TRAIN, TEST = "data/train-000000.tar", "data/test-000000.tar"


@pytest.fixture(scope="module")
def packed(tiny_packed):
    return tiny_packed


@pytest.fixture
def folder(packed, tmp_path):
    return shutil.copytree(packed, tmp_path / "uc")


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def rehash(folder):
    """Make the manifest's sizes and hashes match the (tampered) files again."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["shards"]:
        file = folder / entry["path"]
        entry["sha256"], entry["bytes"] = sha256_file(file), file.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))


def rewrite_members(tar_path, change):
    """Write ``tar_path`` again with ``change(name, data)`` applied to every member's bytes."""
    with tarfile.open(tar_path) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            data = change(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tar_path.write_bytes(buf.getvalue())


def first_members(data, n):
    """A well-formed tar of the first ``n`` members of the tar ``data``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=buf, mode="w") as dst:
        for member in src.getmembers()[:n]:
            dst.addfile(member, src.extractfile(member))
    return buf.getvalue()


def export(folder, out):
    result = CliRunner().invoke(main, ["export", str(folder), "--out", str(out), "--no-progress"])
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception
    return result


def test_a_sample_in_two_shards_is_refused_naming_both(folder, tmp_path):
    shutil.copyfile(folder / TRAIN, folder / TEST)  # the test split now repeats train's samples
    rehash(folder)
    out = tmp_path / "export"

    result = export(folder, out)

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert str(folder / TRAIN) in lines[0] and str(folder / TEST) in lines[0], lines[0]
    assert "also in" in lines[0]
    assert not (out / "metadata.jsonl").exists()


@pytest.mark.parametrize(
    ("member", "garbage", "reason"),
    [
        (".json", b"[1, 2", "Expecting"),
        (".json", b"[1, 2]", "not an object"),
        (".txt", b"\xff\xfe caption", "utf-8"),
    ],
)
def test_a_broken_metadata_member_names_shard_and_sample(folder, tmp_path, member, garbage, reason):
    rewrite_members(folder / TRAIN, lambda n, d: garbage if n.endswith(member) else d)
    rehash(folder)

    result = export(folder, tmp_path / "export")

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], result.output
    assert str(folder / TRAIN) in lines[0] and "sample '" in lines[0] and reason in lines[0]


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"not an image at all", "cannot identify"),
        (png_bytes(), "not a JPEG (PNG)"),
        (b"", "empty"),
    ],
)
def test_an_image_member_that_is_not_a_jpeg_is_refused_by_export(folder, tmp_path, garbage, reason):
    rewrite_members(folder / TRAIN, lambda n, d: garbage if n.endswith("/1.jpg") else d)
    rehash(folder)

    result = export(folder, tmp_path / "export")

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], result.output
    assert str(folder / TRAIN) in lines[0] and "/1'" in lines[0] and reason in lines[0], lines
    assert not list((tmp_path / "export").rglob("1.jpg"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",  # a zero-byte tar
        lambda data: gzip.compress(data),  # a gzip-compressed tar under a .tar name
        lambda data: data[:5000],  # cut short
        lambda data: first_members(data, 5),  # a whole tar with fewer samples than listed
    ],
)
def test_card_and_preview_refuse_a_shard_they_cannot_read(folder, tmp_path, damage):
    shard = folder / TRAIN
    shard.write_bytes(damage(shard.read_bytes()))
    rehash(folder)
    card_before = (folder / "README.md").read_bytes()

    for args in (["card", str(folder)], ["preview", str(folder), "--out", str(tmp_path / "s.jpg")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and str(shard) in lines[0], result.output
    assert (folder / "README.md").read_bytes() == card_before
    assert not (tmp_path / "s.jpg").exists()


def repeat_first_sample_at_the_end(tar_path):
    """Write ``tar_path`` again with its first sample's members appended after all others."""
    with tarfile.open(tar_path) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    first = members[0][0].rsplit(".", 1)[0]
    again = [(n, d) for n, d in members if n.rsplit(".", 1)[0] == first]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members + again:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    tar_path.write_bytes(buf.getvalue())
    return first


def test_a_key_repeated_within_one_shard_is_named_as_a_repeat(folder, tmp_path):
    key = repeat_first_sample_at_the_end(folder / TRAIN)
    rehash(folder)
    verify = CliRunner().invoke(main, ["verify", str(folder), "--no-progress"])
    assert verify.exit_code == 1
    assert f"sample {key!r} again, after other samples" in verify.output, verify.output
    assert "missing members" not in verify.output
    assert "FAILED with 1 problems" in verify.output, verify.output  # one line, not one a member
    out = tmp_path / "export"
    result = export(folder, out)
    assert result.exit_code == 1
    assert f"sample {key!r} again, after other samples" in result.output
    assert str(folder / TRAIN) in result.output
