"""Storage of an unlearned model: the bytes of its weights, and of what differs from the base.

A method that changes a few layers (cross-attention only, say) needs to store only those; one
that fine-tunes everything needs a whole copy. ``storage_report`` reads both weight sets with
``safetensors`` (tensor by tensor, memory-mapped) and compares tensors by name:

- ``unlearned_bytes``: bytes of every tensor of the unlearned weights (``unlearned_file_bytes``:
  of the files, headers included);
- ``diff_bytes``: bytes of the unlearned tensors that differ from the base's, bit for bit (another
  dtype or shape counts as different), or that the base lacks: what a method must store on top of
  the base. Tensors the base has and the unlearned weights lack are counted apart.

Either side is a diffusers folder (a whole pipeline, whose ``unet/`` is taken, or a UNet folder:
the ``.safetensors`` files of its index, else ``diffusion_pytorch_model.safetensors``, else its one
``.safetensors`` file) or a single ``.safetensors`` file. Pickled weights (``.bin``, ``.pt``,
``.pth``, ``.ckpt``) are refused: reading them can run code; convert them to safetensors first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from canvas_data import __version__

STORAGE_KIND = "canvas-eval storage"
PICKLES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
WEIGHTS = "diffusion_pytorch_model.safetensors"


def _refuse_pickle(path: Path) -> None:
    raise ValueError(
        f"{path}: pickled weights are refused (reading them can run code); convert them to "
        f".safetensors first"
    )


def weight_files(path: Path) -> list[Path]:
    """The ``.safetensors`` files that hold the weights at ``path`` (see the module docstring).

    Raises ``FileNotFoundError`` for a missing path, ``ValueError`` for pickles and for folders
    without one clear set of safetensors files.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() in PICKLES:
            _refuse_pickle(path)
        if path.suffix.lower() != ".safetensors":
            raise ValueError(f"{path}: not a .safetensors file")
        return [path]
    if (path / "model_index.json").is_file() and (path / "unet").is_dir():
        path = path / "unet"
    index = sorted(path.glob("*.safetensors.index.json"))
    if len(index) == 1:
        try:
            names = sorted(set(json.loads(index[0].read_text())["weight_map"].values()))
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
            raise ValueError(f"{index[0]}: not a safetensors index (no weight_map)") from None
        files = [path / n for n in names]
        lacking = [f.name for f in files if not f.is_file()]
        if lacking:
            raise FileNotFoundError(f"{index[0]}: lists {', '.join(lacking)}, not in {path}")
        return files
    if (path / WEIGHTS).is_file():
        return [path / WEIGHTS]
    found = sorted(path.glob("*.safetensors"))
    if len(found) == 1:
        return found
    if found:
        listed = ", ".join(f.name for f in found)
        raise ValueError(f"{path}: several weight files ({listed}); pass one of them")
    pickles = sorted(f for f in path.iterdir() if f.suffix.lower() in PICKLES)
    if pickles:
        _refuse_pickle(pickles[0])
    raise ValueError(f"{path}: no .safetensors weights in this folder")


class _Tensors:
    """Every tensor of a set of safetensors files, by name, read one at a time."""

    def __init__(self, files: list[Path]) -> None:
        from safetensors import SafetensorError, safe_open

        self.files = files
        self.handles = {}
        self.where: dict[str, Path] = {}
        for f in files:
            try:
                handle = safe_open(str(f), framework="pt")
            except (SafetensorError, OSError) as err:
                raise ValueError(f"{f}: not a readable safetensors file ({err})") from None
            self.handles[f] = handle
            for name in handle.keys():  # noqa: SIM118 (not a dict)
                if name in self.where:
                    raise ValueError(f"{f}: tensor {name} is also in {self.where[name]}")
                self.where[name] = f

    def get(self, name: str):
        from safetensors import SafetensorError

        try:
            return self.handles[self.where[name]].get_tensor(name)
        except (SafetensorError, OSError, RuntimeError) as err:
            raise ValueError(f"{self.where[name]}: cannot read tensor {name} ({err})") from None

    @property
    def file_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def _nbytes(tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _same(a, b) -> bool:
    """Bit for bit: same dtype, shape and bytes (NaNs with the same bits compare equal)."""
    import torch

    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    return torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


def storage_report(base: Path, unlearned: Path, *, method: str | None = None) -> dict[str, Any]:
    """Compare ``unlearned`` weights with ``base`` weights; the record as a dict.

    Keys: ``unlearned_bytes``, ``unlearned_file_bytes``, ``diff_bytes``, ``tensors``,
    ``changed_tensors`` (count), ``changed`` (names), ``missing_from_unlearned`` (names the base
    has and the unlearned weights lack), ``base_bytes``, the files of both sides.
    """
    base_files, new_files = weight_files(base), weight_files(unlearned)
    old, new = _Tensors(base_files), _Tensors(new_files)
    total = diff = 0
    changed = []
    for name in sorted(new.where):
        tensor = new.get(name)
        size = _nbytes(tensor)
        total += size
        if name not in old.where or not _same(tensor, old.get(name)):
            changed.append(name)
            diff += size
    base_bytes = sum(_nbytes(old.get(n)) for n in old.where)
    return {
        "kind": STORAGE_KIND,
        "toolkit_version": __version__,
        "method": method,
        "base": [str(f) for f in base_files],
        "unlearned": [str(f) for f in new_files],
        "base_bytes": base_bytes,
        "unlearned_bytes": total,
        "unlearned_file_bytes": new.file_bytes,
        "diff_bytes": diff,
        "tensors": len(new.where),
        "changed_tensors": len(changed),
        "changed": changed,
        "missing_from_unlearned": sorted(set(old.where) - set(new.where)),
    }
