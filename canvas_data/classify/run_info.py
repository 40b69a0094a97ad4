"""A classifier run folder's names and ``classes.json``, read without importing torch, so that a
command checks its arguments against a run's classes in a second.

``classes.json`` holds the task, the class names in head order and the preprocessing (resize to
``image_size`` x ``image_size``, bilinear, normalise with mean 0.5 and std 0.5: the release's
evaluation preprocessing); the weights are ``model.safetensors`` and ``config.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLASSES_FILE = "classes.json"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
SETTINGS_FILE = "train.json"  # what a training run was started with (``train_settings``)
TASKS = ("style", "object")
TINY = "tiny"
DEFAULT_BACKBONE = "google/vit-large-patch16-224-in21k"
MEAN_STD = (0.5, 0.5)


@dataclass
class ClassifierInfo:
    """What ``classes.json`` says: the task, the class names in head order, the input size."""

    task: str
    classes: list[str]
    image_size: int
    order: str = "custom"  # release-61, release-51, release-20, or custom
    mean: float = MEAN_STD[0]
    std: float = MEAN_STD[1]
    resize: str = "bilinear"
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; use {' or '.join(TASKS)}")
        if len(set(self.classes)) != len(self.classes) or not self.classes:
            raise ValueError("class names must be a non-empty list without duplicates")

    @classmethod
    def read(cls, run: Path) -> ClassifierInfo:
        path = Path(run) / CLASSES_FILE
        if not path.is_file():
            unfinished(Path(run))
            raise FileNotFoundError(f"{path}: no {CLASSES_FILE}; not a classifier run folder")
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as err:
            raise ValueError(f"{path}: not a valid {CLASSES_FILE}: {err}") from err


def is_random_init(backbone: str) -> bool:
    """Whether ``backbone`` starts from random weights (``tiny`` or a config JSON file)."""
    return backbone == TINY or (backbone.endswith(".json") and Path(backbone).is_file())


def unfinished(run: Path) -> None:
    """Raise ``ValueError`` (one line) when ``run`` is a training run that has not finished (a
    ``train.json`` but no model yet), saying how to continue it."""
    settings = run / SETTINGS_FILE
    if not settings.is_file():
        return
    try:
        saved = json.loads(settings.read_text())
        task, data = saved["settings"]["task"], saved["data"]
    except (OSError, ValueError, KeyError, TypeError):  # a train.json we cannot read: the hint
        task, data = None, None
    command = task if task in TASKS else "style|object"
    raise ValueError(
        f"{run}: a training run that has not finished (it was interrupted, or is still running): "
        f"no model yet; continue it with `canvas-train {command} --data {data or 'DATA'} "
        f"--out {run} --resume` "
        "and the options it was started with"
    )
