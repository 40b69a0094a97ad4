"""What a user of the flat layout still finds after the move into sub-packages: the console
command an older install points at, and documentation that names files and modules that exist."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

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


# ------------------------------------------------------- old module paths still import


def test_every_old_module_path_imports_with_a_warning_naming_the_new_one():
    from canvas_data.moved import MODULES

    for old, targets in MODULES.items():
        with pytest.warns(FutureWarning, match=rf"canvas_data\.{old} is now canvas_data\."):
            module = importlib.import_module(f"canvas_data.{old}")
        for target in targets:
            new = importlib.import_module(f"canvas_data.{target}")
            public = [n for n in vars(new) if not n.startswith("_")]
            assert public, target
            assert getattr(module, public[-1]) is getattr(new, public[-1]), (old, target)


def test_names_split_into_several_modules_are_all_found_under_the_old_path():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the test above checks the warning
        from canvas_data.photos import intake_photos, read_photo, to_rgb
    from canvas_data.images.normalize import to_rgb as moved
    from canvas_data.intake.photo_checks import read_photo as checked
    from canvas_data.intake.photos import intake_photos as stage

    assert (to_rgb, read_photo, intake_photos) == (moved, checked, stage)


def test_the_old_module_names_that_are_now_packages_give_their_old_names():
    from canvas_data.moved import NAMES

    for package, names in NAMES.items():
        for name, where in names.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                value = getattr(importlib.import_module(f"canvas_data.{package}"), name)
            expected = getattr(importlib.import_module(f"canvas_data.{where}"), name)
            assert value is expected, (package, name)
            # one warning the first time, none once found
            assert len(caught) <= 1


def test_an_old_plugin_import_still_registers_a_stylizer():
    code = (
        "import warnings; warnings.simplefilter('error', FutureWarning)\n"
        "try:\n    from canvas_data.stylizers import Stylizer\n"
        "except FutureWarning as w:\n    print(w)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "canvas_data.stylizers.Stylizer is now canvas_data.stylizers.base.Stylizer" in (
        done.stdout
    )


def test_unknown_names_stay_errors_and_new_paths_never_warn():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("canvas_data.no_such_module")
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        importlib.import_module("canvas_data.card").no_such_name  # noqa: B018
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import pkgutil, importlib, canvas_data\n"
        "for m in pkgutil.walk_packages(canvas_data.__path__, 'canvas_data.'):\n"
        "    if m.name not in ('canvas_data.cli.__main__',):\n"
        "        importlib.import_module(m.name)\n"
        "from canvas_data.pack import shards\n"
        "from canvas_data.stylizers import procedural_ops\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_an_old_path_of_a_module_moved_whole_is_that_module():
    """So a name set through the old path (a monkeypatch) is set where the code reads it."""
    import canvas_data.pack.verify as new

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = importlib.import_module("canvas_data.verify")
    assert old is new
