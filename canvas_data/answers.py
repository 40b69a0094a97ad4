"""Answer sets: what a text-to-image model generates for the unlearning metrics, and their names.

An answer set holds one image per theme (the 50 styles and ``Seed_Images``) x object x seed, named
``{Theme}_{Object}_seed{seed}.jpg`` as in the release, either flat in one folder or in one folder
per theme (``{Theme}/{Theme}_{Object}_seed{seed}.jpg``). ``scan_answers`` reads either layout and
lists what is missing and what does not belong.
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
_SEED = re.compile(r"^(?P<stem>.+)_seed(?P<seed>[0-9]+)$")


@dataclass(frozen=True, order=True)
class Answer:
    """One image of an answer set: a theme (a style or ``Seed_Images``), an object, a seed."""

    theme: str
    obj: str
    seed: int

    @property
    def file_name(self) -> str:
        return f"{self.theme}_{self.obj}_seed{self.seed}.jpg"

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


def parse_name(name: str, themes: Iterable[str], objects: Iterable[str]) -> Answer | None:
    """The answer a file name stands for (``Van_Gogh_Cats_seed188.jpg``), or ``None``."""
    path = Path(name)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return None
    match = _SEED.match(path.stem)
    if not match:
        return None
    stem, themes = match["stem"], set(themes)
    for obj in sorted(objects, key=len, reverse=True):  # names may hold underscores
        theme = stem.removesuffix(f"_{obj}")
        if theme != stem and theme in themes:
            return Answer(theme, obj, int(match["seed"]))
    return None


@dataclass
class AnswerScan:
    """What an answer folder holds against what was expected."""

    folder: Path
    found: dict[Answer, Path] = field(default_factory=dict)
    missing: list[Answer] = field(default_factory=list)
    extra: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return len(self.found) + len(self.missing)

    def summary(self) -> str:
        return (
            f"{self.folder}: {len(self.found)} of {self.expected} answer images, "
            f"{len(self.missing)} missing, {len(self.extra)} extra"
        )


def scan_answers(
    folder: Path,
    themes: Sequence[str] = THEMES,
    objects: Sequence[str] = OBJECTS_20,
    seeds: Sequence[int] = SEEDS,
) -> AnswerScan:
    """Find the answer images in ``folder`` (flat or one folder per theme).

    Image files whose name is not an expected answer, answers found twice, images in a folder
    named after another theme, and folders that are not themes are listed as ``extra`` with a
    reason. Files that are not images (reports, sidecars) and hidden files are ignored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such answer folder")
    expected = set(plan_answers(themes, objects, seeds))
    known_themes = set(STYLES_61) | set(themes)
    scan = AnswerScan(folder)

    def take(path: Path, theme_folder: str | None) -> None:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            return
        answer = parse_name(path.name, known_themes, set(OBJECTS_20) | set(objects))
        if answer is None:
            scan.extra.append((path, "not named {Theme}_{Object}_seed{seed}.jpg"))
        elif theme_folder is not None and answer.theme != theme_folder:
            scan.extra.append((path, f"a {answer.theme} image in the folder of {theme_folder}"))
        elif answer not in expected:
            scan.extra.append((path, "not in the expected themes, objects and seeds"))
        elif answer in scan.found:
            scan.extra.append((path, f"a second copy of {scan.found[answer]}"))
        else:
            scan.found[answer] = path

    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in known_themes:
                scan.extra.append((entry, "a folder that is not a theme"))
                continue
            for path in sorted(entry.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    take(path, entry.name)
                elif path.is_dir():
                    scan.extra.append((path, "a folder inside a theme folder"))
        elif entry.is_file():
            take(entry, None)
    scan.missing = sorted(expected - set(scan.found))
    scan.found = dict(sorted(scan.found.items()))
    return scan
