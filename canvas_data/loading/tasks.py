"""Task views: what one training example is for each UnlearnCanvas task, and which samples feed it.

A task turns one sample of the shards (its key ``{Style}/{Object}/{idx}``) into zero or more
examples. Each example names the images it needs by role (``image``; ``source`` and ``target``;
``content``, ``target`` and ``reference``), which the loaders fetch, decode and transform, and
carries its labels or text. Roles in ``joint`` go through one transform call (same random crop and
flip: a photo and its painting stay aligned); roles in ``separate`` get their own.

Partners are found by key within the dataset (``Pool``): the seed photo of ``Van_Gogh/Cats/3`` is
``Seed_Images/Cats/3``, in the same split, because splits are made by seed photo.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from canvas_data.suggest import unknown_names
from canvas_data.taxonomy import (
    OBJECTS_20,
    RELEASE_TEXTS,
    SEED_STYLE,
    Taxonomy,
    caption,
    spaced,
)
from canvas_data.workspace import Item

Job = dict[str, str]  # role -> sample key


def parse_key(key: str) -> Item:
    """``"Van_Gogh/Cats/3"`` -> ``Item("Van_Gogh", "Cats", 3)``; ``ValueError`` if malformed."""
    parts = key.split("/")
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValueError(f"not an UnlearnCanvas sample key ({{Style}}/{{Object}}/{{idx}}): {key!r}")
    return Item(parts[0], parts[1], int(parts[2]))


def _scalar(value: Any) -> Any:
    """A 0-d array or tensor (``np.array(3)``, ``torch.tensor(3)``, an element of a 1-d tensor)
    as its Python number; anything else as it is."""
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return value.item()
    return value


def _indices(value: int | Iterable[int] | None) -> tuple[int, ...] | None:
    """``3``, ``range(1, 4)`` or ``[1, 2, 3]`` (numpy integers too) -> sorted unique photo
    indices; ``ValueError`` for anything that is not a whole number from 1 up, or for none."""
    if value is None:
        return None
    value = _scalar(value)
    values = (value,) if isinstance(value, Integral) else value
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"idx must be an int, a range or ints, not {value!r}")
    values = tuple(map(_scalar, values))
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, Integral) or v < 1]
    if bad:
        raise ValueError(f"idx holds {bad!r}: photo indices are whole numbers from 1 up")
    if not values:
        raise ValueError("idx selects no photo: give at least one index")
    return tuple(sorted({int(v) for v in values}))


def _names(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Selection:
    """Which samples of a split a view uses. A forget set and a retain set are one each::

    Selection(styles=["Van_Gogh"])            # forget set: one style
    Selection(exclude_styles=["Van_Gogh"])    # retain set: everything else
    Selection(styles=["Van_Gogh"], idx=(1, 2, 3))  # the release's forget set: photos 1-3

    ``idx``: the photo indices kept (``None``: all).
    """

    split: str = "train"
    styles: tuple[str, ...] | None = None
    objects: tuple[str, ...] | None = None
    exclude_styles: tuple[str, ...] = ()
    exclude_objects: tuple[str, ...] = ()
    idx: tuple[int, ...] | None = None

    @classmethod
    def of(
        cls,
        split: str = "train",
        styles: str | Iterable[str] | None = None,
        objects: str | Iterable[str] | None = None,
        exclude_styles: str | Iterable[str] | None = None,
        exclude_objects: str | Iterable[str] | None = None,
        idx: int | Iterable[int] | None = None,
    ) -> Selection:
        """Build from names or lists of names (a single name is a one-element list), and photo
        indices (an int, a ``range`` or ints). ``ValueError`` for an index below 1."""
        return cls(
            split,
            _names(styles),
            _names(objects),
            _names(exclude_styles) or (),
            _names(exclude_objects) or (),
            _indices(idx),
        )

    def keeps(self, item: Item) -> bool:
        """Whether a sample is in the selection (its split is checked by the caller)."""
        return self.keeps_cell(item.style, item.obj) and (self.idx is None or item.idx in self.idx)

    def keeps_cell(self, style: str, obj: str) -> bool:
        """Whether some photos of a (style, object) cell may be in the selection."""
        item = Item(style, obj, 0)
        return (
            (self.styles is None or item.style in self.styles)
            and (self.objects is None or item.obj in self.objects)
            and item.style not in self.exclude_styles
            and item.obj not in self.exclude_objects
        )

    def check(self, taxonomy: Taxonomy, splits: Iterable[str]) -> None:
        """Reject names the dataset does not know (a typo would silently select nothing)."""
        if self.split not in splits:
            raise ValueError(f"unknown split {self.split!r}; this dataset has: {', '.join(splits)}")
        for kind, names, known in (
            ("style", (*(self.styles or ()), *self.exclude_styles), taxonomy.styles),
            ("object", (*(self.objects or ()), *self.exclude_objects), taxonomy.objects),
        ):
            unknown = sorted(set(names) - set(known))
            if unknown:
                raise ValueError(unknown_names(kind, unknown, known))

    def check_held(self, styles: Iterable[str], objects: Iterable[str], where: str) -> None:
        """Refuse styles or objects asked for (not those excluded) that the selected split does
        not hold, naming what it holds: the taxonomy knowing a name does not put it in the data,
        and the view would be silently empty or short. ``where`` names the data (a folder)."""
        for kind, asked, held in (
            ("style", self.styles, set(styles)),
            ("object", self.objects, set(objects)),
        ):
            absent = [n for n in asked or () if n not in held]
            if absent:
                shown = ", ".join(sorted(held)) or "nothing"
                raise ValueError(
                    f"{where}: the {self.split} split holds no {kind} {', '.join(absent)}; "
                    f"it holds {kind}s: {shown}"
                )


class Pool:
    """The sample keys of a dataset per split, to find a sample's partners."""

    def __init__(self, keys_by_split: Mapping[str, Iterable[str]]):
        self._keys = {split: set(keys) for split, keys in keys_by_split.items()}
        self._by_style: dict[tuple[str, str], list[Item]] = defaultdict(list)
        for split, keys in self._keys.items():
            for key in sorted(keys, key=parse_key):
                item = parse_key(key)
                self._by_style[split, item.style].append(item)

    def has(self, split: str, key: str) -> bool:
        return key in self._keys.get(split, ())

    def of_style(self, split: str, style: str, obj: str | None = None) -> list[Item]:
        """The samples of a style in a split (of one object if given), in key order."""
        items = self._by_style.get((split, style), [])
        return items if obj is None else [i for i in items if i.obj == obj]


class Task:
    """One example per sample, image only; subclasses add labels, text or partners."""

    name = "image"
    joint: tuple[str, ...] = ("image",)  # roles transformed together; the first is the sample
    separate: tuple[str, ...] = ()  # roles transformed on their own
    needs_partners = False

    def accepts(self, item: Item) -> bool:
        """Whether a sample can be the main image of an example (before looking for partners)."""
        return True

    def jobs(self, item: Item, split: str, pool: Pool | None, rng: random.Random) -> list[Job]:
        """The examples a sample makes: role -> key for each; none if a partner is missing."""
        return [{self.joint[0]: item.key}]

    def fields(self, item: Item, job: Job) -> dict[str, Any]:
        """Labels and text of an example."""
        return {"key": item.key}


def _order(spec: str | Sequence[str], kind: str) -> tuple[str, ...]:
    if kind == "style":
        return Taxonomy.from_spec(spec, OBJECTS_20).styles
    return Taxonomy.from_spec("release-61", spec).objects


class StyleClassification(Task):
    """``image`` and ``label``: the style's index in ``order`` (``release-61``, ``release-51`` or
    a list of names). Samples whose style the order lacks are left out."""

    name = "style-classification"

    def __init__(self, order: str | Sequence[str] = "release-61"):
        self.order = _order(order, "style")
        self._index = {s: i for i, s in enumerate(self.order)}

    def accepts(self, item: Item) -> bool:
        return item.style in self._index

    def fields(self, item: Item, job: Job) -> dict[str, Any]:
        return {"label": self._index[item.style], "key": item.key}


class ObjectClassification(Task):
    """``image`` and ``label``: the object's index in ``order`` (``release-20`` or a list)."""

    name = "object-classification"

    def __init__(self, order: str | Sequence[str] = "release-20"):
        self.order = _order(order, "object")
        self._index = {o: i for i, o in enumerate(self.order)}

    def accepts(self, item: Item) -> bool:
        return item.obj in self._index

    def fields(self, item: Item, job: Job) -> dict[str, Any]:
        return {"label": self._index[item.obj], "key": item.key}


def _style_words(style: str, photo: str = "photo") -> str:
    return photo if style == SEED_STYLE else spaced(style)


def _template(text: str) -> Callable[[str, str], str]:
    def fill(style: str, obj: str) -> str:
        return text.format(style=_style_words(style), style_name=style, object=obj)

    return fill


CAPTIONS: dict[str, Callable[[str, str], str]] = {
    # the `txt` member and the release's diffusers metadata: "A Cats image in Van Gogh style"
    "canonical": caption,
    # the release's prompts as its scripts write them (see taxonomy.RELEASE_TEXTS): `release`
    # (its unlearned-model samplers), `release-fmn`, `release-compvis` (also its CompVis
    # training data: "Photo style", a trailing period), `release-diffusers`
    **RELEASE_TEXTS,
}

INSTRUCTIONS: dict[str, Callable[[str, str], str]] = {
    # the release's InstructPix2Pix data and sampler: "Transform the image to Van Gogh style."
    "release": _template("Transform the image to {style} style."),
    # the style's class name as written in the release's folders: "... to Van_Gogh style."
    "class-name": _template("Transform the image to {style_name} style."),
}


def _text_maker(spec: str | Callable[[str, str], str], known: dict, what: str):
    if callable(spec):
        return spec
    if spec in known:
        return known[spec]
    if "{" in spec:
        _template(spec)("Van_Gogh", "Cats")  # fail now on a bad placeholder, not in a worker
        return _template(spec)
    raise ValueError(
        f"unknown {what} {spec!r}: use one of {', '.join(known)}, a template with "
        "{style}, {style_name} and {object}, or a function (style, object) -> str"
    )


class TextToImage(Task):
    """``image`` and ``caption``: ``canonical``, a release preset (``release``, ``release-fmn``,
    ``release-compvis``, ``release-diffusers``), a template or a function (style, object)."""

    name = "text-to-image"

    def __init__(self, caption: str | Callable[[str, str], str] = "canonical"):
        self.caption = _text_maker(caption, CAPTIONS, "caption")

    def fields(self, item: Item, job: Job) -> dict[str, Any]:
        return {"caption": self.caption(item.style, item.obj), "key": item.key}


class EditPairs(Task):
    """``source`` (the seed photo), ``target`` (its painting) and an ``instruction``.

    ``instruction``: ``release`` ("Transform the image to Van Gogh style."), ``class-name``
    ("... to Van_Gogh style."), a template or a function (style, object) -> str. Both images get
    the same crop and flip.
    """

    name = "edit-pairs"
    joint = ("target", "source")
    needs_partners = True

    def __init__(self, instruction: str | Callable[[str, str], str] = "release"):
        self.instruction = _text_maker(instruction, INSTRUCTIONS, "instruction")

    def accepts(self, item: Item) -> bool:
        return item.style != SEED_STYLE

    def jobs(self, item: Item, split: str, pool: Pool | None, rng: random.Random) -> list[Job]:
        if pool is None or not pool.has(split, item.seed_key):
            return []
        return [{"target": item.key, "source": item.seed_key}]

    def fields(self, item: Item, job: Job) -> dict[str, Any]:
        return {"instruction": self.instruction(item.style, item.obj), "key": item.key}


class StyleTransfer(Task):
    """``content`` (a seed photo), ``reference`` (another painting in the same style) and
    ``target`` (the content painted in that style: the ground truth).

    ``reference``: ``same-object`` (as the release's style-transfer benchmark: same style and
    object, another photo) or ``any-object`` (same style, another photo). ``all_references``
    makes one example per possible reference (the release's evaluation grid) instead of one
    drawn at random per epoch. ``reference_split``: where references come from (default: the
    sample's own split; the release evaluates test photos against train references).
    """

    name = "style-transfer"
    joint = ("target", "content")
    separate = ("reference",)
    needs_partners = True
    REFERENCES = ("same-object", "any-object")

    def __init__(
        self,
        reference: str = "same-object",
        *,
        all_references: bool = False,
        reference_split: str | None = None,
    ):
        if reference not in self.REFERENCES:
            raise ValueError(
                f"unknown reference rule {reference!r}; use {' or '.join(self.REFERENCES)}"
            )
        self.reference = reference
        self.all_references = all_references
        self.reference_split = reference_split

    def accepts(self, item: Item) -> bool:
        return item.style != SEED_STYLE

    def references(self, item: Item, split: str, pool: Pool) -> list[Item]:
        """The paintings that may serve as a style reference for ``item``."""
        obj = item.obj if self.reference == "same-object" else None
        candidates = pool.of_style(self.reference_split or split, item.style, obj)
        return [c for c in candidates if c.seed_key != item.seed_key]

    def jobs(self, item: Item, split: str, pool: Pool | None, rng: random.Random) -> list[Job]:
        if pool is None or not pool.has(split, item.seed_key):
            return []
        refs = self.references(item, split, pool)
        if not refs:
            return []
        chosen = refs if self.all_references else [rng.choice(refs)]
        return [{"target": item.key, "content": item.seed_key, "reference": r.key} for r in chosen]

    def fields(self, item: Item, job: Job) -> dict[str, Any]:
        return {"key": item.key, "reference_key": job["reference"]}


def example_rng(seed: int | None, epoch: int, key: str) -> random.Random:
    """The random choices of one sample in one epoch (a style reference): the same in every
    worker and rank, so an epoch does not depend on how work is split."""
    return random.Random(f"{seed}/{epoch}/{key}")
