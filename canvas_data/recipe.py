"""Recipes: YAML files in ``builders/`` that say what a build contains and how it is made.

A recipe is read with ``yaml.safe_load`` (no Python tags), its ``extends`` chain is merged, and
the result is checked against :mod:`canvas_data.recipe_schema` before anything uses it: unknown
keys, wrong types and out-of-range values raise ``ValueError`` naming the file and the key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from canvas_data.errors import InputError, reading
from canvas_data.recipe_schema import RECIPE_NAME, BuildSpec, RecipeSpec, validate_recipe
from canvas_data.suggest import did_you_mean, unknown_names
from canvas_data.taxonomy import SEED_STYLE, Taxonomy

RECIPE_FILE = "recipe.yaml"  # the resolved recipe a workspace keeps
MAX_NODES = 100_000  # values a recipe may hold, aliases expanded (the full recipe: ~2,400)
MAX_DEPTH = 50  # nesting a recipe may have (the full recipe: 6)


@dataclass(frozen=True)
class StyleSpec:
    """One style of a recipe: a prompt for diffusion stylizers, a filter chain for the CPU one."""

    name: str
    prompt: str
    negative_prompt: str | None = None
    procedural: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # the other keys the recipe sets


@dataclass(frozen=True)
class Recipe:
    """A resolved recipe (``extends`` merged in).

    ``data`` is the merged mapping as written (what ``sha256`` hashes and ``recipe.yaml`` keeps);
    ``spec`` is that mapping checked by :mod:`canvas_data.recipe_schema`, with every default
    filled in: the properties below read it. ``data`` is checked when the recipe is made
    (``ValueError`` naming ``source`` and the bad key); a changed recipe is a new ``Recipe``,
    never ``data`` changed in place (``spec`` would not follow).
    """

    name: str
    data: dict[str, Any]
    source: str
    spec: RecipeSpec = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", validate_recipe(self.data, self.source))

    @property
    def sha256(self) -> str:
        blob = json.dumps(self.data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def taxonomy(self) -> Taxonomy:
        return Taxonomy.from_spec(self.spec.taxonomy.styles, self.spec.taxonomy.objects)

    @property
    def build(self) -> BuildSpec:
        return self.spec.build

    @property
    def resolution(self) -> int:
        return self.spec.build.resolution

    @property
    def photos_per_object(self) -> int:
        return self.spec.build.photos_per_object

    @property
    def min_photo_side(self) -> int:
        return self.spec.build.min_photo_side

    @property
    def jpeg_quality(self) -> int:
        return self.spec.build.jpeg_quality

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def test_per_object(self) -> int:
        """How many photos of each object (the highest idx) go to the test split."""
        return self.spec.split.test_per_object

    @property
    def objects(self) -> tuple[str, ...]:
        """The objects this build makes, in class order."""
        return _select(self.spec.build.objects, self.taxonomy.objects, "object")

    @property
    def styles(self) -> tuple[str, ...]:
        """The painted styles this build makes, in class order."""
        return _select(self.spec.build.styles, self.taxonomy.painted_styles, "style")

    def defines(self, name: str) -> bool:
        """Whether the recipe's ``styles`` section defines style ``name``."""
        return name in self.spec.styles

    def style(self, name: str) -> StyleSpec:
        """The spec of one style; ``InputError`` naming the recipe when it defines none."""
        spec = self.spec.styles.get(name)
        if spec is None:
            defined = list(self.spec.styles)
            raise InputError(f"recipe {self.name!r}: {unknown_names('style', [name], defined)}")
        return StyleSpec(
            name=name,
            prompt=spec.prompt or f"a painting in {name.replace('_', ' ')} style",
            negative_prompt=spec.negative_prompt,
            procedural=tuple(spec.procedural or ()),
            extra=spec.model_dump(exclude_unset=True, exclude=_STYLE_FIELDS),
        )

    def stylizer_options(self, backend: str) -> dict[str, Any]:
        """The options the recipe sets for stylizer ``backend`` (only those it sets)."""
        options = getattr(self.spec.stylizers, backend, None)
        return options.model_dump(exclude_unset=True) if options is not None else {}

    def split_of(self, idx: int, photo_indices: list[int]) -> str:
        """``train`` or ``test`` for photo ``idx`` of a cell whose photos are ``photo_indices``.

        The split is by seed photo: the highest ``test_per_object`` indices are test, so a photo
        and all of its stylizations always land in the same split.
        """
        n_test = min(self.test_per_object, max(len(photo_indices) - 1, 0))
        test = set(sorted(photo_indices)[len(photo_indices) - n_test :]) if n_test else set()
        return "test" if idx in test else "train"

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True, width=100)


_STYLE_FIELDS = {"prompt", "negative_prompt", "procedural"}  # StyleSpec's own fields


def _select(spec: Any, universe: tuple[str, ...], kind: str) -> tuple[str, ...]:
    if spec in (None, "all"):
        return tuple(universe)
    unknown = [n for n in spec if n not in universe]
    if unknown:
        raise ValueError(f"build.{kind}s: {unknown_names(kind, unknown, universe)}")
    wanted = set(spec)
    return tuple(n for n in universe if n in wanted)


def builtin_recipes() -> list[str]:
    """Names of the recipes shipped in ``builders/``."""
    root = resources.files("canvas_data.builders")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _read(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    path = Path(name_or_path)
    if path.is_file():
        with reading(path, "a YAML recipe"):
            text = path.read_text()
        return _parse(text, str(path)), str(path)
    name = str(name_or_path).removesuffix(".yaml")
    res = resources.files("canvas_data.builders").joinpath(f"{name}.yaml")
    if not res.is_file():
        known = ", ".join(builtin_recipes())
        raise FileNotFoundError(f"no recipe {name_or_path!r}: not a file, nor a built-in ({known})")
    return _parse(res.read_text(), f"builders/{name}.yaml"), f"builders/{name}.yaml"


def _read_parent(name: str, source: str) -> tuple[dict[str, Any], str]:
    """The recipe that ``source`` extends; one that is not found is named with the key and the
    file that asks for it, and the closest known recipe."""
    try:
        return _read(name)
    except FileNotFoundError:
        folder = Path(source).parent
        nearby = [p.name for p in folder.glob("*.y*ml")] if folder.is_dir() else []
        hint = did_you_mean(name, [*builtin_recipes(), *nearby])
        raise ValueError(
            f"recipe {source}: extends: no recipe {name!r}{hint}: not a file (relative to "
            f"{Path.cwd()}), nor a built-in ({', '.join(builtin_recipes())})"
        ) from None


def _parse(text: str, source: str) -> dict[str, Any]:
    """The mapping a recipe file holds; ``ValueError`` naming ``source`` for anything else."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        reason = " ".join(str(getattr(err, "problem", None) or err).split())
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"recipe {source}: not valid YAML{where}: {reason}") from None
    except RecursionError:
        raise ValueError(f"recipe {source}: nested too deeply to be a recipe") from None
    if _too_large(data):
        raise ValueError(
            f"recipe {source}: more than {MAX_NODES} values once its aliases (*name) are "
            f"expanded, or nested more than {MAX_DEPTH} deep; too large to be a recipe"
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"recipe {source}: must be a mapping of keys, got {type(data).__name__}")
    extends = data.get("extends")
    if "extends" in data and not isinstance(extends, str):
        raise ValueError(
            f"recipe {source}: extends: must be a recipe name or path, got {extends!r}"
        )
    return data


def _too_large(data: Any) -> bool:
    """Whether ``data``, with every alias expanded, holds more than ``MAX_NODES`` values or is
    nested deeper than ``MAX_DEPTH``: YAML aliases let a few lines stand for billions of values
    (a "billion laughs"), which checking, hashing or printing the recipe would expand."""
    stack, seen = [(data, 0)], 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES or depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for kv in value.items() for v in kv)
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Load a recipe by built-in name or path; resolves ``extends``."""
    data, source = _read(name_or_path)
    seen, asking = {source}, source  # asking: the file whose `extends` is read next
    while "extends" in data:
        parent, parent_source = _read_parent(data.pop("extends"), asking)
        if parent_source in seen:
            raise ValueError(f"recipe {source} extends itself through {parent_source}")
        seen.add(parent_source)
        data, asking = _merge(parent, data), parent_source
    name = validate_recipe(data, source).name or Path(source).stem
    if not re.fullmatch(RECIPE_NAME, name):
        raise ValueError(
            f"recipe {source}: name {name!r} is not letters, digits, space, '_', '.', '+' or '-'"
            " (at most 100 characters); set 'name:' in the recipe"
        )
    recipe = Recipe(name=name, data=data, source=source)
    try:
        recipe.taxonomy, recipe.objects, recipe.styles  # noqa: B018 - checked now, not mid-build
    except ValueError as err:
        raise ValueError(f"recipe {source}: {err}") from None
    missing = [s for s in recipe.styles if not recipe.defines(s)]
    if missing:
        raise ValueError(f"recipe {source} builds styles it does not define: {missing}")
    if recipe.defines(SEED_STYLE):
        raise ValueError(f"recipe {source}: {SEED_STYLE} is the photo class, not a style to paint")
    return recipe


def save_recipe(recipe: Recipe, work: Path) -> Path:
    """Keep the resolved recipe in the workspace so later stages build the same thing."""
    from canvas_data.atomic import write_text

    path = work / RECIPE_FILE
    write_text(path, recipe.to_yaml())
    return path


def workspace_recipe(work: Path, override: str | Path | None = None) -> Recipe:
    """The recipe a workspace was made with; the full recipe for a bare copy of the release."""
    if override is not None:
        return load_recipe(override)
    kept = work / RECIPE_FILE
    return load_recipe(kept if kept.is_file() else "unlearncanvas")
