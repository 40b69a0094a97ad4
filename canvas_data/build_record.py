"""The build record: what a workspace was built with and what its stages were asked for.

``WORK/build.json`` is written by ``sources`` (the recipe, its digest, the resolution, the photos
and objects asked for) and by ``stylize`` (the styles and objects asked for, and per style the
stylizer and its options). Each painting's provenance sidecar records the digest of the settings
that made it (``settings_sha256``) and of the seed photo it was painted from
(``seed_photo_sha256``); a painting whose seed photo or settings have changed since is *stale*.

Every stage reads the record before it works: settings that contradict it are refused with one
line saying what differs (:class:`BuildConflict`), ``shards`` packs the styles and objects it
lists, and ``shards`` and ``verify`` name stale paintings (:func:`stale_paintings`). A workspace
without a record (a copy of the release, or one made before records) is read as before.

The record is untrusted when read: size-capped, parsed by a strict pydantic model, and any fault
is ``InputError`` naming the file (``WORK/build.json: reason``). It is written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from canvas_data.atomic import write_text
from canvas_data.errors import InputError
from canvas_data.locks import claim, release
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import Item, image_path, photo_indices, sha256_file, sidecar_path

BUILD_FILE = "build.json"
REPAINT_FLAG = "--repaint-stale"
MAX_RECORD_BYTES = 4_000_000  # the full release's record: ~60 kB
MAX_SIDECAR_BYTES = 1_000_000
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class BuildConflict(ValueError):
    """A stage asked for settings that contradict the workspace's record; says what and how on."""


class StylizerSettings(BaseModel):
    """The stylizer a style is painted with and the options it was given (beyond the recipe)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    backend: Name
    options: dict[str, Any] = {}

    def shown(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.backend}" + (f" ({opts})" if opts else "")


class BuildRecord(BaseModel):
    """``WORK/build.json``: the recipe the workspace was built with and what was asked of it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    version: Annotated[int, Field(ge=1, le=1)] = 1
    recipe: Name
    recipe_sha256: Digest
    resolution: Annotated[int, Field(ge=1)]
    photos_per_object: Annotated[int, Field(ge=1)]
    test_per_object: Annotated[int, Field(ge=0)]
    objects: list[Name]  # the objects the seed photos were asked for
    # style -> objects asked of ``stylize`` (the union over its runs); None: no run recorded
    paintings: dict[Name, list[Name]] | None = None
    stylizers: dict[Name, StylizerSettings] = {}  # style -> how its paintings are made

    @classmethod
    def of_recipe(cls, recipe: Recipe) -> BuildRecord:
        """A new record for a workspace built with ``recipe`` (no paintings asked yet)."""
        return cls(
            recipe=recipe.name,
            recipe_sha256=recipe.sha256,
            resolution=recipe.resolution,
            photos_per_object=recipe.photos_per_object,
            test_per_object=recipe.test_per_object,
            objects=list(recipe.objects),
        )

    def with_paintings(
        self, styles: Sequence[str], objects: Sequence[str], settings: StylizerSettings
    ) -> BuildRecord:
        """This record with ``styles`` x ``objects`` asked of ``settings``."""
        paintings = {s: list(objs) for s, objs in (self.paintings or {}).items()}
        stylizers = dict(self.stylizers)
        for style in styles:
            paintings[style] = sorted(set(paintings.get(style, [])) | set(objects))
            stylizers[style] = settings
        return self.model_copy(update={"paintings": paintings, "stylizers": stylizers})

    def asked(self, recipe: Recipe) -> dict[str, tuple[str, ...]] | None:
        """The cells asked for, in class order: ``Seed_Images`` and each painted style; ``None``
        before any ``stylize`` run is recorded (a workspace painted before records were kept
        must not look unpainted: all the recipe's cells are then asked)."""
        if self.paintings is None:
            return None
        objects = [o for o in recipe.objects if o in set(self.objects)]
        cells = {SEED_STYLE: tuple(objects)}
        for style in recipe.styles:
            if style in self.paintings:
                wanted = set(self.paintings[style])
                cells[style] = tuple(o for o in recipe.objects if o in wanted)
        return cells


def record_path(work: Path) -> Path:
    return Path(work) / BUILD_FILE


def read_record(work: Path) -> BuildRecord | None:
    """The workspace's record, or ``None`` when it has none; ``InputError`` names a bad one."""
    path = record_path(work)
    if not path.exists():
        return None
    try:
        if not path.is_file():
            raise InputError(f"{path}: not a file")
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise InputError(f"{path}: larger than {MAX_RECORD_BYTES} bytes, not a build record")
        text = path.read_bytes().decode("utf-8")
        return BuildRecord.model_validate_json(text)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text, not a build record") from None
    except ValidationError as err:
        raise InputError(f"{path}: not a build record ({_first_fault(err)})") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror or err})") from None


def _first_fault(err: ValidationError) -> str:
    e = err.errors(include_url=False)[0]
    where = ".".join(str(p) for p in e["loc"])
    return f"{where}: {e['msg']}" if where else e["msg"]


@contextlib.contextmanager
def record_lock(work: Path) -> Iterator[None]:
    """Hold the record while it is read, checked and written: two runs sharing a workspace
    (ranks of one job, or ``--styles`` runs side by side) each add what they were asked."""
    lock = claim(Path(work) / ".locks" / "build.lock", wait=True)
    try:
        yield
    finally:
        release(lock, finished=False)


def write_record(work: Path, record: BuildRecord) -> None:
    """Write ``record`` atomically (unchanged files are left alone)."""
    path = record_path(work)
    text = record.model_dump_json(indent=2) + "\n"
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass  # replaced below
    write_text(path, text)


# ---------------------------------------------------------------- contradictions


def recipe_differences(old: BuildRecord, recipe: Recipe, limit: int = 4) -> list[str]:
    """What ``recipe`` changes of the record: ``resolution 512 -> 1024``, ``recipe a -> b``."""
    new = BuildRecord.of_recipe(recipe)
    diffs = []
    for key in ("recipe", "resolution", "photos_per_object", "test_per_object", "objects"):
        was, now = getattr(old, key), getattr(new, key)
        if was != now:
            diffs.append(f"{key} {_short(was)} -> {_short(now)}")
    if not diffs and old.recipe_sha256 != new.recipe_sha256:
        diffs.append(
            f"recipe content (sha256 {old.recipe_sha256[:12]} -> {new.recipe_sha256[:12]})"
        )
    return diffs[:limit]


def _short(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value) if len(value) <= 4 else f"{len(value)} names"
    return str(value)


def check_recipe(work: Path, record: BuildRecord | None, recipe: Recipe, stage: str) -> None:
    """Refuse ``recipe`` when it is not the one the workspace was built with (``BuildConflict``).

    ``stage`` is the command refused; the message says how to proceed: a new ``--work`` (or
    this recipe from ``sources``) to start over, ``--repaint-stale`` to rebuild in place.
    """
    if record is None or record.recipe_sha256 == recipe.sha256:
        return
    diffs = "; ".join(recipe_differences(record, recipe))
    how = (
        f"pass {REPAINT_FLAG} to rewrite the seed photos with it (paintings then go stale and "
        f"`stylize {REPAINT_FLAG}` repaints them), or use a new --work to start over"
        if stage == "sources"
        else f"leave out --recipe to use the workspace's, or run `canvas-build sources --recipe "
        f"... --work {work} {REPAINT_FLAG}` to rebuild the workspace with it"
    )
    raise BuildConflict(
        f"{record_path(work)}: {stage} refused: this workspace was built with recipe "
        f"{record.recipe!r} and --recipe {recipe.name!r} differs ({diffs}); {how}"
    )


def check_stylizer(
    work: Path, record: BuildRecord | None, styles: Iterable[str], settings: StylizerSettings
) -> None:
    """Refuse a stylize run whose stylizer or options differ from those of painted styles."""
    if record is None:
        return
    changed = [s for s in styles if s in record.stylizers and record.stylizers[s] != settings]
    if not changed:
        return
    was = record.stylizers[changed[0]]
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    raise BuildConflict(
        f"{record_path(work)}: stylize refused: {shown} painted with {was.shown()}, this run "
        f"asks {settings.shown()}; pass {REPAINT_FLAG} to repaint them with the new settings, "
        "or run with the recorded ones"
    )


RUN_ONLY = frozenset({"batch_size"})  # stylizer options that do not change a painting


def run_settings(recipe: Recipe, backend: str, options: dict[str, Any]) -> StylizerSettings:
    """The settings of a stylize run: the backend and the options it was given beyond the
    recipe's own ``stylizers.{backend}`` (those are part of the recipe's digest)."""
    base = recipe.stylizer_options(backend)
    given = {k: v for k, v in options.items() if k not in RUN_ONLY and base.get(k, _NONE) != v}
    return StylizerSettings(backend=backend, options=json.loads(json.dumps(given, default=str)))


_NONE = object()


# ---------------------------------------------------------------- stale paintings


def settings_digest(recipe: Recipe, style: str, settings: StylizerSettings) -> str:
    """The digest of everything that shapes a painting of ``style`` besides its seed photo:
    the style's spec, the recipe's seed, JPEG quality and stylizer options, the stylizer and
    its options."""
    blob = {
        "style": (recipe.data.get("styles") or {}).get(style),
        "seed": recipe.seed,
        "jpeg_quality": recipe.jpeg_quality,
        "recipe_options": recipe.stylizer_options(settings.backend),
        "stylizer": settings.model_dump(),
    }
    text = json.dumps(blob, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stale_paintings(
    work: Path, recipe: Recipe, record: BuildRecord | None, items: Iterable[Item]
) -> dict[str, str]:
    """Paintings among ``items`` made from a seed photo or settings that have changed since.

    Returns ``{key: reason}``. Items without a painting or sidecar are not stale (they are
    missing or unfinished); an unreadable sidecar is stale. Sidecars without a settings digest
    (older ones, the release's) are judged by their seed photo alone.
    """
    stale: dict[str, str] = {}
    photo_sha: dict[tuple[str, int], str | None] = {}
    expected: dict[str, str | None] = {}
    for item in items:
        if item.style == SEED_STYLE:
            continue
        image = image_path(work, item)
        side = sidecar_path(image)
        if not (image.is_file() and side.is_file()):
            continue
        prov = _read_sidecar(side)
        if prov is None:
            stale[item.key] = "provenance sidecar unreadable"
            continue
        cell = (item.obj, item.idx)
        if cell not in photo_sha:
            photo = image_path(work, Item(SEED_STYLE, item.obj, item.idx))
            photo_sha[cell] = sha256_file(photo) if photo.is_file() else None
        was_sha = prov.get("seed_photo_sha256")
        if photo_sha[cell] is not None and was_sha is not None and was_sha != photo_sha[cell]:
            stale[item.key] = "seed photo changed since it was painted"
            continue
        if item.style not in expected:
            settings = record.stylizers.get(item.style) if record else None
            expected[item.style] = settings and settings_digest(recipe, item.style, settings)
        was_settings = prov.get("settings_sha256")
        if expected[item.style] and was_settings and was_settings != expected[item.style]:
            stale[item.key] = "recipe or stylizer settings changed since it was painted"
    return stale


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def painted_items(work: Path, recipe: Recipe, cells: dict[str, tuple[str, ...]]) -> list[Item]:
    """Every painting present in the workspace for ``cells`` (style -> objects)."""
    return [
        Item(style, obj, idx)
        for style, objects in cells.items()
        if style != SEED_STYLE
        for obj in objects
        for idx in photo_indices(work / style / obj)
    ]


def stale_line(stale: dict[str, str], work: Path, shown: int = 5) -> str:
    """One line naming the stale paintings (the first few) and the command that repaints them
    (limited to their styles and objects, so it paints nothing else)."""
    keys = sorted(stale)
    names = ", ".join(f"{k} ({stale[k]})" for k in keys[:shown])
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    styles = sorted({k.split("/")[0] for k in keys})
    objects = sorted({k.split("/")[1] for k in keys})
    subset = "".join(
        f" --{flag} {','.join(values)}"
        for flag, values in (("styles", styles), ("objects", objects))
        if len(values) <= 8
    )
    return (
        f"{len(keys)} stale paintings: {names}{more}; run `canvas-build stylize --work {work}"
        f"{subset} {REPAINT_FLAG}` to repaint them"
    )


# ---------------------------------------------------------------- the sources stage


def check_sources(work: Path, recipe: Recipe, repaint_stale: bool) -> None:
    """Before ``sources`` writes: refuse a recipe other than the workspace's (``BuildConflict``)
    unless ``repaint_stale``. A workspace without a record is judged by its ``recipe.yaml``."""
    from canvas_data.recipe import RECIPE_FILE, load_recipe

    record = read_record(work)
    if record is None and (Path(work) / RECIPE_FILE).is_file():
        record = BuildRecord.of_recipe(load_recipe(Path(work) / RECIPE_FILE))
    if not repaint_stale:
        check_recipe(work, record, recipe, "sources")


def record_sources(work: Path, recipe: Recipe) -> None:
    """After ``sources``: the record names ``recipe``; what ``stylize`` was asked is kept."""
    new = BuildRecord.of_recipe(recipe)
    with record_lock(work):
        old = read_record(work)
        if old is not None:
            new = new.model_copy(update={"paintings": old.paintings, "stylizers": old.stylizers})
        write_record(work, new)
