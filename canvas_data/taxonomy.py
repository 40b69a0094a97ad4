"""The UnlearnCanvas taxonomy: style and object names, the release's class orders, captions.

This module is the one source of truth for names and class indices. Released classifier
checkpoints index classes by position, so the orders below must never change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from canvas_data.limits import MAX_CAPTION_CHARS

SEED_STYLE = "Seed_Images"

OBJECTS_20: tuple[str, ...] = (
    "Architectures", "Bears", "Birds", "Butterfly", "Cats", "Dogs", "Fishes", "Flame", "Flowers",
    "Frogs", "Horses", "Human", "Jellyfish", "Rabbits", "Sandwiches", "Sea", "Statues", "Towers",
    "Trees", "Waterfalls",
)  # fmt: skip

# The release's 61-way style head: alphabetical, except Palette_Knife at 30 and Seed_Images at 47.
STYLES_61: tuple[str, ...] = (
    "Abstractionism", "Artist_Sketch", "Blossom_Season", "Blue_Blooming", "Bricks", "Byzantine",
    "Cartoon", "Cold_Warm", "Color_Fantasy", "Comic_Etch", "Crayon", "Crypto_Punks", "Cubism",
    "Dadaism", "Dapple", "Defoliation", "Dreamweave", "Early_Autumn", "Expressionism", "Fauvism",
    "Foliage_Patchwork", "French", "Glowing_Sunset", "Gorgeous_Love", "Greenfield", "Impasto",
    "Impressionism", "Ink_Art", "Joy", "Liquid_Dreams", "Palette_Knife", "Magic_Cube",
    "Meta_Physics", "Meteor_Shower", "Monet", "Mosaic", "Neon_Lines", "On_Fire", "Pastel",
    "Pencil_Drawing", "Picasso", "Pointillism", "Pop_Art", "Rainwash", "Realistic_Watercolor",
    "Red_Blue_Ink", "Rust", "Seed_Images", "Sketch", "Sponge_Dabbed", "Structuralism",
    "Superstring", "Surrealism", "Techno", "Ukiyoe", "Van_Gogh", "Vibrant_Flow", "Warm_Love",
    "Warm_Smear", "Watercolor", "Winter",
)  # fmt: skip

# The 60 painted styles (the 61-way order without the photo class).
STYLES_60: tuple[str, ...] = tuple(s for s in STYLES_61 if s != SEED_STYLE)

# Styles left out of the benchmark's published experiments.
EXCLUDED_FROM_50: frozenset[str] = frozenset(
    {
        "Blue_Blooming", "Crypto_Punks", "Dreamweave", "Foliage_Patchwork", "Impasto",
        "Palette_Knife", "Pointillism", "Rainwash", "Realistic_Watercolor", "Techno",
    }
)  # fmt: skip

# The 51-way head of the 50-style benchmark subset (Seed_Images lands at index 38).
STYLES_51: tuple[str, ...] = tuple(s for s in STYLES_61 if s not in EXCLUDED_FROM_50)
STYLES_50: tuple[str, ...] = tuple(s for s in STYLES_51 if s != SEED_STYLE)

STYLE_ORDERS: dict[str, tuple[str, ...]] = {"release-61": STYLES_61, "release-51": STYLES_51}
OBJECT_ORDERS: dict[str, tuple[str, ...]] = {"release-20": OBJECTS_20}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # whole names only: fullmatch


def spaced(name: str) -> str:
    """`Van_Gogh` -> `Van Gogh`, as names appear in captions."""
    return name.replace("_", " ")


def caption(style: str, obj: str) -> str:
    """The canonical caption: ``"A Cats image in Van Gogh style"``, seed photos in "photo style"."""
    article = "An" if obj[:1].upper() in "AEIOU" else "A"
    style_words = "photo" if style == SEED_STYLE else spaced(style)
    return f"{article} {spaced(obj)} image in {style_words} style"


def _release_words(style: str, photo: str) -> str:
    return photo if style == SEED_STYLE else spaced(style)


# The prompts and captions of the release's scripts, quirks kept: always "A", never "An"; the
# object's name as is. Each entry: what uses it in the release, then the text of a painting and a
# photo (Cats, Van_Gogh / Seed_Images).
RELEASE_TEXTS: dict[str, Callable[[str, str], str]] = {
    # machine_unlearning/evaluation/sampling_unlearned_models/{esd,ca,uce,salun,ediff,seot,shs,
    # spm}.py: "A Cats image in Van Gogh style." / "A Cats image in Seed Images style."
    "release": lambda style, obj: f"A {obj} image in {spaced(style)} style.",
    # .../sampling_unlearned_models/fmn.py, names as written in folders, no period:
    # "A Cats image in Van_Gogh style" / "A Cats image in Seed_Images style"
    "release-fmn": lambda style, obj: f"A {obj} image in {style} style",
    # diffusion_model_finetuning/sampling/stable_diffusion/sample_compvis_automated.py and the
    # CompVis training data (dataset_preparation.py): "... Van Gogh style." / "... Photo style."
    "release-compvis": lambda style, obj: (
        f"A {obj} image in {_release_words(style, 'Photo')} style."
    ),
    # .../sample_diffuser_automated.py: "... Van Gogh style" / "... photo style", no period
    "release-diffusers": lambda style, obj: (
        f"A {obj} image in {_release_words(style, 'photo')} style"
    ),
}


def _caption_words(text: str) -> tuple[str, str] | None:
    """``(object words, style words)`` of ``"A[n] {object} image in {style} style[.]"``, or None.

    Split on whitespace and scanned once (linear time, no backtracking): the first ``image in``
    after the article ends the object's words, the last word is ``style``.
    """
    words = text.split()
    if words and words[-1].endswith(".") and words[-1] != ".":
        words[-1] = words[-1][:-1]
    elif words and words[-1] == ".":
        words.pop()
    lower = [w.lower() for w in words]
    if len(words) < 6 or lower[0] not in ("a", "an") or lower[-1] != "style":
        return None
    for i in range(2, len(words) - 3):
        if lower[i] == "image" and lower[i + 1] == "in":
            return " ".join(words[1:i]), " ".join(words[i + 2 : -1])
    return None


def _key(name: str) -> str:
    return "_".join(name.replace("_", " ").split()).lower()


@dataclass(frozen=True)
class Taxonomy:
    """Class orders of the two labels. ``styles`` includes ``Seed_Images`` where the head has it."""

    styles: tuple[str, ...] = STYLES_61
    objects: tuple[str, ...] = OBJECTS_20

    def __post_init__(self) -> None:
        for kind, names in (("style", self.styles), ("object", self.objects)):
            bad = [n for n in names if not _NAME.fullmatch(n)]
            if bad:
                raise ValueError(f"{kind} names must be letters, digits, '_' or '-': {bad}")
            dupes = sorted({n for n in names if list(names).count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} names: {dupes}")

    @classmethod
    def from_spec(cls, styles: str | Sequence[str], objects: str | Sequence[str]) -> Taxonomy:
        """Build from a named order (``release-61``, ``release-51``, ``release-20``) or a list."""
        return cls(
            _resolve(styles, STYLE_ORDERS, "style"), _resolve(objects, OBJECT_ORDERS, "object")
        )

    @property
    def painted_styles(self) -> tuple[str, ...]:
        """The styles that are paintings (every class except the photo class)."""
        return tuple(s for s in self.styles if s != SEED_STYLE)

    def style_index(self, style: str) -> int:
        return self.styles.index(style)

    def object_index(self, obj: str) -> int:
        return self.objects.index(obj)

    def parse_caption(self, text: str) -> tuple[str, str]:
        """Return ``(style, object)`` from any caption variant of the release.

        Accepts "A/An", spaces or underscores, any case, a trailing period, and "photo style" /
        "Photo style" / "Seed Images style" for seed photos. Raises ``ValueError`` otherwise,
        and for a caption longer than ``MAX_CAPTION_CHARS`` before looking at its words.
        Time is linear in the caption's length.
        """
        if len(text) > MAX_CAPTION_CHARS:
            raise ValueError(
                f"caption of {len(text):,} characters, over the limit of {MAX_CAPTION_CHARS:,}"
            )
        words = _caption_words(text)
        if words is None:
            raise ValueError(f"not an UnlearnCanvas caption: {text!r}")
        object_words, style_words = words
        style = _lookup(style_words, self.styles, {"photo": SEED_STYLE})
        obj = _lookup(object_words, self.objects, {})
        if style is None:
            raise ValueError(f"unknown style {style_words!r} in caption {text!r}")
        if obj is None:
            raise ValueError(f"unknown object {object_words!r} in caption {text!r}")
        return style, obj


def _lookup(words: str, names: Iterable[str], aliases: dict[str, str]) -> str | None:
    by_key = {_key(n): n for n in names}
    by_key.update({_key(a): n for a, n in aliases.items()})
    return by_key.get(_key(words))


def _resolve(spec: str | Sequence[str], named: dict[str, tuple[str, ...]], kind: str):
    if isinstance(spec, str):
        if spec not in named:
            raise ValueError(f"unknown {kind} order {spec!r}; known: {', '.join(named)}")
        return named[spec]
    return tuple(spec)


RELEASE = Taxonomy()


def parse_caption(text: str) -> tuple[str, str]:
    """Parse a caption against the release taxonomy; see :meth:`Taxonomy.parse_caption`."""
    return RELEASE.parse_caption(text)
