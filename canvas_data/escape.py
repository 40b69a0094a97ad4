"""Text from outside (method names, targets, recipe names, credits) written into another format
as data, never as markup: one function per target format, called where the text is written.

- ``csv_cell``: a spreadsheet opens a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or
  a carriage return as a formula (``=HYPERLINK(...)``); such text gets a leading ``'``, as OWASP's
  CSV-injection advice says. Numbers pass unchanged.
- ``markdown_cell``: one line inside a Markdown table cell: whitespace (newlines too) folded to
  single spaces, ``|``, ``\\``, backticks, ``*``, ``[``, ``]``, ``~`` and a leading ``#``, ``-``,
  ``+``, ``=``, ``>``, ``!`` or ``1.`` backslash-escaped, ``<``/``>``/``&`` as HTML entities, so
  no text can add a row, a heading, a list, a link, code or a tag.
- ``markdown_text``: the same for a word or line in running Markdown text (a card's body).
- ``plot_text``: a matplotlib label shown as written: ``$`` escaped, so that no mathtext is
  parsed (``$\\foo$`` otherwise stops the plot), whitespace folded; ``literal_plot_text``, a
  decorator for a function that draws a figure: every text of it is drawn without mathtext or
  TeX (matplotlib's ``text.parse_math`` and ``text.usetex`` off while it runs).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Markdown punctuation that makes markup anywhere in a line (code, emphasis, links, cells) ...
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]|~])")
# ... and what makes a block at the start of a line (heading, list, quote, rule, numbered item).
_MARKDOWN_BLOCK = re.compile(r"^([#+\-=>!]|[0-9]+(?=[.)]))")


def one_line(text: Any) -> str:
    """``text`` as one line: every run of whitespace (newlines, tabs) one space, ends stripped."""
    return " ".join(str(text).split())


def csv_cell(value: Any) -> Any:
    """``value`` safe as a CSV cell a spreadsheet opens: text that a spreadsheet would take for
    a formula starts with ``'``; numbers, ``None`` and other text pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """Every cell of a ``csv.DictWriter`` row through ``csv_cell``."""
    return {key: csv_cell(value) for key, value in row.items()}


def markdown_text(text: Any) -> str:
    """``text`` as one line of literal Markdown text: no markup, heading, list, link or tag."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", html.escape(one_line(text), quote=False))
    return _MARKDOWN_BLOCK.sub(r"\\\1", escaped)


def markdown_cell(text: Any) -> str:
    """``text`` as the literal content of one Markdown table cell (see ``markdown_text``)."""
    return markdown_text(text)


def plot_text(text: Any) -> str:
    """``text`` as a matplotlib label shown literally: one line, ``$`` escaped (no mathtext)."""
    return one_line(text).replace("$", r"\$")


def literal_plot_text(draw: F) -> F:
    """Run ``draw`` (builds and saves a matplotlib figure) with mathtext and TeX off, so that
    every label, title and tick text is drawn exactly as written."""

    @wraps(draw)
    def literal(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return draw(*args, **kwargs)

    return literal  # type: ignore[return-value]
