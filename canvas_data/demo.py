"""The offline demo: bundled photos -> sources -> stylize -> shards -> verify, in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from canvas_data.recipe import load_recipe


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
    echo=print,
) -> DemoResult:
    """Build the demo dataset offline into ``out`` (workspace beside it in ``{out}-work``)."""
    from canvas_data.bundled_photos import write_bundled_photos
    from canvas_data.photos import intake_photos
    from canvas_data.shards import pack_shards
    from canvas_data.stylize import stylize_workspace
    from canvas_data.verify import verify_shards

    out = Path(out)
    work = Path(work) if work else out.with_name(f"{out.name}-work")
    resolved = load_recipe(recipe)
    summaries = []

    echo(f"[1/4] seed photos from the bundled sample images -> {work}")
    photos = write_bundled_photos(work / ".bundled-photos")
    summaries.append(intake_photos(photos, work, resolved, progress=progress).summary())
    echo(f"      {summaries[-1]}")

    echo(f"[2/4] stylize {len(resolved.styles)} styles with the built-in CPU stylizer")
    styled = stylize_workspace(work, recipe=resolved, workers=workers, progress=progress)
    summaries.append(styled.summary())
    echo(f"      {summaries[-1]}")
    for key, reason in styled.failed:
        echo(f"      failed {key}: {reason}")

    echo(f"[3/4] pack WebDataset shards and the dataset card -> {out}")
    packed = pack_shards(work, out, recipe=resolved, progress=progress)
    summaries.append(packed.summary())
    echo(f"      {summaries[-1]}")

    echo("[4/4] verify every shard and sample")
    verified = verify_shards(out, progress=progress)
    summaries.append(verified.summary())
    echo(f"      {summaries[-1]}")
    for problem in verified.problems:
        echo(f"      {problem}")
    return DemoResult(out, work, summaries, ok=verified.ok and not styled.failed)
