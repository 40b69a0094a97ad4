"""A repeated sample in one tar is one problem, however many members it has: ``iter_samples``
reports each run of repeated members once and skips the rest of that run, and keeps the first
copy of every sample whole."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile

import pytest
from click.testing import CliRunner
from peak_memory import HIGH_WATER
from PIL import Image

from canvas_data.cli.build import main
from canvas_data.limits import MAX_IMAGE_BYTES, MAX_TEXT_BYTES
from canvas_data.loading.loaders import style_classification
from canvas_data.pack.export import export_release
from canvas_data.pack.manifest import UnsafeEntry, read_manifest
from canvas_data.pack.packed import read_index
from canvas_data.pack.shard_index import ShardIndex
from canvas_data.pack.tar_samples import iter_samples
from canvas_data.pack.verify import verify_shards
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


# --- members over their size limit, shards that end early, one member-name rule ---


def header(info: tarfile.TarInfo, fmt=tarfile.GNU_FORMAT) -> bytes:
    return info.tobuf(fmt, "utf-8", "surrogateescape")


def sparse_header(name: str, declared: int) -> bytes:
    """A GNU sparse member header: no data stored, ``declared`` bytes of zeros when read."""
    info = tarfile.TarInfo(name)
    info.type, info.size = tarfile.GNUTYPE_SPARSE, 0
    buf = bytearray(header(info))
    # one sparse entry (offset declared-1, 0 bytes) and the real size, as GNU tar writes them
    buf[386:398] = tarfile.itn(declared - 1, 12, tarfile.GNU_FORMAT)
    buf[398:410] = tarfile.itn(0, 12, tarfile.GNU_FORMAT)
    buf[483:495] = tarfile.itn(declared, 12, tarfile.GNU_FORMAT)
    buf[148:155] = b"%06o\0" % tarfile.calc_chksums(bytes(buf))[0]
    return bytes(buf)


def add_first(tar_path, raw: bytes):
    """Put ``raw`` (headers and data) before the shard's own members."""
    tar_path.write_bytes(raw + tar_path.read_bytes())


def oversized_cases(folder):
    """Members that declare more than such a member may hold, by kind."""
    return {
        "sparse image": sparse_header("Monet/Cats/9.jpg", 256 << 20),
        "sparse json": sparse_header("Monet/Cats/9.json", 64 << 20),
        "image over the limit": _declared("Monet/Cats/9.jpg", MAX_IMAGE_BYTES + 1),
        "text member over the limit": _declared("Monet/Cats/9.txt", MAX_TEXT_BYTES + 1),
    }


def _declared(name, size):
    """A regular member header declaring ``size`` bytes, followed by 1 KB (the tar ends)."""
    info = tarfile.TarInfo(name)
    info.size = size
    return header(info) + bytes(1024)


READERS = {
    "verify": lambda f: _problems(verify_shards(f, progress=False)),
    "export": lambda f: export_release(f, f.parent / "export", progress=False),
    "index": lambda f: ShardIndex(f),
    "card index": lambda f: _problems(read_index(f, read_manifest(f / "manifest.json"))),
    "map-style": lambda f: [style_classification(f, transform=None)[i] for i in range(1)],
    "streaming": lambda f: list(style_classification(f, streaming=True, transform=None)),
}


def _problems(report):
    if report.problems:
        raise ValueError("; ".join(report.problems))
    return report


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize(
    "case", ["sparse image", "sparse json", "image over the limit", "text member over the limit"]
)
def test_oversized_member_refused_by_every_reader(folder, reader, case):
    add_first(folder / TRAIN, oversized_cases(folder)[case])
    rehash(folder)
    with pytest.raises(ValueError, match=r"train-000000\.tar.*(sparse|over the limit)"):
        READERS[reader](folder)


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("name", ["Monet/Cats/1.JPG", "Monet/Cats/1.Jpg", "Monet/Cats/1.jpg\n"])
def test_member_name_rule_is_the_same_for_every_reader(folder, reader, name):
    info = tarfile.TarInfo(name)
    info.size = 3
    add_first(folder / TRAIN, header(info) + b"abc".ljust(512, b"\0"))
    rehash(folder)
    with pytest.raises(ValueError, match="train-000000"):
        READERS[reader](folder)


def flip_header_bit(tar_path, member_no: int):
    """Flip one bit in the name of the ``member_no``-th member's header (checksum now wrong)."""
    with tarfile.open(tar_path) as tar:
        offset = tar.getmembers()[member_no].offset
    data = bytearray(tar_path.read_bytes())
    data[offset + 3] ^= 0x04
    tar_path.write_bytes(bytes(data))


def cut_at_member(tar_path, member_no: int):
    with tarfile.open(tar_path) as tar:
        offset = tar.getmembers()[member_no].offset
    tar_path.write_bytes(tar_path.read_bytes()[:offset])


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize(
    "damage",
    [
        lambda p: flip_header_bit(p, 5),  # second sample's first member
        lambda p: flip_header_bit(p, 10),
        lambda p: cut_at_member(p, 10),  # cut short at a header boundary
    ],
    ids=["bit-sample-2", "bit-sample-3", "cut"],
)
def test_shard_that_ends_early_is_named(folder, reader, damage):
    damage(folder / TRAIN)  # the manifest is left as it was
    with pytest.raises(ValueError, match=r"train-000000\.tar"):
        READERS[reader](folder)


def test_style_name_with_final_newline_is_refused(folder, tmp_path):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["taxonomy"] = {"styles": ["Monet\n", "Seed_Images"], "objects": "release-20"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="letters, digits"):
        export_release(folder, tmp_path / "export", progress=False)
    assert not list((tmp_path / "export").glob("*\n*"))


PEAK = (
    HIGH_WATER
    + """
import resource, sys
from canvas_data.pack.verify import verify_shards
report = verify_shards(sys.argv[1], progress=False)
print(peak_kib() // 1024, len(report.problems))
"""
)


def peak_mib(folder) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(folder)], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    peak, problems = out.stdout.split()
    return int(peak), int(problems)


def test_verify_memory_is_bounded_by_limits_not_by_declared_sizes(folder, packed):
    declared = 512 << 20  # the member declares 512 MiB; the tar file is a few KB larger
    add_first(folder / TRAIN, sparse_header("Monet/Cats/9.jpg", declared))
    rehash(folder)
    honest, honest_problems = peak_mib(packed)
    hostile, problems = peak_mib(folder)
    assert honest_problems == 0 and problems > 0
    assert hostile - honest < 64, (honest, hostile)
