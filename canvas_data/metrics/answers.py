"""Answer sets: what a text-to-image model generates for the unlearning metrics, and their names.

An answer set holds one image per theme (the 50 styles and ``Seed_Images``) x object x seed, named
``{Theme}_{Object}_seed{seed}.jpg`` as in the release (``_seed_{seed}`` too, as other toolkits
write; ``.jpg``, ``.jpeg``, ``.png``, ``.webp``), either flat in one folder or in one folder per
theme (``{Theme}/{Theme}_{Object}_seed{seed}.jpg``). The release's sampling scripts write the
answer set of the model that unlearned a target flat into a folder named after the target
(``eval_results/mu_results/{method}/style50/{target}/``) and its ``accuracy.py`` reads
``--input_dir`` + ``--theme``; given the target, ``scan_answers`` reads such a method folder too.
Its seeds are those present unless given (the release's samplers write only seed 188 for some
methods). It lists what is missing and what does not belong, and ``AnswerScan.check`` refuses a
set with more than a small share missing.

Finer-scale seeds: a combination target (``Van_Gogh:Cats``) is scored on its one cell, 5 images
in the standard set, so its UA moves in 20-point steps. ``canvas-eval generate --target
Style:Object --extra-seeds N`` adds N images of that cell, named
``{Style}_{Object}_fine_seed{seed}.jpg`` with seeds from ``FINE_SEED_START`` up that are not seeds
of the set (other noise than every standard image). The marker keeps them out of the standard
set (the release's scripts never read them, and the seeds present are those of the standard
names); ``scan_answers(fine_cells=...)`` reads them for the cells a target needs and lists the
others as extra.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from canvas_data.taxonomy import (
    OBJECTS_20,
    RELEASE_TEXTS,
    STYLES_51,
    STYLES_61,
    caption,
    spaced,
)

SEEDS: tuple[int, ...] = (188, 288, 588, 688, 888)
THEMES: tuple[str, ...] = STYLES_51  # the 50 benchmark styles and Seed_Images, release order
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# Prompts: the canonical caption, the release's samplers (``RELEASE_TEXTS``: ``release`` for
# ESD, CA, UCE, SalUn..., ``release-fmn``, ``release-compvis``, ``release-diffusers``), or a
# template where {object} and {theme} are names with spaces, {theme_name} the theme as written
# in folders, {article} "A" or "An".
PROMPTS: dict[str, str | None] = {
    "canonical": None,  # canvas_data.taxonomy.caption: "An Architectures image in photo style"
    **{name: name for name in RELEASE_TEXTS},
}
_SEED = re.compile(r"^(?P<stem>.+)_seed_?(?P<seed>[0-9]{1,9})$")  # on name_key(stem)
_SEPARATORS = re.compile(r"[\s_\-]+")
_TARGET_DEPTH = 3  # how deep below the given folder a folder named after the target is looked for
NAMING = "{Theme}_{Object}_seed{seed}.jpg (or _seed_{seed}; .jpeg, .png, .webp)"
FINE = "_fine"  # before _seed: a finer-scale seed of one cell, outside the standard set
FINE_SEED_START = 1000
MAX_MISSING_SHARE = 0.05  # more missing than this is refused unless allowed


@dataclass(frozen=True, order=True)
class Answer:
    """One image of an answer set: a theme (a style or ``Seed_Images``), an object, a seed."""

    theme: str
    obj: str
    seed: int
    fine: bool = False  # a finer-scale seed of its cell, outside the standard set

    @property
    def file_name(self) -> str:
        marker = FINE if self.fine else ""
        return f"{self.theme}_{self.obj}{marker}_seed{self.seed}.jpg"

    def path(self, folder: Path, per_theme: bool = False) -> Path:
        """Where the image goes: ``folder/NAME`` or ``folder/{Theme}/NAME``."""
        return (Path(folder) / self.theme if per_theme else Path(folder)) / self.file_name


def plan_answers(
    themes: Sequence[str] = THEMES,
    objects: Sequence[str] = OBJECTS_20,
    seeds: Sequence[int] = SEEDS,
) -> list[Answer]:
    """Every theme x object x seed, sorted."""
    for kind, values in (("theme", themes), ("object", objects), ("seed", seeds)):
        if not values:
            raise ValueError(f"no {kind}s given")
        if len(set(values)) != len(values):
            raise ValueError(
                f"duplicate {kind}s: {sorted({v for v in values if values.count(v) > 1})}"
            )
    return sorted(Answer(t, o, int(s)) for t in themes for o in objects for s in seeds)


def fine_seeds(count: int, taken: Iterable[int] = SEEDS) -> list[int]:
    """``count`` seeds for the finer-scale images of a cell: from ``FINE_SEED_START`` up,
    skipping ``taken`` (the standard set's seeds), so no image repeats a standard one's noise."""
    if count < 0:
        raise ValueError(f"extra seeds must be 0 or more, got {count}")
    taken, seeds, seed = set(taken), [], FINE_SEED_START
    while len(seeds) < count:
        if seed not in taken:
            seeds.append(seed)
        seed += 1
    return seeds


def plan_fine_answers(
    style: str, obj: str, count: int, taken: Iterable[int] = SEEDS
) -> list[Answer]:
    """The ``count`` finer-scale images of the cell ``style`` x ``obj`` (see ``fine_seeds``)."""
    return [Answer(style, obj, seed, fine=True) for seed in fine_seeds(count, taken)]


def prompt_for(answer: Answer, template: str | None = None) -> str:
    """The prompt of an answer: the canonical caption, a release sampler's prompt (a name of
    ``RELEASE_TEXTS``), or a template string with ``{object}``, ``{theme}`` (spaced names),
    ``{theme_name}`` and ``{article}``."""
    template = PROMPTS.get(template, template) if template else None
    if template is None:
        return caption(answer.theme, answer.obj)
    if template in RELEASE_TEXTS:
        return RELEASE_TEXTS[template](answer.theme, answer.obj)
    article = "An" if answer.obj[:1].upper() in "AEIOU" else "A"
    try:
        return template.format(object=spaced(answer.obj), theme=spaced(answer.theme),
                               theme_name=answer.theme, article=article)  # fmt: skip
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f"prompt template {template!r}: {err!r}; use one of {', '.join(PROMPTS)}, or "
            "{object}, {theme}, {theme_name}, {article}"
        ) from None


def name_key(name: str) -> str:
    """How a theme, object or file stem is compared: runs of spaces, hyphens and underscores
    read as one underscore, and case ignored (``Van Gogh``, ``van-gogh``, ``Van_Gogh`` match)."""
    return _SEPARATORS.sub("_", name.strip()).casefold()


def _by_key(names: Iterable[str]) -> dict[str, str]:
    return {name_key(n): n for n in names}


def parse_name(name: str, themes: Iterable[str], objects: Iterable[str]) -> Answer | None:
    """The answer a file name stands for (``Van_Gogh_Cats_seed188.jpg``,
    ``Van_Gogh_Cats_seed_188.png``, ``Van Gogh_Cats_seed188.JPG``), or ``None``. Themes and
    objects are matched by ``name_key`` and returned as written in ``themes`` and ``objects``."""
    path = Path(name)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    match = _SEED.fullmatch(name_key(path.stem))
    if not match:
        return None
    stem, themes, objects = match["stem"], _by_key(themes), _by_key(objects)
    fine = stem.endswith(FINE)
    stem = stem.removesuffix(FINE)
    for key in sorted(objects, key=len, reverse=True):  # names may hold underscores
        theme = stem.removesuffix(f"_{key}")
        if theme != stem and theme in themes:
            return Answer(themes[theme], objects[key], int(match["seed"]), fine)
    return None


@dataclass
class AnswerScan:
    """What an answer folder holds against what was expected.

    ``folder``: where the images were read (the given folder, or its folder named after the
    target); ``given``: the folder asked for; ``seeds``: the seeds expected (given, or those
    present); ``seeds_found``: images per seed among the expected themes and objects;
    ``target_folders``: folders in ``folder`` that each hold a whole answer set (one per target);
    ``fine``: the finer-scale images read (of the cells asked for), apart from ``found``.
    """

    folder: Path
    given: Path | None = None
    themes: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    seeds_found: dict[int, int] = field(default_factory=dict)
    found: dict[Answer, Path] = field(default_factory=dict)
    missing: list[Answer] = field(default_factory=list)
    extra: list[tuple[Path, str]] = field(default_factory=list)
    target_folders: list[str] = field(default_factory=list)
    fine: dict[Answer, Path] = field(default_factory=dict)

    @property
    def expected(self) -> int:
        return len(self.found) + len(self.missing)

    @property
    def layout(self) -> str:
        """``flat``, ``per-theme folders`` or ``mixed``, after ``in the target's folder, `` when
        the images were read from the given folder's folder named after the target."""
        nested = {p.parent != self.folder for p in self.found.values()}
        kind = {frozenset({False}): "flat", frozenset({True}): "per-theme folders"}.get(
            frozenset(nested), "mixed" if nested else "empty"
        )
        inside = self.given is not None and self.given != self.folder
        return f"in the target's folder, {kind}" if inside else kind

    def summary(self) -> str:
        return (
            f"{self.folder}: {len(self.found)} of {self.expected} answer images, "
            f"{len(self.missing)} missing, {len(self.extra)} extra"
        )

    def check(self, max_missing_share: float = MAX_MISSING_SHARE) -> None:
        """Raise ``ValueError`` (one line: found, where, the naming expected) when more than
        ``max_missing_share`` of the expected images is missing."""
        if not self.expected or len(self.missing) <= max_missing_share * self.expected:
            return
        seeds = ", ".join(f"{s} ({n})" for s, n in sorted(self.seeds_found.items())) or "none"
        sets = self.target_folders
        hint = (
            f"; its folders {', '.join(sets[:3])}{' ...' if len(sets) > 3 else ''} each hold an "
            "answer set: pass --target to read the one named after the target"
            if sets
            else ""
        )
        raise ValueError(
            f"{self.given or self.folder}: {len(self.found)} of {self.expected} answer images "
            f"found ({len(self.missing)} missing, {len(self.missing) / self.expected:.0%}); "
            f"looked in {self.folder} and its theme folders for {NAMING}, "
            f"{len(self.themes)} themes x {len(self.objects)} objects x seeds "
            f"{','.join(map(str, self.seeds))}; images per seed found: {seeds}; first missing "
            f"{self.missing[0].file_name}{hint}; pass --allow-missing to score what is there"
        )


def _counts(folder: Path, target: str, themes: dict[str, str], objects: set[str]):
    """``(own, other)``: answer images in ``folder`` of the theme ``target`` and of others."""
    own = other = 0
    for entry in folder.iterdir():
        if entry.name.startswith(".") or not entry.is_file():
            continue
        answer = parse_name(entry.name, themes.values(), objects)
        if answer is not None:
            own += name_key(answer.theme) == name_key(target)
            other += name_key(answer.theme) != name_key(target)
    return own, other


def _is_answer_folder(folder: Path, target: str, themes: dict[str, str], objects: set[str]) -> bool:
    """Whether ``folder`` (named after ``target``) holds a whole answer set: theme folders, or
    more answer images of other themes than of the target (a theme folder holds its own, and
    perhaps a few misplaced ones). A folder named after a theme that itself holds mostly other
    themes' images is a target's answer set, not a theme folder (``style50/Crayon/``)."""
    for entry in folder.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if name_key(entry.name) in themes:
            own, other = _counts(entry, entry.name, themes, objects)
            if other <= own:
                return True
    own, other = _counts(folder, target, themes, objects)
    return other > own


def _holds_answers(folder: Path, themes: dict[str, str], objects: set[str]) -> bool:
    """Whether ``folder`` holds answer images or theme folders of its own."""
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and name_key(entry.name) in themes:
            return True
        if entry.is_file() and parse_name(entry.name, themes.values(), objects) is not None:
            return True
    return False


def _subfolders(folder: Path) -> list[Path]:
    """The folders in ``folder``, sorted; none when it cannot be listed (no permission)."""
    try:
        return sorted(d for d in folder.iterdir() if d.is_dir())
    except OSError:
        return []


def answer_folder(
    folder: Path, target: str | None, themes: Iterable[str], objects: Iterable[str]
) -> Path:
    """Where the answer set of the model that unlearned ``target`` lies under ``folder``:
    ``folder/{target}`` when that holds a whole answer set (the release's method folder, one
    folder per target), else ``folder``. When ``folder`` holds no answer images itself, a
    folder named after the target up to three levels down is taken when there is exactly one
    (``eval_results/mu_results/esd`` finds ``style50/Crayon``; ``ValueError`` when several
    are found at the same depth). Folder names match by ``name_key`` (``van gogh`` for
    ``Van_Gogh``)."""
    folder = Path(folder)
    if not target:
        return folder
    themes = _by_key([*STYLES_61, *themes])
    objects = set(OBJECTS_20) | set(objects)
    key = name_key(target)
    level = [folder]
    for depth in range(_TARGET_DEPTH):
        below = [d for f in level for d in _subfolders(f) if not d.name.startswith(".")]
        hits = [
            d
            for d in below
            if name_key(d.name) == key and _is_answer_folder(d, target, themes, objects)
        ]
        if depth == 0 and hits:
            return hits[0]
        if depth == 0 and _holds_answers(folder, themes, objects):
            return folder
        if len(hits) == 1:
            return hits[0]
        if hits:
            names = ", ".join(str(h.relative_to(folder)) for h in hits)
            raise ValueError(
                f"{folder}: {len(hits)} answer sets named after the target {target} below it "
                f"({names}); give the folder of the one to read"
            )
        level = below
    return folder


def _images(folder: Path, known_themes: dict[str, str], scan: AnswerScan):
    """``(path, the theme folder it is in or None)`` for every image file; bad folders to extra.
    Theme folders match by ``name_key``; the theme is given as written in ``known_themes``."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            theme = known_themes.get(name_key(entry.name))
            if theme is None:
                scan.extra.append((entry, "a folder that is not a theme"))
                continue
            for path in sorted(entry.iterdir()):
                if path.name.startswith("."):
                    continue
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    yield path, theme
                elif path.is_dir():
                    scan.extra.append((path, "a folder inside a theme folder"))
        elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            yield entry, None


def scan_answers(
    folder: Path,
    themes: Sequence[str] = THEMES,
    objects: Sequence[str] = OBJECTS_20,
    seeds: Sequence[int] | None = None,
    target: str | None = None,
    fine_cells: Iterable[tuple[str, str]] = (),
) -> AnswerScan:
    """Find the answer images in ``folder`` (flat or one folder per theme), or in its folder
    named after ``target`` when that holds the answer set (see ``answer_folder``).

    ``seeds``: the seeds expected; ``None`` expects the seeds present among the images of the
    given themes and objects (the benchmark's five when there are none). Image files whose name
    is not an expected answer, answers found twice, images in a folder named after another
    theme, and folders that are not themes are listed as ``extra`` with a reason. Finer-scale
    images (``_fine_seed``) of the ``(theme, object)`` cells in ``fine_cells`` go to
    ``scan.fine``; those of other cells are extra. Files that are not images (reports, sidecars)
    and hidden files are ignored. Errors: ``FileNotFoundError``
    when ``folder`` is not a folder.
    """
    given = Path(folder)
    if not given.is_dir():
        raise FileNotFoundError(f"{given}: no such answer folder")
    folder = answer_folder(given, target, themes, objects)
    known_themes = _by_key([*STYLES_61, *themes])
    known_objects = [*OBJECTS_20, *(o for o in objects if o not in OBJECTS_20)]
    scan = AnswerScan(folder, given, list(themes), list(objects))
    scan.target_folders = [
        d.name
        for d in sorted(folder.iterdir())
        if d.is_dir() and _is_answer_folder(d, d.name, known_themes, set(known_objects))
    ]
    named = []
    for path, theme_folder in _images(folder, known_themes, scan):
        answer = parse_name(path.name, known_themes.values(), known_objects)
        if answer is None:
            scan.extra.append((path, f"not named {NAMING}"))
        else:
            named.append((answer, path, theme_folder))
    wanted_themes, wanted_objects = set(themes), set(objects)
    cells = set(fine_cells)
    for answer, _, _ in named:
        if answer.fine:
            continue
        if answer.theme in wanted_themes and answer.obj in wanted_objects:
            scan.seeds_found[answer.seed] = scan.seeds_found.get(answer.seed, 0) + 1
    scan.seeds_found = dict(sorted(scan.seeds_found.items()))
    if seeds is None:
        seeds = list(scan.seeds_found) or list(SEEDS)
    scan.seeds = [int(s) for s in seeds]
    expected = set(plan_answers(themes, objects, scan.seeds))
    for answer, path, theme_folder in named:
        if theme_folder is not None and answer.theme != theme_folder:
            scan.extra.append((path, f"a {answer.theme} image in the folder of {theme_folder}"))
        elif answer.fine and (answer.theme, answer.obj) not in cells:
            scan.extra.append((path, "a finer-scale image of a cell the target does not read"))
        elif answer.fine and answer in scan.fine:
            scan.extra.append((path, f"a second copy of {scan.fine[answer]}"))
        elif answer.fine:
            scan.fine[answer] = path
        elif answer not in expected:
            scan.extra.append((path, "not in the expected themes, objects and seeds"))
        elif answer in scan.found:
            scan.extra.append((path, f"a second copy of {scan.found[answer]}"))
        else:
            scan.found[answer] = path
    scan.missing = sorted(expected - set(scan.found))
    scan.found = dict(sorted(scan.found.items()))
    scan.fine = dict(sorted(scan.fine.items()))
    return scan
