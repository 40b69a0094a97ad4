"""Headless Chromium for the tests that open a page in a real browser (Debian's `chromium`)."""

from __future__ import annotations

import shutil

# Flags for a machine without a display or a network beyond the package registries.
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def chromium() -> str | None:
    """The Chromium binary on PATH, or None."""
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
