"""What a user of the flat layout still finds after the move into sub-packages: the console
command an older install points at, and documentation that names files and modules that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Module names of the flat layout that no module of the tree carries any more.
GONE = [
    "card_loading",
    "card_provenance",
    "card_tables",
    "classifier_eval",
    "cli_card",
    "cli_common",
    "cli_diffusers",
    "cli_release",
    "decode_cache",
    "generate_answers",
    "image_integrity",
    "packed_manifest",
    "parquet_shards",
    "train_classifier",
]


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


def test_the_console_script_of_an_install_made_before_the_move_still_runs():
    # pip wrote `canvas-build` as `from canvas_data.cli import main` (setup.cfg of the flat
    # layout); an editable install keeps that script after `git pull`, as it keeps the
    # `canvas_data.cli_train:main` and `canvas_data.cli_eval:main` ones, which still work.
    code = "import sys; from canvas_data.cli import main; sys.argv[0] = 'canvas-build'; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, cwd=ROOT.parent
    )
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
    assert "Usage:" in done.stdout


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


def test_no_document_names_a_module_of_the_flat_layout_that_is_gone():
    gone = "|".join(GONE)
    ref = re.compile(
        rf":mod:`~?(?:canvas_data\.)?({gone})`|``({gone})\.\w+``|canvas_data[./]({gone})\b"
    )
    stale = [
        f"{doc.relative_to(ROOT)}:{n}: {m.group(0)}"
        for doc in documents()
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        for m in ref.finditer(line)
    ]
    assert not stale, "\n".join(stale)
