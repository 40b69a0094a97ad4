"""The documents name repository files that exist: the docs, recipes, card template, scripts and
the package's docstrings."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def documents() -> list[Path]:
    """Every file a user reads: the docs, recipes, card template, scripts and the package."""
    found = [ROOT / "README.md", ROOT / "ARCHITECTURE.md"]
    for folder, pattern in (
        ("builders", "*.yaml"),
        ("cards", "*.md"),
        ("scripts", "*.py"),
        ("canvas_data", "*.py"),
    ):
        found += sorted((ROOT / folder).rglob(pattern))
    return found


def test_every_repository_file_the_documents_name_exists():
    path = re.compile(r"(?<![\w/.-])((?:canvas_data|tests|scripts|builders|cards)/[\w/.-]*\w\.py)")
    stale = [
        f"{doc.relative_to(ROOT)}:{n}: {m.group(1)}"
        for doc in documents()
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        for m in path.finditer(line)
        if not (ROOT / m.group(1)).exists()
    ]
    assert not stale, "\n".join(stale)
