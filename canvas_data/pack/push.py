"""Upload a packed folder to the Hugging Face Hub as a dataset repository.

``plan_push`` lists what would go (the same file filter the upload uses: everything but hidden
files and folders such as ``.pack/``) and checks that the card is what the Hub expects: YAML
``configs`` whose ``data_files`` match files of the folder, ``dataset_info`` features that
``datasets`` can read, no loading script, every shard of the manifest present at its size, no
folder or file over the Hub's limits, only regular files (no symbolic link, whatever it points
to), and the folder as ``verify`` finds it (hashes, members, samples). ``push_folder`` then
uploads with ``huggingface_hub``:
``upload_large_folder`` where the installed version has it, else ``upload_folder`` (which, with
``hf_xet``, commits in batches and resumes when rerun); both skip what is already uploaded.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub.utils import filter_repo_objects

from canvas_data.pack.manifest import read_manifest, shard_file

IGNORE = [".*", "*/.*"]  # hidden files and folders: .pack/, .export/, partial writes, caches
MAX_FILE_BYTES = 50_000_000_000  # the Hub refuses larger files
MAX_FILES_PER_FOLDER = 10_000  # the Hub's recommended limit per folder


@dataclass
class PushPlan:
    """What a push would upload, and what is wrong with the folder."""

    folder: Path
    files: list[tuple[str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def summary(self) -> str:
        return f"{len(self.files)} files, {self.total_bytes / 1e6:,.1f} MB"


def plan_push(folder: Path, *, verify: bool = True) -> PushPlan:
    """The files a push of ``folder`` uploads, and the problems that would make it a bad repo.

    Only regular files inside the folder go: a symbolic link (to a file or a folder, inside or
    outside) or a FIFO or device is a problem naming it, never followed. With ``verify`` the
    folder is also checked as ``canvas-build verify`` checks it (every shard's size and sha256,
    every member and sample) before anything is uploaded.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    chosen, not_regular = _regular_files(folder)
    plan = PushPlan(folder, [(rel, (folder / rel).stat().st_size) for rel in chosen])
    plan.problems = (
        not_regular + check_card(folder, chosen) + _check_manifest(folder, chosen) + _limits(plan)
    )
    if verify and not plan.problems:
        from canvas_data.pack.parquet import verify_packed

        plan.problems += verify_packed(folder, progress=False).problems
    return plan


def _regular_files(folder: Path) -> tuple[list[str], list[str]]:
    """(the regular files a push uploads, relative; one problem per link or special file).

    Hidden files and folders are left out (``IGNORE``); links are neither followed nor listed."""
    files, problems = [], []
    for dirpath, dirnames, filenames in os.walk(folder):  # links to folders are not entered
        base = Path(dirpath)
        for name in sorted(dirnames) + sorted(filenames):
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if not list(filter_repo_objects([rel], ignore_patterns=IGNORE)):
                continue
            if path.is_symlink():
                problems.append(
                    f"{path}: a symbolic link (to {os.readlink(path)}); only regular files inside"
                    " the folder are uploaded"
                )
            elif name in filenames and not stat.S_ISREG(path.lstat().st_mode):
                problems.append(f"{path}: not a regular file (a FIFO, socket or device)")
            elif name in filenames:
                files.append(rel)
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
    return sorted(files), problems


def check_card(folder: Path, files: list[str]) -> list[str]:
    """Problems of the dataset card ``README.md`` as the Hub and ``datasets`` read it."""
    from datasets import Features
    from huggingface_hub import DatasetCard

    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return [f"{readme}: missing (the dataset card)"]
    try:
        data = DatasetCard.load(readme).data.to_dict()
    except Exception as err:  # a card that does not parse: report it as one line
        return [f"{readme}: the YAML header does not parse ({err})"]
    problems = []
    configs = data.get("configs") or []
    if not configs:
        problems.append(f"{readme}: no `configs` in the YAML header")
    names = [c.get("config_name", "default") for c in configs]
    for config in configs:
        for entry in config.get("data_files") or []:
            pattern = entry.get("path", "")
            if not any(fnmatch.fnmatch(f, pattern) for f in files):
                problems.append(
                    f"{readme}: config {config.get('config_name')!r} split "
                    f"{entry.get('split')!r}: {pattern} matches no file"
                )
    infos = data.get("dataset_info") or []
    for info in infos if isinstance(infos, list) else [infos]:
        name = info.get("config_name", "default")
        if name not in names:
            problems.append(f"{readme}: dataset_info for {name!r}, which is not a config")
        try:
            Features._from_yaml_list(info.get("features", []))
        except Exception as err:  # datasets raises several types on bad YAML features
            problems.append(f"{readme}: dataset_info {name!r} features do not parse ({err})")
    scripts = [f for f in files if "/" not in f and f.endswith(".py")]
    if scripts:
        problems.append(f"{folder}: loading scripts {scripts} are not supported by datasets>=4")
    return problems


def _check_manifest(folder: Path, files: list[str]) -> list[str]:
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return [f"{path}: missing, not a packed folder"]
    try:
        manifest = read_manifest(path)
    except ValueError as err:
        return [str(err)]
    present = set(files)
    problems = []
    listed = [("shards", s) for s in manifest.get("shards", [])]
    for kind, shard in listed + [("parquet", s) for s in manifest.get("parquet", [])]:
        try:
            file = shard_file(folder, shard, kind)
        except ValueError as err:  # a URL, a path outside the folder, not a file
            problems.append(str(err))
            continue
        except FileNotFoundError:
            file = Path(folder) / shard["path"]
        if shard["path"] not in present:
            problems.append(f"{file}: listed in the manifest, missing")
        elif file.stat().st_size != shard["bytes"]:
            problems.append(
                f"{file}: {file.stat().st_size} bytes, the manifest says {shard['bytes']}"
            )
    return problems


def _limits(plan: PushPlan) -> list[str]:
    problems = [
        f"{plan.folder / rel}: {size / 1e9:.1f} GB, over the Hub's 50 GB per file"
        for rel, size in plan.files
        if size > MAX_FILE_BYTES
    ]
    per_folder: dict[str, int] = {}
    for rel, _ in plan.files:
        parent = rel.rsplit("/", 1)[0] if "/" in rel else "."
        per_folder[parent] = per_folder.get(parent, 0) + 1
    problems += [
        f"{plan.folder / parent}: {n} files, over the Hub's {MAX_FILES_PER_FOLDER:,} per folder"
        for parent, n in per_folder.items()
        if n > MAX_FILES_PER_FOLDER
    ]
    return problems


def push_folder(
    folder: Path,
    repo_id: str,
    *,
    dry_run: bool = False,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
) -> PushPlan:
    """Upload ``folder`` to the dataset repo ``repo_id`` (created if needed); resumable.

    Refuses (``ValueError``) a folder with problems. With ``dry_run`` nothing is contacted: the
    plan says what would go.
    """
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"repo id {repo_id!r}: expected ORG/NAME")
    plan = plan_push(folder)
    if plan.problems:
        raise ValueError(f"{folder}: {len(plan.problems)} problems, first: {plan.problems[0]}")
    if dry_run:
        return plan
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    upload_large_folder = getattr(api, "upload_large_folder", None)
    if upload_large_folder is not None:
        upload_large_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="dataset",
            revision=revision,
            private=private,
            ignore_patterns=IGNORE,
        )
    else:
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="dataset",
            revision=revision,
            ignore_patterns=list(IGNORE),
            delete_patterns=["data/*.tar", "parquet/*.parquet"],  # shards of an older build
            commit_message=f"Upload {Path(folder).name} with canvas_data",
        )
    return plan
