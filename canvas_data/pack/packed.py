"""Read a packed folder back, cheaply: an index of its samples and single images by offset.

The card, the preview and the Croissant metadata describe what the shards hold, so they read the
shards rather than the workspace. Tar headers are read without reading the data they announce;
only the small ``json`` members and the first bytes of each JPEG (its size) are read, so indexing
the full dataset costs seconds, not a pass over every image byte.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm.auto import tqdm

from canvas_data.atomic import write_text
from canvas_data.escape import csv_row
from canvas_data.pack.manifest import UnsafeEntry, entry_path, manifest_taxonomy, shard_file
from canvas_data.pack.tar_samples import check_member, member_error
from canvas_data.public_url import public_url
from canvas_data.taxonomy import SEED_STYLE, Taxonomy

SAMPLES_CSV = "samples.csv"

# Provenance keys that differ from image to image or from style to style: not build settings.
_PER_ITEM = {
    "key", "style", "object", "idx", "seed_photo", "seed_photo_sha256", "seed", "recipe",
    "recipe_sha256", "toolkit_version", "backend", "chain", "prompt", "negative_prompt",
    "ip_adapter_references",
}  # fmt: skip
_MAX_VALUES = 5  # distinct values kept per setting


@dataclass(frozen=True)
class Row:
    """One packed sample, as ``samples.csv`` lists it (``offset`` locates its JPEG bytes)."""

    key: str
    split: str
    shard: str
    style: str
    style_index: int
    object: str
    object_index: int
    idx: int
    seed_key: str
    caption: str
    width: int
    height: int
    bytes: int
    offset: int = field(default=0, compare=False)


CSV_COLUMNS = [f.name for f in fields(Row) if f.name != "offset"]


@dataclass
class Provenance:
    """What the samples' provenance says about how they were made."""

    backends: Counter[str] = field(default_factory=Counter)
    settings: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    toolkit_versions: Counter[str] = field(default_factory=Counter)
    recipe_hashes: Counter[str] = field(default_factory=Counter)
    photo_licences: Counter[str] = field(default_factory=Counter)
    photo_authors: Counter[str] = field(default_factory=Counter)
    photo_files: dict[str, str] = field(default_factory=dict)  # seed key -> source file name
    photo_credits: dict[str, dict[str, str]] = field(default_factory=dict)  # web photos by key

    def add(self, style: str, prov: dict[str, Any] | None, key: str = "") -> None:
        if style == SEED_STYLE:
            prov = prov or {}
            if prov.get("source_path"):
                self.photo_files[key] = Path(str(prov["source_path"])).name
            self.photo_licences[_one_line(prov.get("licence")) or "not recorded"] += 1
            if prov.get("author"):
                self.photo_authors[_one_line(prov["author"])] += 1
            if prov.get("source_url"):
                self.photo_credits[key] = {
                    name: _one_line(prov.get(name)) or ""
                    for name in ("author", "licence", "source_page", "source_url")
                }
                for name in ("source_page", "source_url"):  # a sidecar written by anyone
                    self.photo_credits[key][name] = public_url(self.photo_credits[key][name])
            return
        if not prov:
            self.backends["unknown"] += 1
            return
        backend = str(prov.get("backend", "unknown"))
        self.backends[backend] += 1
        if prov.get("toolkit_version"):
            self.toolkit_versions[str(prov["toolkit_version"])] += 1
        if prov.get("recipe_sha256"):
            self.recipe_hashes[str(prov["recipe_sha256"])] += 1
        settings = self.settings.setdefault(backend, {})
        for name, value in prov.items():
            if name in _PER_ITEM:
                continue
            seen = settings.setdefault(name, Counter())
            text = _setting_text(value)
            if text in seen or len(seen) < _MAX_VALUES:
                seen[text] += 1

    def model_ids(self) -> list[str]:
        """Distinct values of every setting whose name mentions a model, adapter or ControlNet."""
        found = []
        for settings in self.settings.values():
            for name, values in settings.items():
                if any(w in name.lower() for w in ("model", "adapter", "controlnet")):
                    found.extend(f"{name}: {v}" for v in values if v not in ("", "null"))
        return found


@dataclass
class PackedIndex:
    """Every sample of a packed folder, in key order, and a summary of their provenance."""

    rows: list[Row] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)
    problems: list[str] = field(default_factory=list)

    def cells(self) -> dict[tuple[str, str], list[Row]]:
        """Rows per (style, object), each list sorted by photo idx."""
        out: dict[tuple[str, str], list[Row]] = {}
        for row in self.rows:
            out.setdefault((row.style, row.object), []).append(row)
        for rows in out.values():
            rows.sort(key=lambda r: r.idx)
        return out


def read_index(
    out: Path,
    manifest: dict[str, Any],
    *,
    progress: bool = False,
    written: dict[str, list[tuple[bytes, dict]]] | None = None,
) -> PackedIndex:
    """Index every shard the manifest lists; an unreadable shard is named in ``problems``.

    ``written`` maps a shard's path (as the manifest gives it) to what its writer already knows:
    per sample, its ``json`` member (bytes) and ``{"width", "height", "bytes", "offset"}`` of its
    JPEG. Those shards are not read again; the others are read as described above.

    Raises ``UnsafeEntry`` (a ``ValueError``) for a shard entry that leaves the folder or is not
    a file, and for a tar member that is not a regular file named by a key of the taxonomy.
    """
    out = Path(out)
    taxonomy = manifest_taxonomy(manifest)
    style_index = {s: i for i, s in enumerate(taxonomy.styles)}
    object_index = {o: i for i, o in enumerate(taxonomy.objects)}
    index = PackedIndex()
    total = sum(s["samples"] for s in manifest["shards"])
    bar = tqdm(total=total, desc="index", unit="img", disable=not progress)
    for shard in manifest["shards"]:
        try:
            if written and entry_path(shard) in written:
                parsed = ((json.loads(m), jpg) for m, jpg in written[entry_path(shard)])
                rows = sorted(parsed, key=lambda r: r[0]["key"])
                for meta, _ in rows:
                    index.provenance.add(meta["style"], meta.get("provenance"), meta["key"])
            else:
                rows = _read_shard(shard_file(out, shard), taxonomy, index.provenance)
        except UnsafeEntry:
            raise
        except (OSError, tarfile.TarError, ValueError, KeyError) as err:
            index.problems.append(f"{out / shard['path']}: cannot index ({err})")
            continue
        if len(rows) != shard["samples"]:  # a tar cut short ends early without an error
            index.problems.append(
                f"{out / shard['path']}: {len(rows)} samples, the manifest says {shard['samples']}"
            )
        for meta, jpg in rows:
            index.rows.append(
                Row(
                    key=meta["key"],
                    split=meta["split"],
                    shard=shard["path"],
                    style=meta["style"],
                    style_index=style_index[meta["style"]],
                    object=meta["object"],
                    object_index=object_index[meta["object"]],
                    idx=int(meta["idx"]),
                    seed_key=meta["seed_key"],
                    caption=meta["caption"],
                    **jpg,
                )
            )
        bar.update(shard["samples"])
    bar.close()
    index.rows.sort(key=lambda r: (r.style_index, r.object_index, r.idx))
    return index


def _read_shard(path: Path, taxonomy: Taxonomy, provenance: Provenance) -> list[tuple[dict, dict]]:
    """(metadata, jpg facts) per sample of one shard, reading only json members and JPEG heads."""
    metas: dict[str, dict] = {}
    jpgs: dict[str, dict] = {}
    with tarfile.open(path, "r:") as tar:
        for member in tar:
            try:
                key, ext = check_member(member, taxonomy)
            except UnsafeEntry as err:
                raise member_error(path, member, err) from None
            if ext == "json":
                meta = json.loads(_extract(tar, member).read())
                said = [meta.get(k) for k in ("style", "object")] if isinstance(meta, dict) else []
                if said != key.split("/")[:2] or meta.get("key") != key:
                    raise ValueError(f"{member.name}: metadata disagrees with its key {key!r}")
                metas[key] = meta
            elif ext == "jpg":
                with Image.open(_extract(tar, member)) as im:
                    width, height = im.size
                jpgs[key] = {
                    "width": width,
                    "height": height,
                    "bytes": member.size,
                    "offset": member.offset_data,
                }
    missing = sorted(set(metas) ^ set(jpgs))
    if missing:
        raise ValueError(f"samples without both jpg and json: {', '.join(missing[:5])}")
    for meta in metas.values():
        provenance.add(meta["style"], meta.get("provenance"), meta["key"])
    return [(metas[k], jpgs[k]) for k in sorted(metas)]


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo):
    f = tar.extractfile(member)
    if f is None:
        raise ValueError(f"{member.name}: not a regular file")
    return f


def image_bytes(out: Path, row: Row) -> bytes:
    """The JPEG bytes of one sample, read at its offset in its shard."""
    with open(Path(out) / row.shard, "rb") as f:
        f.seek(row.offset)
        data = f.read(row.bytes)
    if len(data) != row.bytes:
        raise ValueError(f"{Path(out) / row.shard}: truncated at {row.key}")
    return data


def open_image(out: Path, row: Row, *, min_size: int | None = None) -> Image.Image:
    """One sample's image, decoded to RGB.

    ``min_size``: the image may come back smaller, as long as both sides are at least this many
    pixels: a JPEG is then decoded at 1/2, 1/4 or 1/8 scale where that is enough
    (``canvas_data.images.decode``), several times faster than in full. ``ValueError`` or
    ``OSError`` when it does not decode.
    """
    data = image_bytes(out, row)
    if min_size is not None:
        from canvas_data.images.decode import decode_image

        name = f"{Path(out) / row.shard}: {row.key}"
        return Image.fromarray(decode_image(data, min_size=min_size, name=name))
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def samples_csv(index: PackedIndex) -> str:
    """``samples.csv``: one line per sample (class order) with labels, split, shard, image size."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in index.rows:
        writer.writerow(csv_row({k: v for k, v in asdict(row).items() if k in CSV_COLUMNS}))
    return buf.getvalue()


def write_samples_csv(out: Path, index: PackedIndex) -> Path:
    """Write ``out/samples.csv``."""
    path = Path(out) / SAMPLES_CSV
    write_text(path, samples_csv(index))
    return path


def _setting_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""
