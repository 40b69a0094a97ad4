"""The schema of a packed folder's ``manifest.json``, checked with pydantic before it is used.

A manifest is untrusted input: every field a reader uses gets its type checked (strictly: no
``"16"`` for a count), counts and sizes must be non-negative, a shard's split must be one of the
splits, its counts keyed ``{Style}/{Object}``, and no shard file may be listed twice. Fields a
reader does not use may be added freely (``extra`` keys are kept).

:func:`validate_manifest` raises ``InputError`` with one line naming the file, each bad field's
dotted path and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from canvas_data.errors import InputError, validation_line

SPLITS = ("train", "test")

Count = Annotated[int, Field(ge=0)]
Split = Annotated[str, Field(pattern=r"^(train|test)$")]
Cell = Annotated[str, Field(pattern=r"^[^/]+/[^/]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class ShardEntry(_Strict):
    """One file of ``shards`` or ``parquet``: where it is, what it holds, its hash."""

    path: Annotated[str, Field(min_length=1)]
    split: Split
    samples: Count
    bytes: Count | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    counts: dict[Cell, Count] = {}


class TaxonomyEntry(_Strict):
    styles: str | list[str] = "release-61"
    objects: str | list[str] = "release-20"


class ManifestSpec(_Strict):
    """A manifest as its readers see it: a field a manifest leaves out (or sets to ``null``)
    has the default below."""

    name: str | None = None
    toolkit_version: str = "unknown"
    taxonomy: TaxonomyEntry
    formats: list[str] | None = None
    splits: dict[Split, Count]
    backends: dict[str, Count] = {}  # paintings per stylizer backend
    shards: list[ShardEntry]
    parquet: list[ShardEntry] = []
    counts: dict[Split, dict[str, dict[str, Count]]]
    missing: list[Any] = []
    unreadable: list[dict[str, Any]] = []
    extra: list[Any] = []

    @model_validator(mode="before")
    @classmethod
    def _null_is_left_out(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or cls._required(k)}
        return data

    @classmethod
    def _required(cls, key: Any) -> bool:
        field = cls.model_fields.get(key) if isinstance(key, str) else None
        return field is None or field.is_required()

    @model_validator(mode="after")
    def _each_file_once(self) -> ManifestSpec:
        for kind, entries in (("shards", self.shards), ("parquet", self.parquet or [])):
            seen: set[str] = set()
            for entry in entries:
                if entry.path in seen:
                    raise ValueError(f"{kind}: {entry.path!r} is listed twice")
                seen.add(entry.path)
        return self


def validate_manifest(manifest: Any, path: Path | str) -> dict[str, Any]:
    """``manifest`` unchanged when it fits the schema; ``InputError`` ``PATH: FIELD: reason``."""
    manifest_spec(manifest, path)
    return manifest


def manifest_spec(manifest: Any, path: Path | str = "manifest.json") -> ManifestSpec:
    """``manifest`` (a mapping read from ``path``, or made by the packer) as its checked model,
    every field it leaves out at its default; ``InputError`` ``PATH: FIELD: reason``."""
    if isinstance(manifest, ManifestSpec):
        return manifest
    try:
        return ManifestSpec.model_validate(manifest)
    except ValidationError as err:
        faults = validation_line(err, root="manifest")
        raise InputError(f"{path}: not a valid packed folder's manifest: {faults}") from None
