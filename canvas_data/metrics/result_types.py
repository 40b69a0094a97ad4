"""The types of an accuracy result file (what ``canvas-eval accuracy`` writes), checked once when
a result is read back, so that a file with a field of another type (``"method": 42``, accuracies
as strings) is one line naming the file and the field, never a failure deep in the averaging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

Number = StrictInt | StrictFloat


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ConceptAccuracy(_Open):
    accuracy: Number | None = None
    n: StrictInt | None = None
    hits: StrictInt | None = None


class StatedDefinitions(_Open):
    """The ``definitions`` a result states, as ``scores.Definitions.from_result`` reads them."""

    cra_definition: StrictStr | None = None
    ira_includes_photos: StrictBool | None = None
    cra_on_all_images: StrictBool | None = None


class AccuracyResult(_Open):
    """The fields summaries read; others pass unchecked."""

    kind: StrictStr
    method: StrictStr | None = None
    target: StrictStr | None = None
    domain: StrictStr | None = None
    scores: dict[StrictStr, Number | StrictBool | None] | None = None
    style_accuracy: dict[StrictStr, ConceptAccuracy] | None = None
    object_accuracy: dict[StrictStr, ConceptAccuracy] | None = None
    themes: list[StrictStr] | None = None
    objects: list[StrictStr] | None = None
    definitions: StatedDefinitions | None = None

    @model_validator(mode="after")
    def _scores_of_the_target(self) -> AccuracyResult:
        """A style or object target's result holds its UA, IRA and CRA (the table reads them)."""
        if self.target and self.domain in ("style", "object"):
            lacking = [k for k in ("UA", "IRA", "CRA") if k not in (self.scores or {})]
            if lacking:
                raise ValueError(f"no {', '.join(lacking)} for target {self.target}")
        return self


def check_accuracy_result(path: Path | str, result: Any) -> None:
    """Raise ``ValueError("path: field: reason")`` when ``result`` (an accuracy result's JSON)
    holds a field of the wrong type."""
    try:
        AccuracyResult.model_validate(result)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"] if str(p) not in _TYPE_TAGS)
        got = repr(first.get("input"))[:60]
        tag = str(first["loc"][-1]) if first["loc"] else ""
        reason = "should be a number" if tag in ("int", "float") else _reason(first["msg"])
        raise ValueError(f"{path}: {where} {reason}, got {got}") from None


_TYPE_TAGS = {
    "int",
    "float",
    "str",
    "bool",
    "none",
    "dict",
    "list",
    "ConceptAccuracy",
    "StatedDefinitions",
}


def _reason(message: str) -> str:
    """Pydantic's ``Input should be a valid string`` as ``should be a valid string``."""
    message = message.removeprefix("Input ").removeprefix("Value error, ")
    for model in ("ConceptAccuracy", "StatedDefinitions"):
        message = message.replace(f"instance of {model}", "mapping")
    return message
