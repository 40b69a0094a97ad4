"""A packed folder made by someone else is untrusted input: its manifest's shard paths and its
tar members or Parquet rows must not run commands, read outside the folder or write outside
an export folder. Each case tampers with a copy of a tiny packed build."""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from canvas_data.cli.build import main
from canvas_data.loading.loaders import text_to_image
from canvas_data.pack.parquet import verify_packed
from canvas_data.pack.push import plan_push
from canvas_data.pack.shard_index import ShardIndex
from canvas_data.pack.verify import verify_shards
from canvas_data.pipeline import pack_dataset
from canvas_data.workspace import sha256_file

FIRST = "data/train-000000.tar"


@pytest.fixture(scope="module")
def packed(tiny_painted, tmp_path_factory):
    """A tiny packed folder with tars and Parquet files."""
    work, recipe = tiny_painted
    out = tmp_path_factory.mktemp("hostile") / "uc"
    pack_dataset(work, out, recipe=recipe, formats=("webdataset", "parquet"), progress=False)
    return out


@pytest.fixture
def folder(packed, tmp_path):
    """A fresh copy of the packed folder at ``tmp_path / "uc"``."""
    return shutil.copytree(packed, tmp_path / "uc")


def read_manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def write_manifest(folder, manifest):
    (folder / "manifest.json").write_text(json.dumps(manifest))


def point_first_shard(folder, path):
    """Make the manifest's first train shard entry name ``path`` (hash and size unchanged)."""
    manifest = read_manifest(folder)
    assert manifest["shards"][0]["path"] == FIRST
    manifest["shards"][0]["path"] = path
    write_manifest(folder, manifest)


def files_under(root, *, outside_of=None):
    return {
        p
        for p in root.rglob("*")
        if not p.is_dir() and (outside_of is None or not p.is_relative_to(outside_of))
    }


def cli(*args):
    quiet = ["--no-progress"] if args[0] in ("verify", "export") else []
    result = CliRunner().invoke(main, [*args, *quiet])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# --- manifest shard entries ------------------------------------------------------------------


def test_a_pipe_entry_runs_no_command_anywhere(folder, tmp_path, monkeypatch):
    entry = "pipe:touch PWNED x.tar"
    shutil.copyfile(folder / FIRST, folder / entry)  # the file exists, with the listed hash
    point_first_shard(folder, entry)
    monkeypatch.chdir(folder)

    result = cli("verify", ".")
    assert result.exit_code == 1
    named = [line for line in result.output.splitlines() if repr(entry) in line]
    assert len(named) == 1 and "URL or command" in named[0]

    result = cli("export", ".", "--out", str(tmp_path / "export"))
    assert result.exit_code == 1 and repr(entry) in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "export").exists()  # refused before anything is written

    for streaming in (False, True):
        with pytest.raises(ValueError, match="URL or command"):
            text_to_image(".", split="train", streaming=streaming, transform=None)
    result = cli("card", ".")
    assert result.exit_code == 1 and repr(entry) in result.output
    assert any(repr(entry) in p for p in plan_push(folder).problems)
    assert not [p for p in tmp_path.rglob("PWNED*")]
    assert not list(folder.parent.rglob("PWNED*"))


@pytest.mark.parametrize(
    "where, reason",
    [
        ("parent", "outside"),
        ("absolute", "absolute path"),
        ("symlink", "outside"),
        ("directory", "not a regular file"),
        ("url", "URL or command"),
        ("not_tar", "not a .tar file"),
    ],
)
def test_a_shard_entry_outside_the_folder_or_not_a_file_is_refused(folder, tmp_path, where, reason):
    outside = tmp_path / "outside.tar"
    shutil.copyfile(folder / FIRST, outside)  # a valid shard with the listed hash, elsewhere
    entry = {
        "parent": "../outside.tar",
        "absolute": str(outside),
        "symlink": FIRST,
        "directory": "data/folder.tar",
        "url": "file:///" + str(outside),
        "not_tar": "manifest.json",
    }[where]
    if where == "symlink":
        (folder / FIRST).unlink()
        (folder / FIRST).symlink_to(outside)
    elif where == "directory":
        (folder / entry).mkdir()
    point_first_shard(folder, entry)

    report = verify_shards(folder, progress=False)
    named = [p for p in report.problems if repr(entry) in p]
    assert len(named) == 1 and reason in named[0] and "manifest.json" in named[0]
    result = cli("verify", str(folder))
    assert result.exit_code == 1 and repr(entry) in result.output

    before = files_under(tmp_path)
    result = cli("export", str(folder), "--out", str(tmp_path / "export"))
    assert result.exit_code == 1 and reason in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert files_under(tmp_path) == before

    with pytest.raises(ValueError, match=reason):
        text_to_image(folder, split="train", transform=None)
    with pytest.raises(ValueError, match=reason):
        text_to_image(folder, split="train", streaming=True, transform=None)
    with pytest.raises(ValueError, match=reason):
        ShardIndex(folder)
    for command in ("card", "preview"):
        result = cli(command, str(folder))
        assert result.exit_code == 1 and reason in result.output
    assert any(reason in p for p in plan_push(folder).problems)


def test_a_symlinked_shard_inside_the_folder_is_read(folder):
    store = folder / "store"
    store.mkdir()
    (folder / FIRST).rename(store / "kept.tar")
    (folder / FIRST).symlink_to(store / "kept.tar")
    assert verify_shards(folder, progress=False).ok
    assert len(text_to_image(folder, split="train", transform=None)) > 0


def test_a_missing_shard_names_its_entry(folder):
    (folder / FIRST).unlink()
    report = verify_shards(folder, progress=False)
    assert any(repr(FIRST) in p and "missing" in p for p in report.problems)
    with pytest.raises(FileNotFoundError, match=FIRST):
        text_to_image(folder, split="train", streaming=True, transform=None)


# --- tar members ---------------------------------------------------------------------------


def rewrite_first_shard(folder, change):
    """Rewrite the first tar with ``change(members)`` (a list of (TarInfo, bytes | None)), and
    list the new hash and size in the manifest, as a careful forger would."""
    path = folder / FIRST
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    members = change(members)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(buf.getvalue())
    manifest = read_manifest(folder)
    manifest["shards"][0].update(bytes=path.stat().st_size, sha256=sha256_file(path))
    write_manifest(folder, manifest)
    return members


def renamed_copy(key):
    """A change that adds a full copy of the first sample under ``key``."""

    def change(members):
        first = members[0][0].name.split(".")[0]
        copies = []
        for info, data in members:
            if info.name.split(".")[0] == first:
                clone = tarfile.TarInfo(key + info.name[len(first) :])
                clone.size, clone.mtime, clone.mode = len(data), info.mtime, info.mode
                copies.append((clone, data))
        return copies + members

    return change


def check_refused(folder, tmp_path, member, reason):
    """verify, export, the loaders and the card refuse, naming the shard and the member."""
    report = verify_shards(folder, progress=False)
    named = [p for p in report.problems if repr(member) in p]
    assert named and all("train-000000.tar" in p and reason in p for p in named)
    result = cli("verify", str(folder))
    assert result.exit_code == 1 and repr(member) in result.output

    before = files_under(tmp_path, outside_of=tmp_path / "export")
    result = cli("export", str(folder), "--out", str(tmp_path / "export"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and repr(member) in lines[0] and reason in lines[0]
    assert "train-000000.tar" in lines[0]
    assert files_under(tmp_path, outside_of=tmp_path / "export") == before

    with pytest.raises(ValueError, match=reason):
        text_to_image(folder, split="train", transform=None)
    with pytest.raises(ValueError, match=reason):
        list(text_to_image(folder, split="train", streaming=True, transform=None))
    result = cli("card", str(folder))
    assert result.exit_code == 1 and repr(member) in result.output


@pytest.mark.parametrize(
    "key, reason",
    [
        ("../../evil/x", "not {Style}/{Object}/{idx}"),
        ("ABSOLUTE", "not {Style}/{Object}/{idx}"),
        ("../evil/1", "style '..'"),
        ("Not_A_Style/Cats/1", "style 'Not_A_Style'"),
        ("Monet/Unicorns/1", "object 'Unicorns'"),
        ("Monet/Cats/0", "not a positive integer"),
        ("Monet/Cats/x", "not a positive integer"),
        ("Monet/Cats/007", "not a positive integer"),
    ],
)
def test_a_member_key_outside_the_layout_is_refused(folder, tmp_path, key, reason):
    if key == "ABSOLUTE":
        key = str(tmp_path / "abs" / "x")
    rewrite_first_shard(folder, renamed_copy(key))
    check_refused(folder, tmp_path, f"{key}.jpg", reason)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "abs").exists()
    assert not (tmp_path / "export" / "evil").exists()


@pytest.mark.parametrize(
    "kind, reason",
    [
        (tarfile.SYMTYPE, "a symbolic link"),
        (tarfile.LNKTYPE, "a hard link"),
        (tarfile.DIRTYPE, "a directory"),
        (tarfile.CHRTYPE, "a device"),
        (tarfile.FIFOTYPE, "a device or FIFO"),
    ],
)
def test_a_member_that_is_not_a_regular_file_is_refused(folder, tmp_path, kind, reason):
    def change(members):
        info, _ = next((i, d) for i, d in members if i.name.endswith(".jpg"))
        link = tarfile.TarInfo(info.name)
        link.type, link.linkname = kind, "/etc/passwd"
        return [(link, None) if i is info else (i, d) for i, d in members]

    members = rewrite_first_shard(folder, change)
    member = next(i.name for i, _ in members if i.type == kind)
    check_refused(folder, tmp_path, member, reason)


# --- Parquet rows --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["../../evil/1", "Not_A_Style/Cats/1", "Monet/Cats/-1"])
def test_a_parquet_row_key_outside_the_layout_is_refused(folder, tmp_path, key):
    shutil.rmtree(folder / "data")
    manifest = read_manifest(folder)
    manifest["shards"] = []
    part = manifest["parquet"][0]
    path = folder / part["path"]
    table = pq.read_table(path)
    keys = table.column("key").to_pylist()
    keys[0] = key
    table = table.set_column(table.schema.get_field_index("key"), "key", [keys])
    pq.write_table(table, path)
    part.update(bytes=path.stat().st_size, sha256=sha256_file(path))
    write_manifest(folder, manifest)

    report = verify_packed(folder, progress=False)
    assert any(repr(key) in p and path.name in p for p in report.problems)
    result = cli("verify", str(folder))
    assert result.exit_code == 1 and repr(key) in result.output
    before = files_under(tmp_path, outside_of=tmp_path / "export")
    result = cli("export", str(folder), "--out", str(tmp_path / "export"))
    assert result.exit_code == 1 and repr(key) in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert files_under(tmp_path, outside_of=tmp_path / "export") == before


def test_an_untampered_copy_still_verifies_exports_and_loads(folder, tmp_path):
    assert verify_packed(folder, progress=False).ok
    result = cli("export", str(folder), "--out", str(tmp_path / "export"))
    assert result.exit_code == 0, result.output
    streamed = list(text_to_image(folder, split="train", streaming=True, transform=None))
    assert len(streamed) == len(text_to_image(folder, split="train", transform=None)) > 0
