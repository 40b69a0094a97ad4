"""Closest-name suggestions for names a user typed: styles, objects, recipe keys, folders."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


def closest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice most like ``name`` (case and ``_``/space/``-`` ignored), or None if none is close.

    An exact match after folding case and separators wins (``cats`` -> ``Cats``); otherwise
    :func:`difflib.get_close_matches` with ``cutoff`` (0..1, higher is stricter).
    """
    choices = list(choices)
    folded = {_fold(c): c for c in choices}
    key = _fold(name)
    if key in folded:
        return folded[key]
    if key.endswith("s") and key[:-1] in folded:  # cats -> Cat
        return folded[key[:-1]]
    if key + "s" in folded:  # cat -> Cats
        return folded[key + "s"]
    match = difflib.get_close_matches(key, list(folded), n=1, cutoff=cutoff)
    return folded[match[0]] if match else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'Cats'?)`` or an empty string when no choice is close."""
    match = closest(name, choices)
    return f" (did you mean {match!r}?)" if match is not None else ""


def unknown_names(kind: str, unknown: Sequence[str], valid: Sequence[str]) -> str:
    """One line: the unknown names, the closest valid name of each, then every valid name.

    ``unknown style names ['Monnet'] (did you mean 'Monet'?); valid styles: Abstractionism, ...``
    """
    unknown = list(unknown)
    matches = {n: closest(n, valid) for n in unknown}
    found = {n: m for n, m in matches.items() if m is not None}
    if len(unknown) == 1 and found:
        hint = f" (did you mean {found[unknown[0]]!r}?)"
    elif found:
        hint = " (did you mean " + ", ".join(f"{m!r} for {n!r}" for n, m in found.items()) + "?)"
    else:
        hint = ""
    return f"unknown {kind} names {unknown}{hint}; valid {kind}s: {', '.join(valid)}"


def _fold(name: str) -> str:
    return name.casefold().replace("_", "").replace(" ", "").replace("-", "")
