"""Intake of the Hub release: Parquet shards with only ``image`` and ``text`` into a workspace.

The release on the Hub is 153 Parquet files whose rows hold an ``image`` struct (``bytes``,
``path``) and a ``text`` caption, and nothing else: no labels, no split. ``import_hub_parquet``
reads them with pyarrow one file and one row group at a time, handing rows to Python a few at a
time, and writes each image to the workspace, in the release's own layout
``{Style}/{Object}/{idx}.jpg``, with a provenance sidecar naming the file and row it came from.
Memory is bounded by the largest row group of a file: pyarrow reads and decompresses a column
chunk's pages whole, and files written with pyarrow's defaults (as ``datasets`` writes the
release, about 300 MB per row group) keep a row group's images in one page.

- Each row is placed by its caption and stored path (``release_rows``: labels from the caption,
  the photo index from a path ending in ``{idx}.jpg``, JPEG bytes as they are, others re-encoded).
- Rows without a path index are held aside in ``WORK/.import/pending/``: their row order says
  nothing, so by default they are not placed and the run says how many there are. With
  ``match_photos`` they are placed by what they show (``pending_rows``: seed photos by the
  paintings they match or by content, paintings by the seed photo they were painted from).
- A row that cannot be placed (no caption, an unknown style or object, no or broken image bytes,
  a path that contradicts its caption, a second row for the same image) is reported with its file,
  row and reason, in ``WORK/reports/import-hub.json`` (``release_report``), and the rest goes on.

A file that is not Parquet, or is damaged, is reported (the rows before the damage stay) and read
again by the next run. A file is marked done in ``WORK/.import/`` once all its rows are read; a
rerun skips it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from canvas_data.atomic import remove_partials, write_json
from canvas_data.intake.pending_rows import place_pending
from canvas_data.intake.release_report import ImportReport, report_json
from canvas_data.intake.release_rows import STATE_DIR, file_tag, import_file
from canvas_data.recipe import Recipe, save_recipe, workspace_recipe
from canvas_data.resume_state import read_state
from canvas_data.taxonomy import OBJECTS_20, STYLES_61, Taxonomy

REPORT_PATH = Path("reports") / "import-hub.json"


def import_hub_parquet(
    parquet_dir: Path,
    work: Path,
    *,
    recipe: str | Path | Recipe | None = None,
    progress: bool = True,
    match_photos: bool = False,
) -> ImportReport:
    """Write the images of the release's Parquet files (a folder or one file) into ``work``.

    Rows without a file path are held aside (``report.held``) unless ``match_photos``: then seed
    photos are numbered by content and paintings placed at their matched photo's index.
    """
    parquet_dir, work = Path(parquet_dir), Path(work)
    files = _parquet_files(parquet_dir)
    root = parquet_dir if parquet_dir.is_dir() else parquet_dir.parent
    if isinstance(recipe, Recipe):
        save_recipe(recipe, work)
    elif recipe is not None:
        recipe = workspace_recipe(work, recipe)
        save_recipe(recipe, work)
    else:
        recipe = workspace_recipe(work)
    taxonomy = _intake_taxonomy(recipe.taxonomy)
    work.mkdir(parents=True, exist_ok=True)
    remove_partials(work)
    report = ImportReport(files=len(files))
    total = sum(map(_row_count, files))
    bar = tqdm(total=total, desc="import", unit="row", disable=not progress)
    done = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        marker = work / STATE_DIR / "files" / f"{file_tag(rel)}.json"
        st = path.stat()
        identity = {"file": rel, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        state = _read_marker(marker, identity)
        if state is None:
            state = {
                **identity,
                **import_file(path, rel, work, taxonomy, recipe, bar),
            }
            if not state.pop("damaged", False):  # a damaged file is read again next time
                write_json(marker, state)
        else:
            report.files_reused += 1
            bar.update(state["rows"])
        done.append(state)
    bar.close()
    for state in done:
        report.rows += state["rows"]
        report.placed += state["placed"]
        report.reencoded += state["reencoded"]
        report.rejected += [(r["where"], r["reason"]) for r in state["rejected"]]
    place_pending(work, [p for s in done for p in s["pending"]], match_photos, report)
    write_json(work / REPORT_PATH, report_json(report))
    return report


def _parquet_files(parquet_dir: Path) -> list[Path]:
    if parquet_dir.is_file():
        return [parquet_dir]
    if not parquet_dir.is_dir():
        raise FileNotFoundError(f"{parquet_dir}: no such folder or Parquet file")
    files = sorted(p for p in parquet_dir.rglob("*.parquet") if not p.name.startswith("."))
    if not files:
        raise FileNotFoundError(f"{parquet_dir}: no .parquet files")
    return files


def _intake_taxonomy(tax: Taxonomy) -> Taxonomy:
    """The recipe's names plus the release's: every release caption parses."""
    styles = tuple(dict.fromkeys((*tax.styles, *STYLES_61)))
    objects = tuple(dict.fromkeys((*tax.objects, *OBJECTS_20)))
    return Taxonomy(styles, objects)


def _row_count(path: Path) -> int:
    """Rows in a Parquet file's footer (0 for a file that is not Parquet: reported later)."""
    try:
        return pq.read_metadata(str(path)).num_rows
    except (OSError, pa.ArrowException):
        return 0


def _read_marker(marker: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """What an earlier run read from a file, if it read the same file; a damaged marker is set
    aside (``read_state``) and the file read again."""
    state = read_state(marker, _whole_state)
    return state if state and all(state.get(k) == v for k, v in identity.items()) else None


def _whole_state(state: dict[str, Any]) -> bool:
    counts = all(type(state.get(k)) is int for k in ("rows", "placed", "reencoded"))
    rejected = state.get("rejected")
    lists = isinstance(rejected, list) and isinstance(state.get("pending"), list)
    return (
        counts
        and lists
        and all(isinstance(r, dict) and {"where", "reason"} <= r.keys() for r in rejected)
    )
