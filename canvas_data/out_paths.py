"""Output folders that must stay apart from the folder a command reads.

Writing a pack into its own workspace, or an export into the packed folder it reads, mixes
outputs with inputs: the next run reads its own output as input (or overwrites the workspace's
``recipe.yaml``). :func:`refuse_inside` stops such a run before anything is written.
"""

from __future__ import annotations

from pathlib import Path


def refuse_inside(out: Path, source: Path, out_name: str, source_name: str) -> None:
    """Raise ``ValueError`` when ``out`` is ``source`` or lies inside it (symlinks resolved).

    ``out_name`` and ``source_name`` are how the user named them (``--out``, ``--work``).
    """
    o, s = Path(out).resolve(), Path(source).resolve()
    if o == s or o.is_relative_to(s):
        where = "is" if o == s else "is inside"
        raise ValueError(
            f"{out}: {out_name} {where} {source_name} {source}, which it reads; "
            f"choose an {out_name} folder outside it"
        )
