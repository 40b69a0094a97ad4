"""Tar shards read as untrusted input: members over their size limit or sparse are refused from
their header before any byte is read, a shard that ends early is named by every reader, and
every reader accepts and refuses the same members (one rule: ``tar_samples.check_member``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile

import pytest
from conftest import packed_folder

from canvas_data.limits import MAX_IMAGE_BYTES, MAX_TEXT_BYTES
from canvas_data.loading.loaders import style_classification
from canvas_data.pack.export import export_release
from canvas_data.pack.manifest import read_manifest
from canvas_data.pack.packed import read_index
from canvas_data.pack.shard_index import ShardIndex
from canvas_data.pack.verify import verify_shards
from canvas_data.workspace import sha256_file

TRAIN = "data/train-000000.tar"


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_folder(tmp_path_factory.mktemp("tar-samples"))


@pytest.fixture
def folder(packed, tmp_path):
    return shutil.copytree(packed, tmp_path / "uc")


def rehash(folder):
    """The manifest's sizes and hashes made to match the (tampered) shards again."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["shards"]:
        file = folder / entry["path"]
        entry["sha256"], entry["bytes"] = sha256_file(file), file.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))


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


# The peak resident memory of this process since it started: Linux's VmHWM (ru_maxrss can
# carry the parent's peak across fork and exec), else getrusage.
HIGH_WATER = """
import resource
def peak_kib():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

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
