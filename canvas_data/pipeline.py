"""The stages run in order: pack then card (``pack_dataset``), and the offline demo (``run_demo``).

``canvas_data.pack.shards`` writes the shards, ``manifest.json`` and ``recipe.yaml`` and knows
nothing of the card; ``canvas_data.card.dataset_card`` reads the packed folder back.
``pack_dataset`` runs one after the other, as ``canvas-build shards`` and the demo do. ``run_demo``
runs the four stages on bundled photos: sources, stylize, shards, verify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from canvas_data.card.dataset_card import write_card
from canvas_data.out_paths import check_out
from canvas_data.pack.shards import PackOptions, PackReport, pack_shards
from canvas_data.recipe import RECIPE_FILE, Recipe, load_recipe


def finish_with_card(
    out: Path, manifest: dict[str, Any], recipe: Recipe, written: dict[str, list]
) -> None:
    """The ``finish`` hook of :func:`pack_shards` that writes ``README.md``, ``samples.csv``,
    ``preview.jpg`` and ``croissant.json`` (see
    :func:`canvas_data.card.dataset_card.write_card`)."""
    write_card(out, manifest, recipe, written=written)


def pack_dataset(
    work: Path,
    out: Path,
    options: PackOptions | None = None,
    *,
    recipe: Recipe | None = None,
    progress: bool = True,
    **fields: Any,
) -> PackReport:
    """Pack ``work`` into ``out``: shards, manifest, recipe and dataset card. Resumes per shard.

    As :func:`canvas_data.pack.shards.pack_shards` (the same options and errors); a call that
    makes no :class:`PackOptions` may give its fields instead (``max_samples=2``).
    """
    if fields:
        if options is not None:
            raise TypeError(f"pack_dataset: {', '.join(fields)} given with options")
        options = PackOptions(**fields)
    return pack_shards(
        work, out, options, recipe=recipe, progress=progress, finish=finish_with_card
    )


# What an unfinished demo run leaves before its marker file (manifest.json, recipe.yaml) is written.
_PARTIAL_OUT = frozenset({"data", "parquet"})
_PARTIAL_WORK = frozenset({"Seed_Images", "reports"})


@dataclass
class DemoResult:
    """Where the demo put things, and the reports of its stages."""

    out: Path
    work: Path
    summaries: list[str]
    ok: bool


def run_demo(
    out: Path = Path("unlearncanvas"),
    *,
    work: Path | None = None,
    recipe: str | Path = "demo",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    echo=print,
) -> DemoResult:
    """Build the demo dataset offline into ``out`` (workspace beside it in ``{out}-work``).

    ``ValueError`` (before anything is written) when ``out`` or the workspace holds something else
    than an earlier run of the same recipe, unless ``overwrite``: see :func:`check_targets`;
    also when either cannot be written (:func:`canvas_data.out_paths.check_out`).
    """
    from canvas_data.intake.bundled_photos import write_bundled_photos
    from canvas_data.intake.photos import intake_photos
    from canvas_data.pack.verify import verify_shards
    from canvas_data.stylizers.runner import StylizeOptions, stylize_workspace

    out = Path(out)
    work = Path(work) if work else out.with_name(f"{out.name}-work")
    for folder in (out, work):
        check_out(folder)
    resolved = load_recipe(recipe)
    if not overwrite:
        check_targets(out, work, resolved)
    summaries = []

    echo(f"[1/4] seed photos from the bundled sample images -> {work}")
    photos = write_bundled_photos(work / ".bundled-photos")
    # the demo's workspace is its own (check_targets): a changed demo recipe rebuilds it
    intake = intake_photos(photos, work, resolved, progress=progress, repaint_stale=True)
    summaries.append(intake.summary())
    echo(f"      {summaries[-1]}")

    echo(f"[2/4] stylize {len(resolved.styles)} styles with the built-in CPU stylizer")
    styled = stylize_workspace(
        work,
        StylizeOptions(workers=workers),
        recipe=resolved,
        progress=progress,
        repaint_stale=True,
    )
    summaries.append(styled.summary())
    echo(f"      {summaries[-1]}")
    for key, reason in styled.failed:
        echo(f"      failed {key}: {reason}")

    echo(f"[3/4] pack WebDataset shards and the dataset card -> {out}")
    packed = pack_dataset(work, out, recipe=resolved, progress=progress)
    summaries.append(packed.summary())
    echo(f"      {summaries[-1]}")

    echo("[4/4] verify every shard and sample")
    verified = verify_shards(out, progress=progress)
    summaries.append(verified.summary())
    echo(f"      {summaries[-1]}")
    for problem in verified.problems:
        echo(f"      {problem}")
    return DemoResult(out, work, summaries, ok=verified.ok and not styled.failed)


def check_targets(out: Path, work: Path, recipe: Recipe) -> None:
    """Refuse output folders that hold anything but an earlier (or unfinished) run of ``recipe``.

    ``out`` may be missing, empty, a packed folder whose ``manifest.json`` names ``recipe``, or
    hold only the shard folders an unfinished run leaves; ``work`` likewise, with its
    ``recipe.yaml``. Anything else (another dataset, a README.md of the user's) is a
    ``ValueError`` naming the folder.
    """
    checks = ((out, "manifest.json", _PARTIAL_OUT), (work, RECIPE_FILE, _PARTIAL_WORK))
    for folder, marker, partial in checks:
        if not folder.exists():
            continue
        if not folder.is_dir():
            raise ValueError(f"{folder} is a file; the demo needs a folder there")
        names = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
        if not names or names <= partial or _made_by(folder / marker, recipe.name):
            continue
        shown = ", ".join(sorted(names)[:3]) + (", ..." if len(names) > 3 else "")
        raise ValueError(
            f"{folder} holds other files ({shown}), not an earlier demo output of "
            f"{recipe.name!r}; choose another --out or pass --overwrite"
        )


def _made_by(marker: Path, name: str) -> bool:
    """Whether ``marker`` (manifest.json or recipe.yaml) names the recipe ``name``."""
    try:
        text = marker.read_text(encoding="utf-8")
        data = json.loads(text) if marker.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and data.get("name") == name
