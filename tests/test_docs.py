"""The documentation: README.md and the site under docs/, built with mkdocs and run as written.

Every fenced block of a page is one of:

- ``bash`` or ``python``: run, in the page's order, in a fresh folder per page (shell blocks with
  ``bash -euo pipefail``, Python blocks in a fresh interpreter), with the installed commands on
  ``PATH``; so two pages never share an output folder by accident;
- a file the page writes: ``{.python .file title="my_stylizers.py"}`` (any language) is saved
  under its title into the page's folder before the next block runs;
- marked as not run here, with a title saying why: ``.gpu`` (needs a GPU or real weights),
  ``.release-data`` (the release's 76 GB), ``.network`` (hosts beyond the package registries),
  ``.your-data`` (photos or models of the reader's own), ``.repo`` (run from the repository's
  root: scripts);
  and ``.setup`` (installs the toolkit: what CI itself runs);
- shown only: output, configuration excerpts and other languages (``text``, ``yaml``, ``json``).

The pages name repository files that exist (the docs, recipes, card template, scripts and the
package's docstrings too).

Fences are read with markdown-it-py (the parser pytest-markdown-docs and mkdocs' plugins use); the
brace form ``{.bash .gpu title="..."}`` is Material for MkDocs' own (pymdownx.superfences).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser import BROWSER_ARGS, chromium
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted(
    p for p in (ROOT / "docs").rglob("*.md") if "incoming" not in p.relative_to(ROOT).parts
)
RUN = {"bash", "python"}
NOT_HERE = {"gpu", "release-data", "network", "your-data", "repo"}  # each needs a title saying why
SKIP = NOT_HERE | {"setup"}
SHOWN = {"text", "yaml", "json", "toml", "console", "csv", "html", "markdown", ""}


@dataclass
class Fence:
    lang: str
    classes: set[str]
    attrs: dict[str, str]
    code: str
    line: int
    options: set[str] = field(default_factory=set)

    @property
    def kind(self) -> str:
        if self.classes & SKIP:
            return "skip"
        if "file" in self.classes:
            return "file"
        return "run" if self.lang in RUN else "shown"


def fences(page: Path) -> list[Fence]:
    """The fenced code blocks of a Markdown page, in order."""
    out = []
    for token in MarkdownIt("commonmark").parse(page.read_text()):
        if token.type != "fence":
            continue
        info = token.info.strip()
        if info.startswith("{") and info.endswith("}"):  # {.bash .gpu title="..."}
            words = shlex.split(info[1:-1])
            classes = [w[1:] for w in words if w.startswith(".")]
            lang, classes = (classes[0], set(classes[1:])) if classes else ("", set())
        else:  # bash .setup (GitHub's form: the language first, then classes)
            words = shlex.split(info) if info else []
            lang = words[0] if words else ""
            classes = {w[1:] for w in words[1:] if w.startswith(".")}
        attrs = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("."))
        out.append(Fence(lang, classes, attrs, token.content, token.map[0] + 1))
    return out


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_is_run_written_shown_or_marked(page):
    for fence in fences(page):
        where = f"{page_id(page)}:{fence.line}"
        if fence.kind == "file":
            assert fence.attrs.get("title"), f'{where}: a .file block needs title="NAME"'
        elif fence.kind == "shown":
            assert fence.lang in SHOWN, f"{where}: {fence.lang!r} blocks are neither run nor shown"
        elif fence.kind == "skip" and fence.classes & NOT_HERE:
            assert fence.attrs.get("title"), (
                f"{where}: a block not run here needs a title saying why"
            )
        if fence.kind == "run":
            assert not re.search(r"--device\s+cuda|\.cuda\(\)|torchrun", fence.code), (
                f'{where}: needs a GPU: mark it {{.{fence.lang} .gpu title="Needs a GPU"}}'
            )


def run_page(page: Path, folder: Path) -> int:
    """Run a page's blocks in order in ``folder``; returns how many ran."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(folder / ".hf"),
        "CANVAS_DEBUG": "1",  # a failing example shows its traceback
        "NO_MKDOCS_2_WARNING": "1",
    }
    ran = 0
    for fence in fences(page):
        where = f"{page_id(page)}:{fence.line}"
        if fence.kind == "file":
            target = folder / fence.attrs["title"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(fence.code)
        elif fence.kind == "run":
            argv = (
                ["bash", "-euo", "pipefail", "-c", fence.code]
                if fence.lang == "bash"
                else [sys.executable, "-c", fence.code]
            )
            done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True,
                                  timeout=1800)  # fmt: skip
            assert done.returncode == 0, (
                f"{where} exited {done.returncode}:\n{fence.code}\n--- output:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
            ran += 1
    return ran


RUNNABLE = [p for p in PAGES if any(f.kind == "run" for f in fences(p))]


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=page_id)
def test_the_examples_of_a_page_run_as_written(page, tmp_path):
    assert run_page(page, tmp_path) > 0


MKDOCS_ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def test_the_site_builds_strictly(tmp_path):
    """``mkdocs build --strict``: a broken link, a missing page or a bad reference fails."""
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=MKDOCS_ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "index.html").is_file()
    cli = (site / "reference" / "cli" / "index.html").read_text()
    for command in ("canvas-build", "canvas-train", "canvas-eval", "--styles"):
        assert command in cli
    schema = (site / "reference" / "recipe-schema" / "index.html").read_text()
    assert "photos_per_object" in schema and "test_per_object" in schema


@pytest.mark.skipif(
    chromium() is None, reason="no chromium binary on PATH (apt-get install chromium)"
)
def test_the_site_in_a_browser_shows_navigation_and_the_cli_page(tmp_path):
    from playwright.sync_api import sync_playwright

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", str(site)], cwd=ROOT,
                   check=True, capture_output=True, timeout=600, env=MKDOCS_ENV)  # fmt: skip
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # as `mkdocs serve` does
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/")
            nav = page.locator("nav.md-nav--primary").first.inner_text()
            for section in ("Getting started", "Guides", "Reference", "Guarantees", "Benchmarks"):
                assert section in nav
            page.goto(f"{url}/reference/cli/")
            assert page.locator("h1").first.inner_text().strip().rstrip("¶") == "Command line"
            body = page.locator("article").inner_text()
            assert "canvas-build shards" in body and "canvas-eval accuracy" in body
            assert errors == []
        finally:
            browser.close()
            server.shutdown()


def documents() -> list[Path]:
    """Every file a user reads: the docs, recipes, card template, scripts and the package."""
    found = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *PAGES[1:]]
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
