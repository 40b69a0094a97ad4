"""The verify stage: check a packed folder against its manifest, sample by sample."""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from canvas_data.build_record import (
    BUILD_FILE,
    REPAINT_FLAG,
    check_recipe,
    read_record,
    stale_paintings,
)
from canvas_data.pack.manifest import (
    MANIFEST,
    entry_path,
    manifest_taxonomy,
    read_manifest,
    shard_file,
)
from canvas_data.pack.sample_keys import KeyOwners
from canvas_data.pack.shard_plan import inventory
from canvas_data.pack.tar_samples import iter_samples
from canvas_data.recipe import workspace_recipe
from canvas_data.taxonomy import SEED_STYLE, Taxonomy
from canvas_data.workspace import sha256_file

MEMBERS = ("jpg", "style.cls", "object.cls", "txt", "json")


@dataclass
class VerifyReport:
    """Problems found, each naming the shard (or file) at fault."""

    shards: int = 0
    samples: int = 0
    problems: list[str] = field(default_factory=list)
    workspace: bool = False  # a workspace was checked, not a packed folder

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        verdict = "OK" if self.ok else f"FAILED with {len(self.problems)} problems"
        if self.workspace:
            return f"verified workspace, {self.samples} images: {verdict}"
        return f"verified {self.shards} shards, {self.samples} samples: {verdict}"


def verify_shards(out: Path, *, progress: bool = True) -> VerifyReport:
    """Re-hash every shard, decode every sample, and compare counts per (style, object).

    A key held by two shards (of one split, or of train and test) is a problem naming both.
    """
    out = Path(out)
    report = VerifyReport()
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        report.problems.append(f"{manifest_path}: missing, not a packed folder")
        return report
    manifest = read_manifest(manifest_path)
    try:
        taxonomy = manifest_taxonomy(manifest)
    except ValueError as err:
        report.problems.append(f"{manifest_path}: {err}")
        return report
    listed = {entry_path(s) for s in manifest["shards"]}
    for extra in sorted((out / "data").glob("*.tar")):
        if extra.relative_to(out).as_posix() not in listed:
            report.problems.append(f"{extra}: shard not in the manifest")
    counts: dict[str, Counter[tuple[str, str]]] = {}
    total = sum(s["samples"] for s in manifest["shards"])
    bar = tqdm(total=total, desc="verify", unit="img", disable=not progress)
    owners = KeyOwners()
    for shard in manifest["shards"]:
        report.shards += 1
        try:
            path = shard_file(out, shard)
            problem = _check_file(path, shard)
        except (ValueError, FileNotFoundError) as err:  # unsafe or missing: the entry is named
            problem = str(err)
        if problem:  # reported once; its cells are not reported again as missing samples
            report.problems.append(problem)
            seen = _listed_cells(shard)
        else:
            seen = _check_samples(path, shard, taxonomy, report, owners)
        counts.setdefault(shard["split"], Counter()).update(seen)
        bar.update(shard["samples"])
    bar.close()
    report.problems.extend(_compare_counts(manifest["counts"], counts))
    return report


def is_workspace(folder: Path) -> bool:
    """Whether ``folder`` is a workspace (a build record or seed photos, no manifest)."""
    folder = Path(folder)
    return not (folder / MANIFEST).exists() and (
        (folder / BUILD_FILE).exists() or (folder / SEED_STYLE).is_dir()
    )


def verify_workspace(work: Path) -> VerifyReport:
    """Check a workspace against its build record, before ``shards`` reads it.

    Problems: a damaged record or recipe (one line naming the file), a recipe that contradicts
    the record, paintings whose seed photo or settings have changed since they were made
    (stale, each named with the reason), and the images the build asked for that are missing.
    """
    work = Path(work)
    report = VerifyReport(workspace=True)
    try:
        record = read_record(work)
        recipe = workspace_recipe(work)
        check_recipe(work, record, recipe, "verify")
    except ValueError as err:  # InputError, BuildConflict, a bad recipe.yaml
        report.problems.append(str(err))
        return report
    inv = inventory(work, recipe, record.asked(recipe) if record is not None else None)
    report.samples = len(inv.samples)
    stale = stale_paintings(work, recipe, record, [s.item for s in inv.samples])
    report.problems.extend(
        f"{work / key}.jpg: stale, {why} (run `canvas-build stylize --work {work} {REPAINT_FLAG}`)"
        for key, why in sorted(stale.items())
    )
    report.problems.extend(
        f"{work / key}.jpg: missing, the build asked for it" for key in inv.missing
    )
    return report


def _listed_cells(shard: dict) -> Counter[tuple[str, str]]:
    """The (style, object) counts a shard entry claims."""
    cells = shard.get("counts")
    if not isinstance(cells, dict):
        return Counter()
    return Counter({tuple(str(cell).split("/", 1)): n for cell, n in cells.items()})


def _check_file(path: Path, shard: dict) -> str | None:
    if path.stat().st_size != shard["bytes"]:
        return f"{path}: {path.stat().st_size} bytes, the manifest says {shard['bytes']}"
    if sha256_file(path) != shard["sha256"]:
        return f"{path}: sha256 differs from the manifest (corrupt or changed)"
    return None


def _check_samples(
    path: Path, shard: dict, taxonomy: Taxonomy, report: VerifyReport, owners: KeyOwners
) -> Counter:
    """Decode each sample of one shard; returns the (style, object) counts it holds.

    A member that is not a regular file named ``{Style}/{Object}/{idx}.{ext}`` of the taxonomy
    is reported (shard and member) and skipped; a key that an earlier shard held (``owners``)
    is reported naming both shards.
    """
    seen: Counter[tuple[str, str]] = Counter()
    n = 0
    try:
        for sample in iter_samples(path, taxonomy, on_problem=report.problems.append):
            n += 1
            repeat = owners.claim(sample["__key__"], path, shard["split"])
            if repeat:
                report.problems.append(repeat)
            problem = _check_sample(sample, taxonomy.styles, taxonomy.objects)
            if problem:
                report.problems.append(f"{path}: sample {sample.get('__key__')}: {problem}")
                continue
            meta = json.loads(sample["json"])
            seen[(meta["style"], meta["object"])] += 1
    except Exception as err:  # a broken tar: report it against its shard, go on with the rest
        report.problems.append(f"{path}: unreadable ({type(err).__name__}: {err})")
    report.samples += n
    if n != shard["samples"]:
        report.problems.append(f"{path}: {n} samples, the manifest says {shard['samples']}")
    return seen


def _check_sample(sample: dict, styles: list[str], objects: list[str]) -> str | None:
    missing = [m for m in MEMBERS if m not in sample]
    if missing:
        return f"missing members {missing}"
    try:
        with Image.open(io.BytesIO(sample["jpg"])) as im:
            im.load()
        meta = json.loads(sample["json"])
        style_cls, object_cls = int(sample["style.cls"]), int(sample["object.cls"])
    except (OSError, ValueError) as err:
        return f"does not decode ({err})"
    if not (0 <= style_cls < len(styles) and 0 <= object_cls < len(objects)):
        return f"labels {style_cls}/{object_cls} are outside the taxonomy"
    if styles[style_cls] != meta.get("style") or objects[object_cls] != meta.get("object"):
        return f"labels {style_cls}/{object_cls} disagree with {meta['style']}/{meta['object']}"
    if sample["__key__"] != meta.get("key"):
        return f"key disagrees with its metadata ({meta['key']})"
    return None


def _compare_counts(expected: dict, found: dict[str, Counter]) -> list[str]:
    problems = []
    for split, by_style in expected.items():
        for style, by_object in by_style.items():
            for obj, n in by_object.items():
                got = found.get(split, Counter())[(style, obj)]
                if got != n:
                    problems.append(f"{split} {style}/{obj}: {got} samples, expected {n}")
    return problems
