"""What defines a training run: its settings (kept in ``RUN/train.json``), the head's classes
and their named orders, and the check that a resumed run keeps its settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from canvas_data.classify.run_info import (  # noqa: F401 (SETTINGS_FILE: its name here too)
    DEFAULT_BACKBONE,
    SETTINGS_FILE,
    TASKS,
    is_random_init,
)
from canvas_data.pack.shard_index import load_manifest, manifest_taxonomy
from canvas_data.suggest import unknown_names
from canvas_data.taxonomy import OBJECTS_20, STYLES_51, STYLES_61

AUGMENTS = ("crop-flip", "flip", "none")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
NAMED_ORDERS = {
    "style": {"60": ("release-61", STYLES_61), "50": ("release-51", STYLES_51)},
    "object": {"20": ("release-20", OBJECTS_20)},
}
# Settings that may change when a run is resumed (they do not change what is computed).
RESUMABLE = {"workers"}


@dataclass
class TrainSettings:
    """Everything that defines a training run (kept in ``RUN/train.json``)."""

    task: str
    classes: list[str]
    order: str = "custom"
    backbone: str = DEFAULT_BACKBONE
    image_size: int | None = None  # random weights only; pretrained backbones keep theirs
    epochs: float = 10.0
    batch_size: int = 32
    grad_accum: int = 1
    lr: float | None = None  # None: 3e-5 for pretrained weights, 1e-3 for random ones
    weight_decay: float = 0.05
    warmup: float = 0.1  # share of all optimizer steps
    label_smoothing: float = 0.1
    augment: str = "crop-flip"
    precision: str = "auto"
    eval_steps: int | None = None  # None: evaluate and save once per epoch
    eval_split: str = "test"
    seed: int = 0
    workers: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; use {' or '.join(TASKS)}")
        if self.augment not in AUGMENTS:
            raise ValueError(f"unknown augment {self.augment!r}; use {', '.join(AUGMENTS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; use {', '.join(PRECISIONS)}")
        if len(self.classes) < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {self.classes}")

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1e-3 if is_random_init(self.backbone) else 3e-5


def resolve_classes(task: str, spec: str | Sequence[str], data: Path) -> tuple[str, list[str]]:
    """The head's classes: ``dataset`` or ``all`` (the build's taxonomy), ``built`` (the
    classes that have training images, in taxonomy order), ``60``/``50`` (styles: the
    release's 61-/51-way heads), ``20`` (objects: the release's order), or a list of names."""
    manifest = load_manifest(Path(data))
    taxonomy = manifest_taxonomy(manifest)
    known = taxonomy.styles if task == "style" else taxonomy.objects
    named = NAMED_ORDERS[task]
    if isinstance(spec, str) and spec in named:
        return named[spec][0], list(named[spec][1])
    if spec in ("dataset", "all"):  # `all`: the name every --styles/--objects understands
        classes = list(known)
    elif spec == "built":
        counts = manifest["counts"].get("train", {})
        present = {s for s, objs in counts.items() for o, n in objs.items() if n}
        if task == "object":
            present = {o for objs in counts.values() for o, n in objs.items() if n}
        classes = [c for c in known if c in present]
    else:
        classes = [spec] if isinstance(spec, str) else list(spec)
        unknown = [c for c in classes if c not in known]
        if unknown:
            raise ValueError(f"{data}: {unknown_names(task, unknown, known)}")
    for order, names in named.values():
        if tuple(classes) == names:
            return order, classes
    return "custom", classes


def check_resume(run: Path, settings: TrainSettings) -> None:
    """Refuse to resume a run under other settings (they would make another run)."""
    saved = _read_settings(run)
    now = asdict(settings)
    changed = [
        f"{k}: {saved.get(k)!r} -> {now[k]!r}"
        for k in now
        if k not in RESUMABLE and saved.get(k) != now[k]
    ]
    if changed:
        raise ValueError(
            f"{run / SETTINGS_FILE}: resuming with other settings ({'; '.join(changed)}); "
            "use the run's settings or a new --out"
        )


def _read_settings(run: Path) -> dict[str, Any]:
    import json

    path = run / SETTINGS_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the run's settings: {err}") from err
    names = {f.name for f in fields(TrainSettings)}
    return {k: v for k, v in data.get("settings", {}).items() if k in names}
