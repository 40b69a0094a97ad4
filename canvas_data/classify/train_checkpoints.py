"""A training run's Trainer checkpoints (``RUN/checkpoints/checkpoint-STEP``): the newest one,
the check of its files before a resume, and its model."""

from __future__ import annotations

from pathlib import Path

from canvas_data.classify.classifier import quiet_load
from canvas_data.errors import reading

CHECKPOINTS = "checkpoints"


def check_checkpoint(folder: Path) -> None:
    """Read every file of a checkpoint that a resume needs, before the run starts.

    ``trainer_state.json`` must be a JSON object; each ``torch.save`` file (``*.pt``, ``*.pth``,
    ``*.bin``) a zip archive whose members match their CRC-32. The weights are read when the
    model loads. Raises ``InputError`` naming the damaged file.
    """
    import json
    import zipfile

    state = folder / "trainer_state.json"
    with reading(state, "the Trainer's state, a JSON object"):
        if not isinstance(json.loads(state.read_text(encoding="utf-8")), dict):
            raise ValueError("not a JSON object")
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".pt", ".pth", ".bin")):
        with reading(path, "a torch.save archive"), zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise ValueError(f"member {bad} is damaged (CRC-32 differs)")


def last_checkpoint(run: Path) -> Path | None:
    """The newest ``checkpoint-STEP`` folder of a run, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(run) / CHECKPOINTS
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    return Path(found) if found else None


def load_checkpoint(folder: Path):
    """A checkpoint's model, through ``from_pretrained`` (which knows every naming of the weights:
    the Trainer's own reload does not, in some versions of ``transformers``)."""
    from transformers import ViTForImageClassification

    return quiet_load(ViTForImageClassification, folder)
