"""The layer rules of ARCHITECTURE.md, checked by import-linter with the contracts in setup.cfg.

Stages import only the core and the stages before them, and no module or sub-package imports one
that imports it back; imports inside functions count (grimp reads every import statement). What
import-linter does not check is checked here: the sub-packages' ``__init__`` files import nothing
when imported.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import canvas_data

PACKAGE = Path(canvas_data.__file__).parent
SETUP_CFG = Path(__file__).resolve().parents[1] / "setup.cfg"


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    """import-linter over ``config``, in a process of its own: it configures logging with
    ``dictConfig``, which would disable the loggers of every module already imported here."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(sys.argv[1], no_cache=True, no_logo=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, timeout=600
    )


def test_the_import_contracts_are_kept():
    run = lint_imports(SETUP_CFG)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_lazy_import_breaks_a_contract(tmp_path):
    """The check sees an import inside a function (``canvas-build demo`` imports the pipeline
    when it runs): a contract that forbids it is reported broken."""
    config = tmp_path / "lazy.ini"
    config.write_text(
        "[importlinter]\nroot_package = canvas_data\n\n"
        "[importlinter:contract:lazy]\nname = lazy\ntype = forbidden\n"
        "source_modules = canvas_data.cli.build\nforbidden_modules = canvas_data.pipeline\n"
    )
    run = lint_imports(config)
    assert run.returncode == 1
    assert "canvas_data.cli.build -> canvas_data.pipeline" in run.stdout


def test_sub_package_inits_import_nothing_when_imported():
    """A sub-package's ``__init__`` holds a docstring and imports nothing at import time (a
    function in it may import lazily; import-linter counts those imports like any module's)."""
    inits = sorted(PACKAGE.glob("*/__init__.py"))
    assert len(inits) >= 9
    for init in inits:
        tree = ast.parse(init.read_text(encoding="utf-8"))
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        assert not imports, f"{init} imports {ast.unparse(imports[0])}"
        assert ast.get_docstring(tree), f"{init} has no docstring"
