"""mkdocs hooks: reference pages generated from the code, so they cannot drift from it.

``<!-- recipe-schema -->`` in a page becomes one table per section of the recipe, generated from
the pydantic model that validates recipes (``canvas_data.recipe_schema.RecipeSpec``): each key's
type, default and range.
"""

from __future__ import annotations

import json
from typing import Any

MARK = "<!-- recipe-schema -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARK not in markdown:
        return markdown
    from canvas_data.recipe_schema import RecipeSpec

    return markdown.replace(MARK, recipe_tables(RecipeSpec.model_json_schema()))


def recipe_tables(schema: dict[str, Any]) -> str:
    """Markdown tables for a JSON schema: the top level, then each nested section it names."""
    defs = schema.get("$defs", {})
    out, todo, seen = [], [("the recipe (top level)", schema)], set()
    while todo:
        where, model = todo.pop(0)
        out += [f"### {where}", ""]
        if model.get("description"):
            out += [" ".join(model["description"].replace("``", "`").split()), ""]
        out += ["| key | type | default | range |", "|---|---|---|---|"]
        for key, prop in model.get("properties", {}).items():
            out.append(f"| `{key}` | {_type(prop)} | {_default(prop)} | {_range(prop)} |")
            for ref in _refs(prop):
                if ref not in seen:
                    seen.add(ref)
                    todo.append((f"`{key}`: {ref}", defs[ref]))
        out.append("")
    return "\n".join(out)


def _refs(prop: dict[str, Any]) -> list[str]:
    text = json.dumps(prop)
    return [part.split('"')[0] for part in text.split('"$ref": "#/$defs/')[1:]]


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"section `{prop['$ref'].rsplit('/', 1)[1]}`"
    if "enum" in prop:
        return " or ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        kinds = [_type(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and "additionalProperties" in prop:
        value = prop["additionalProperties"]
        return f"mapping to {_type(value)}" if isinstance(value, dict) else "mapping"
    return {"string": "text", "integer": "integer", "number": "number", "boolean": "yes/no"}.get(
        kind, kind
    )


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return "required"
    value = prop["default"]
    return "-" if value is None else f"`{json.dumps(value)}`"


def _range(prop: dict[str, Any]) -> str:
    parts = []
    for p in [prop, *prop.get("anyOf", [])]:
        for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                          ("exclusiveMaximum", "<"), ("multipleOf", "multiple of"),
                          ("minLength", "length >=")):  # fmt: skip
            if key in p:
                parts.append(f"{sign} {p[key]}")
    return ", ".join(dict.fromkeys(parts)) or "-"
