"""A repeated sample in one tar is one problem, however many members it has: ``iter_samples``
reports each run of repeated members once and skips the rest of that run, and keeps the first
copy of every sample whole."""

from __future__ import annotations

import io
import tarfile

import pytest

from canvas_data.pack.manifest import UnsafeEntry
from canvas_data.pack.tar_samples import iter_samples
from canvas_data.taxonomy import Taxonomy

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
