"""The schema of a recipe (``builders/*.yaml``), checked with pydantic after ``extends`` is merged.

Every level refuses keys it does not know, naming the closest known key; values are checked
strictly (no ``"512"`` for an integer, no ``yes`` for a number) and within range. A style's
``procedural`` chain is checked op by op against the CPU stylizer's registry of ops.

:func:`validate_recipe` raises ``ValueError`` with one line naming the file, each bad key's
dotted path and the reason.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from canvas_data.errors import validation_line
from canvas_data.suggest import did_you_mean

# Croissant RAI properties (http://mlcommons.org/croissant/RAI/), in the order the card shows them.
RAI_FIELDS: dict[str, str] = {
    "dataUseCases": "Intended uses",
    "dataCollection": "How the data was collected",
    "dataCollectionType": "Kind of collection",
    "dataCollectionRawData": "Raw data",
    "dataPreprocessingProtocol": "Preprocessing",
    "dataManipulationProtocol": "Manipulation (stylization)",
    "dataAnnotationProtocol": "Labels",
    "annotationsPerItem": "Labels per image",
    "dataBiases": "Biases",
    "dataLimitations": "Limitations",
    "dataSocialImpact": "Social impact",
    "personalSensitiveInformation": "Personal and sensitive information",
    "dataReleaseMaintenancePlan": "Maintenance",
}


class _Section(BaseModel):
    """A mapping of known keys: unknown ones are refused with the closest known key."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if data is None:  # a key with no value (``build:``) is the section with its defaults
            return {}
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    raise _unknown_key(str(key), known)
        else:
            raise PydanticCustomError(
                "not_a_mapping", "must be a mapping of keys, got {value}", {"value": repr(data)}
            )
        return data


def _unknown_key(key: str, known: list[str]) -> PydanticCustomError:
    return PydanticCustomError(
        "unknown_key",
        "unknown key {key}{hint}; known keys: {known}",
        {"key": key, "hint": did_you_mean(key, known), "known": ", ".join(known)},
    )


def _names(value: Any, handler: Any) -> Any:
    """A name or a list of names, with one message instead of one per type of the union."""
    if isinstance(value, str) or (
        isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    ):
        return handler(value)
    raise PydanticCustomError(
        "names", "must be a name or a non-empty list of names, got {value}", {"value": repr(value)}
    )


Names = Annotated[str | list[str], WrapValidator(_names)]
PositiveInt = Annotated[int, Field(ge=1)]
Text = Annotated[str, Field(min_length=1)]
# A recipe's name is written into the card (headings, code spans), file names and Croissant:
# letters, digits, space, '_', '.', '+', '-', at most 100 characters.
RECIPE_NAME = r"[A-Za-z0-9][A-Za-z0-9 _.+-]{0,99}"
RecipeName = Annotated[str, Field(pattern=rf"\A{RECIPE_NAME}\z")]
# A title or licence: one line, no control characters.
Line = Annotated[str, Field(min_length=1, pattern=r"\A[^\x00-\x1f\x7f]+\z")]


class TaxonomySpec(_Section):
    styles: Names = "release-61"
    objects: Names = "release-20"


class BuildSpec(_Section):
    styles: Names = "all"
    objects: Names = "all"
    photos_per_object: Annotated[int, Field(ge=1, le=100_000)] = 20
    resolution: Annotated[int, Field(ge=8, le=16384)] = 1024
    min_photo_side: Annotated[int, Field(ge=1, le=65535)] = 256
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = 95


class SplitSpec(_Section):
    test_per_object: Annotated[int, Field(ge=0)] = 2


class ShardsSpec(_Section):
    max_samples: PositiveInt = 1000
    max_bytes: Annotated[int, Field(ge=1024)] = 1_000_000_000


class PhotosSpec(_Section):
    source: Literal["folder", "bundled", "manifest"] = "folder"
    licence: Text | None = None


class ProceduralOptions(_Section):
    min_side: PositiveInt | None = None


class DiffusersOptions(_Section):
    """``stylizers.diffusers``: the fields of ``DiffusionSettings``, all optional here."""

    model: Text | None = None
    revision: Text | None = None
    device: Text | None = None
    dtype: Text | None = None
    batch_size: PositiveInt | None = None
    strength: Annotated[float, Field(gt=0, le=1)] | None = None
    steps: PositiveInt | None = None
    guidance_scale: Annotated[float, Field(ge=0)] | None = None
    scheduler: Text | None = None
    negative_prompt: str | None = None
    resolution: Annotated[int, Field(ge=8, multiple_of=8)] | None = None
    controlnet: Text | None = None
    controlnet_scale: Annotated[float, Field(ge=0)] | None = None
    controlnet_input: Literal["canny", "photo"] | None = None
    ip_adapter: Text | None = None
    ip_adapter_weight: Text | None = None
    ip_adapter_encoder: Text | None = None
    ip_adapter_scale: Annotated[float, Field(ge=0)] | None = None
    style_references: Text | None = None
    references_per_style: PositiveInt | None = None

    @model_validator(mode="after")
    def _denoises(self) -> DiffusersOptions:
        """img2img runs ``round(steps x strength)`` denoising steps: none paints nothing."""
        given = self.steps is not None and self.strength is not None
        if given and round(self.steps * self.strength) < 1:
            raise ValueError(
                f"steps: {self.steps} steps at strength {self.strength} denoise nothing "
                "(img2img runs round(steps x strength) steps); raise either"
            )
        return self


class AdaINOptions(_Section):
    """``stylizers.adain``: the fields of ``AdaINSettings``, all optional here."""

    vgg: Text | None = None
    decoder: Text | None = None
    references: Text | None = None
    device: Text | None = None
    dtype: Text | None = None
    batch_size: PositiveInt | None = None
    resolution: Annotated[int, Field(ge=8, multiple_of=8)] | None = None
    alpha: Annotated[float, Field(ge=0, le=1)] | None = None


class StylizersSpec(_Section):
    """Options per stylizer backend; a new backend adds its options model here."""

    procedural: ProceduralOptions | None = None
    diffusers: DiffusersOptions | None = None
    adain: AdaINOptions | None = None


class StyleSpecModel(_Section):
    prompt: Text | None = None
    negative_prompt: str | None = None
    procedural: list[dict[str, Any]] | None = None
    references: Text | None = None  # a folder of style reference images (the adain backend)


class PackSpec(_Section):
    """What a pack-time variant changed (written by ``canvas_data.pack.variants``)."""

    base: Text
    styles: Names | None = None
    resolution: Annotated[int, Field(ge=8)] | None = None


class RecipeSpec(_Section):
    name: RecipeName | None = None
    description: str | None = None
    pretty_name: Line | None = None
    url: Text | None = None
    version: Text | int | float | None = None
    date_published: datetime.date | Text | None = None
    license: Line | None = None
    seed: Annotated[int, Field(ge=0)] = 0
    taxonomy: TaxonomySpec = TaxonomySpec()
    build: BuildSpec = BuildSpec()
    split: SplitSpec = SplitSpec()
    shards: ShardsSpec = ShardsSpec()
    photos: PhotosSpec = PhotosSpec()
    stylizers: StylizersSpec = StylizersSpec()
    styles: dict[str, StyleSpecModel] = {}
    responsible_ai: dict[str, Text] | None = None
    pack: PackSpec | None = None

    @field_validator("styles", mode="before")
    @classmethod
    def _no_value_is_empty(cls, styles: Any) -> Any:
        """``styles:`` with no value defines no style (a style with no value gets defaults)."""
        return {} if styles is None else styles

    @field_validator("styles")
    @classmethod
    def _chains(cls, styles: dict[str, StyleSpecModel]) -> Any:
        from canvas_data.stylizers.procedural_ops import validate_chain

        for name, spec in styles.items():
            if spec.procedural is not None:
                validate_chain(name, spec.procedural)
        return styles

    @model_validator(mode="after")
    def _numbers_fit(self) -> RecipeSpec:
        """Cross-field checks: values each valid alone that cannot make a dataset together."""
        build, split = self.build or BuildSpec(), self.split or SplitSpec()
        if split.test_per_object >= build.photos_per_object:
            raise ValueError(
                f"split.test_per_object: {split.test_per_object} test photos per object leaves "
                f"no train photo of build.photos_per_object ({build.photos_per_object}); it must "
                "be below it (0 for no test split)"
            )
        return self

    @field_validator("responsible_ai")
    @classmethod
    def _rai(cls, fields: dict[str, str] | None) -> Any:
        for key in fields or {}:
            if key not in RAI_FIELDS:
                raise _unknown_key(key, list(RAI_FIELDS))
        return fields


def validate_recipe(data: Any, source: str) -> RecipeSpec:
    """Check a merged recipe; ``ValueError`` ``recipe SOURCE: KEY.PATH: reason`` on faults."""
    try:
        return RecipeSpec.model_validate(data if data is not None else {})
    except ValidationError as err:
        raise ValueError(f"recipe {source}: {validation_line(err)}") from None
