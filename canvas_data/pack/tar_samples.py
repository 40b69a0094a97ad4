"""Samples of a local tar shard, read with ``tarfile`` from a file opened here.

Shards are opened as files and read member by member, never handed to webdataset as URLs
(webdataset runs ``pipe:cmd`` as a shell command). Every member must be a regular file named
``{Style}/{Object}/{idx}.{ext}`` with names of the manifest's taxonomy (see
``canvas_data.pack.manifest.check_key``). Consecutive members with the same key form one
sample, as webdataset groups them: ``{"__key__": key, "__url__": path, ext: bytes, ...}``.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from canvas_data.limits import MAX_IMAGE_BYTES, MAX_TEXT_BYTES, too_large
from canvas_data.pack.manifest import UnsafeEntry, check_key
from canvas_data.taxonomy import Taxonomy

_MEMBER = re.compile(r"((?:.*/|)[^.]+)[.]([^/]*)")  # webdataset's key/extension split (fullmatch)
_EXT = re.compile(r"[a-z0-9][a-z0-9._-]*")  # as the writer writes them: lower case (fullmatch)
IMAGE_EXT = "jpg"
_KINDS = (
    (tarfile.TarInfo.issym, "a symbolic link"),
    (tarfile.TarInfo.islnk, "a hard link"),
    (tarfile.TarInfo.isdir, "a directory"),
    (tarfile.TarInfo.isdev, "a device or FIFO"),
)


def check_member(member: tarfile.TarInfo, taxonomy: Taxonomy) -> tuple[str, str]:
    """``(key, extension)`` of a tar member, from its header alone (no data is read).

    The one rule every reader of a tar shard applies (verify, export, both loaders, the card's
    index): ``UnsafeEntry`` with the reason when the member is not a regular file (a link,
    folder, device or a sparse file), its name is not ``{Style}/{Object}/{idx}.{ext}`` of
    ``taxonomy`` with a lower-case extension, or it declares more bytes than such a member may
    hold (``MAX_IMAGE_BYTES`` for the ``jpg`` image, ``MAX_TEXT_BYTES`` for the others).
    """
    for test, kind in _KINDS:
        if test(member):
            raise UnsafeEntry(f"{kind}, not a regular file")
    if not member.isreg():
        raise UnsafeEntry("not a regular file")
    if member.issparse():
        raise UnsafeEntry("a sparse file, not a plain regular file")
    match = _MEMBER.fullmatch(member.name)
    if not match:
        raise UnsafeEntry("name is not {Style}/{Object}/{idx}.{ext}")
    check_key(match[1], taxonomy)
    ext = match[2]
    if not _EXT.fullmatch(ext):
        raise UnsafeEntry(f"extension {ext!r} is not lower-case letters, digits, '.', '_' or '-'")
    limit = MAX_IMAGE_BYTES if ext == IMAGE_EXT else MAX_TEXT_BYTES
    reason = too_large(member.size, limit)
    if reason:
        raise UnsafeEntry(reason)
    return match[1], ext


def member_error(path: Path | str, member: tarfile.TarInfo, err: Exception) -> UnsafeEntry:
    """The one-line error naming the shard and the member."""
    return UnsafeEntry(f"{path}: member {member.name!r}: {err}")


def iter_samples(
    path: Path | str,
    taxonomy: Taxonomy,
    *,
    select: Callable[[str], bool] | None = None,
    on_problem: Callable[[str], None] | None = None,
    expected: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The samples of one tar file, in file order, each member read once. A sample's members are
    adjacent, and a key that comes back after other samples is a bad member.

    ``select(extension)`` keeps only some members (the others are checked, not read).
    ``expected``: the number of samples the manifest gives the shard; a shard that holds
    another number (a damaged header ends a tar early without an error) raises ``ValueError``
    naming it once its end is reached (or passes the message to ``on_problem``).
    A bad member raises ``UnsafeEntry`` naming ``path`` and the member, or, with ``on_problem``,
    is passed to it as that one-line message and skipped. A repeat (a key that comes back after
    other samples, or a second member of one extension) is reported once per run of adjacent
    members with one key; the run's other repeated members are skipped silently. A damaged tar
    raises ``ValueError``.
    """
    sample: dict[str, Any] | None = None
    seen: set[str] = set()  # the keys of this file so far: a sample's members are adjacent
    run: str | None = None  # the key of the current run of adjacent members
    run_exts: set[str] = set()  # the extensions the run has had
    again = False  # the run's key came before, after other samples: the whole run is a repeat
    reported = False  # a repeat of this run was reported: its other repeats are skipped
    with open(path, "rb") as f:
        try:
            with tarfile.open(fileobj=f, mode="r|") as tar:
                for member in tar:
                    try:
                        key, ext = check_member(member, taxonomy)
                    except UnsafeEntry as err:
                        _bad_member(path, member, err, on_problem)
                        continue
                    if key != run:
                        run, run_exts, again, reported = key, set(), key in seen, False
                    if again or ext in run_exts:
                        if not reported:
                            reported = True
                            why = (
                                f"sample {key!r} again, after other samples (a key is used once"
                                " per shard)"
                                if again
                                else f"a second {ext!r} member of sample {key!r}"
                            )
                            _bad_member(path, member, UnsafeEntry(why), on_problem)
                        continue
                    seen.add(key)
                    run_exts.add(ext)
                    if select is not None and not select(ext):
                        continue
                    data = tar.extractfile(member).read()
                    tar.members = []  # a stream: keep no headers
                    if sample is None or key != sample["__key__"]:
                        if sample is not None:
                            yield sample
                        sample = {"__key__": key, "__url__": str(path)}
                    sample[ext] = data
        except (tarfile.TarError, EOFError) as err:
            raise ValueError(f"{path}: not a readable tar ({type(err).__name__}: {err})") from err
    if sample is not None:
        yield sample
    if expected is not None and len(seen) != expected:
        message = count_error(path, len(seen), expected)
        if on_problem is None:
            raise ValueError(message)
        on_problem(message)


def count_error(path: Path | str, found: int, expected: int) -> str:
    """The one line for a shard that holds another number of samples than its manifest says."""
    return f"{path}: {found} samples, the manifest says {expected} (damaged or changed shard)"


def _bad_member(
    path: Path | str,
    member: tarfile.TarInfo,
    err: UnsafeEntry,
    on_problem: Callable[[str], None] | None,
) -> None:
    """Raise the one-line error naming ``path`` and ``member``, or pass it to ``on_problem``."""
    if on_problem is None:
        raise member_error(path, member, err) from None
    on_problem(str(member_error(path, member, err)))


def tar_samples(
    sources: Iterable[dict[str, Any]],
    taxonomy: Taxonomy,
    select: Callable[[str], bool] | None = None,
    expected: dict[str, int] | None = None,
) -> Iterator[dict[str, Any]]:
    """A webdataset pipeline stage: ``{"url": file}`` items (file paths already checked by
    ``canvas_data.pack.manifest.shard_file``) in, the samples of each file out.

    ``expected`` maps a file to its manifest's sample count: a file read to its end with
    another count raises ``ValueError`` naming it."""
    for source in sources:
        url = source["url"]
        count = expected.get(url) if expected is not None else None
        yield from iter_samples(url, taxonomy, select=select, expected=count)
