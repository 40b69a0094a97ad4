"""A training run's Trainer checkpoints (``RUN/checkpoints/checkpoint-STEP``): the newest whole
one, the check of its files before a resume, its model, and saves that survive a kill or a full
disk.

The Trainer writes a checkpoint's files one after another into its final folder, so a run killed
(``kill -9``, SIGTERM, a lost node) or out of disk space while saving leaves a folder that looks
like the newest checkpoint but is not whole. Here every checkpoint is marked whole once the
Trainer has finished saving it (``CheckpointDone``, a callback writing ``COMPLETE`` last, under a
temporary name and renamed); ``resume_checkpoint`` takes the newest checkpoint that is marked
whole, or, for checkpoints written without the mark, whose files all read back. An incomplete one
is set aside as ``incomplete-checkpoint-STEP`` (the Trainer neither resumes from nor rotates it)
with one line saying so, and the run resumes from the one before. ``save_failure`` turns a
failed save (a full disk, which ``torch.save`` reports as a ``RuntimeError``) into one
``OSError`` naming the checkpoint folder.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from canvas_data.atomic import write_json
from canvas_data.classify.classifier import quiet_load
from canvas_data.errors import InputError, reading

CHECKPOINTS = "checkpoints"
_NOT_LOADED = {"training_args.bin"}  # a pickle the Trainer writes for people, never loads
COMPLETE = "checkpoint-complete.json"  # written last: the Trainer saved this checkpoint whole
SET_ASIDE = "incomplete-"
_STEP = re.compile(r"checkpoint-([0-9]{1,12})")
# What torch.save and the file system say when a file cannot be written out.
_WRITE_FAILED = re.compile(r"file write failed|PytorchStreamWriter failed|No space left", re.I)


def check_checkpoint(folder: Path) -> None:
    """Read every file of a checkpoint that a resume needs, before the run starts.

    ``trainer_state.json`` must be a JSON object; each ``torch.save`` file (``*.pt``, ``*.pth``,
    ``*.bin``) a zip archive whose members match their CRC-32 that torch's weights-only loader
    reads as the Trainer will (``training_args.bin`` aside); each ``*.safetensors`` file
    a header whose tensors the file holds to its end. Raises ``InputError`` naming the damaged
    file.
    """
    import json
    import zipfile

    from safetensors import safe_open

    state = folder / "trainer_state.json"
    with reading(state, "the Trainer's state, a JSON object"):
        if not isinstance(json.loads(state.read_text(encoding="utf-8")), dict):
            raise ValueError("not a JSON object")
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".pt", ".pth", ".bin")):
        with reading(path, "a torch.save archive"), zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise ValueError(f"member {bad} is damaged (CRC-32 differs)")
        if path.name in _NOT_LOADED:
            continue
        with reading(path, "a checkpoint file torch's weights-only loader reads"):
            _weights_only_load(path)
    for path in sorted(folder.glob("*.safetensors")):
        with reading(path, "a safetensors file"), safe_open(str(path), "pt") as weights:
            weights.keys()


def _weights_only_load(path: Path) -> None:
    """Load ``path`` as the Trainer loads it on a resume (``torch.load(weights_only=True)`` with
    the globals ``transformers`` allows, memory-mapped); ``ValueError`` saying what the loader
    refused instead of its several-paragraph message."""
    import pickle

    import torch

    try:
        from transformers.trainer_pt_utils import safe_globals
    except ImportError:  # an older transformers: torch's own allow-list only
        from contextlib import nullcontext as safe_globals
    try:
        with safe_globals():
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        text = " ".join(str(err).split())
        why = text.split("WeightsUnpickler error:", 1)[-1].split(". ")[0].strip()
        raise ValueError(f"torch's weights-only loader refuses it ({why[:200]})") from None


def last_checkpoint(run: Path) -> Path | None:
    """The newest ``checkpoint-STEP`` folder of a run, if any (whole or not)."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(run) / CHECKPOINTS
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    return Path(found) if found else None


def resume_checkpoint(run: Path, echo: Callable[[str], Any] = print) -> Path | None:
    """The newest whole checkpoint of a run (``None`` when there is none).

    One marked whole (``COMPLETE``) is checked (``check_checkpoint``) and a damaged one raises
    ``InputError`` naming the file. One without the mark (a save cut short, or a run from before
    the mark) is taken if every file reads back; else it is set aside as
    ``incomplete-checkpoint-STEP`` with one line through ``echo``, and the one before is tried.
    """
    folder = Path(run) / CHECKPOINTS
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(m[1]), p) for p in folder.iterdir() if (m := _STEP.fullmatch(p.name)) and p.is_dir()
    )
    for _, checkpoint in reversed(steps):
        if (checkpoint / COMPLETE).is_file():
            check_checkpoint(checkpoint)
            return checkpoint
        try:
            check_checkpoint(checkpoint)
        except (InputError, OSError) as err:
            aside = _set_aside(checkpoint)
            echo(
                f"{checkpoint}: incomplete, its save was cut short ({err}); set aside as "
                f"{aside.name}, resuming from the checkpoint before it"
            )
            continue
        return checkpoint
    return None


def _set_aside(checkpoint: Path) -> Path:
    aside = checkpoint.with_name(SET_ASIDE + checkpoint.name)
    n = 2
    while aside.exists():
        aside, n = checkpoint.with_name(f"{SET_ASIDE}{checkpoint.name}-{n}"), n + 1
    checkpoint.rename(aside)
    return aside


def checkpoint_done() -> Any:
    """A ``TrainerCallback`` that marks each checkpoint whole once the Trainer has saved it."""
    from transformers import TrainerCallback

    class CheckpointDone(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                write_json(folder / COMPLETE, {"step": state.global_step})

    return CheckpointDone()


def save_failure(err: BaseException, run: Path, step: int) -> OSError | None:
    """The one-line error for a checkpoint save that failed to write (a full disk, a quota):
    ``OSError`` naming ``RUN/checkpoints/checkpoint-STEP``; ``None`` for any other failure."""
    where = Path(run) / CHECKPOINTS / f"checkpoint-{step}"
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        name = err.filename if err.filename is not None else where
        return OSError(err.errno, f"{err.strerror or 'write failed'} (saving a checkpoint)", name)
    if isinstance(err, RuntimeError) and _WRITE_FAILED.search(str(err)):
        return OSError(errno.ENOSPC, "could not write the checkpoint (is the disk full?)", where)
    return None


def load_checkpoint(folder: Path):
    """A checkpoint's model, through ``from_pretrained`` (which knows every naming of the weights:
    the Trainer's own reload does not, in some versions of ``transformers``)."""
    from transformers import ViTForImageClassification

    return quiet_load(ViTForImageClassification, folder)
