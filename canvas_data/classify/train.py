"""Fine-tuning the style and object classifiers with the ``transformers`` Trainer.

The Trainer brings mixed precision on CUDA, gradient accumulation, the cosine schedule with
warm-up, label smoothing, checkpoints (``RUN/checkpoints/checkpoint-STEP``) with resume, and the
choice of the best checkpoint by validation accuracy. Validation is the test split (made by seed
photo, so no photo is in both) under the release's evaluation preprocessing.

Training images get a random crop and a horizontal flip (``augment="crop-flip"``); each
example's augmentation is seeded by (seed, epoch, index), so a resumed run sees the same images
as an uninterrupted one, whatever the number of DataLoader workers.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from canvas_data import __version__
from canvas_data.atomic import write_json
from canvas_data.classify.classifier import (
    DEFAULT_BACKBONE,
    TASKS,
    Classifier,
    ClassifierInfo,
    build_model,
    is_random_init,
    quiet_load,
    save_run,
)
from canvas_data.classify.evaluate import Evaluation, classification_view, evaluate_classifier
from canvas_data.errors import reading
from canvas_data.load.transforms import (
    ImageTransform,
    classifier_eval_transform,
    train_transform,
    worker_seed,
)
from canvas_data.pack.shard_index import load_manifest, manifest_taxonomy
from canvas_data.suggest import unknown_names
from canvas_data.taxonomy import OBJECTS_20, STYLES_51, STYLES_61

SETTINGS_FILE = "train.json"
CHECKPOINTS = "checkpoints"
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


@dataclass
class TrainResult:
    """Where a run ended: its folder, steps done, and (when finished) the final evaluation."""

    run: Path
    global_step: int
    max_steps: int
    evaluation: Evaluation | None

    @property
    def finished(self) -> bool:
        return self.global_step >= self.max_steps


def resolve_classes(task: str, spec: str | Sequence[str], data: Path) -> tuple[str, list[str]]:
    """The head's classes: ``dataset`` (the build's taxonomy), ``built`` (the classes that have
    training images, in taxonomy order), ``60``/``50`` (styles: the release's 61-/51-way heads),
    ``20`` (objects: the release's order), or a list of names."""
    manifest = load_manifest(Path(data))
    taxonomy = manifest_taxonomy(manifest)
    known = taxonomy.styles if task == "style" else taxonomy.objects
    named = NAMED_ORDERS[task]
    if isinstance(spec, str) and spec in named:
        return named[spec][0], list(named[spec][1])
    if spec == "dataset":
        classes = list(known)
    elif spec == "built":
        counts = manifest.get("counts", {}).get("train", {})
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


def augmentation(kind: str, size: int) -> ImageTransform:
    """The training augmentation at input size ``size``."""
    if kind == "crop-flip":
        return train_transform(round(size * 8 / 7), crop=size, flip=0.5)
    if kind == "flip":
        return train_transform(size, flip=0.5)
    return classifier_eval_transform(size)


class TrainExamples(Dataset):
    """The training view with augmentations seeded per (seed, epoch, index)."""

    def __init__(self, view: Dataset, transform: ImageTransform, seed: int):
        self.view, self.transform, self.seed, self.epoch = view, transform, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, i: int) -> dict[str, Any]:
        example = self.view[i]
        self.transform.reseed(worker_seed(self.seed, self.epoch, i))
        pixels = self.transform(example["image"])["image"]
        return {"pixel_values": pixels, "labels": example["label"]}


class EvalExamples(Dataset):
    """The validation view, with the names the model's forward takes."""

    def __init__(self, view: Dataset):
        self.view = view

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, i: int) -> dict[str, Any]:
        example = self.view[i]
        return {"pixel_values": example["image"], "labels": example["label"]}


def collate(examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    return {
        "pixel_values": torch.stack([e["pixel_values"] for e in examples]),
        "labels": torch.tensor([int(e["labels"]) for e in examples]),
    }


def accuracy(eval_pred) -> dict[str, float]:
    logits, labels = eval_pred
    logits = logits[0] if isinstance(logits, tuple) else logits
    return {"accuracy": float((np.argmax(logits, axis=1) == labels).mean())}


def _precision_flags(precision: str) -> dict[str, bool]:
    cuda = torch.cuda.is_available()
    if precision == "auto":
        if not cuda:
            return {}
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision in ("fp16", "bf16") and not cuda:
        raise ValueError(f"--precision {precision} needs a CUDA GPU; use fp32 or auto on the CPU")
    return {"fp16": precision == "fp16", "bf16": precision == "bf16"}


def training_arguments(settings: TrainSettings, run: Path, progress: bool, steps_per_epoch: int):
    """The Trainer's arguments for ``settings``."""
    from transformers import TrainingArguments

    params = inspect.signature(TrainingArguments).parameters
    every = settings.eval_steps
    schedule = (
        {
            "eval_strategy": "steps",
            "save_strategy": "steps",
            "eval_steps": every,
            "save_steps": every,
        }
        if every
        else {"eval_strategy": "epoch", "save_strategy": "epoch"}
    )
    warmup = {"warmup_ratio" if "warmup_ratio" in params else "warmup_steps": settings.warmup}
    return TrainingArguments(
        output_dir=str(run / CHECKPOINTS),
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        lr_scheduler_type="cosine",
        label_smoothing_factor=settings.label_smoothing,
        metric_for_best_model="accuracy",
        greater_is_better=True,
        save_total_limit=2,
        logging_strategy="steps",
        logging_steps=max(1, min(50, steps_per_epoch)),
        report_to="none",
        disable_tqdm=not progress,
        dataloader_num_workers=settings.workers,
        dataloader_pin_memory=torch.cuda.is_available(),
        remove_unused_columns=False,
        label_names=["labels"],
        seed=settings.seed,
        data_seed=settings.seed,
        **schedule,
        **warmup,
        **_precision_flags(settings.precision),
    )


def _check_resume(run: Path, settings: TrainSettings) -> None:
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


def _epoch_callback(dataset: TrainExamples):
    """A Trainer callback that tells the training view which epoch begins."""
    from transformers import TrainerCallback

    class SetEpoch(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            dataset.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))

    return SetEpoch()


def train_classifier(
    data: Path,
    out: Path,
    settings: TrainSettings,
    *,
    resume: bool = False,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
    echo: Callable[[str], Any] = print,
) -> TrainResult:
    """Train a classifier on the packed dataset ``data`` into the run folder ``out``.

    ``resume``: continue from the newest checkpoint in ``out`` (start afresh if there is none).
    When training ends, the best checkpoint by validation accuracy is written as the run's model
    (``model.safetensors``, ``config.json``, ``classes.json``) and scored on the validation split
    (``metrics.json``, ``confusion.png``).
    """
    from transformers.utils import logging as hf_logging

    data, run = Path(data), Path(out)
    if (run / SETTINGS_FILE).is_file() and not resume:
        raise ValueError(
            f"{run}: holds a training run already; add --resume to continue it, or use a new --out"
        )
    checkpoint = last_checkpoint(run) if resume else None
    if checkpoint is not None:
        check_checkpoint(checkpoint)
        _check_resume(run, settings)
    hf_logging.set_verbosity_warning()
    with _quiet_trainer(progress):
        return _train(data, run, settings, checkpoint, progress, callbacks, echo)


def _train(
    data: Path,
    run: Path,
    settings: TrainSettings,
    checkpoint: Path | None,
    progress: bool,
    callbacks: Sequence[Any],
    echo: Callable[[str], Any],
) -> TrainResult:
    from transformers import Trainer

    if checkpoint is not None:
        model = _load_checkpoint(checkpoint)
    else:
        torch.manual_seed(settings.seed)  # the new head's (or a random model's) initial weights
        model = build_model(settings.backbone, settings.classes, settings.image_size)
    size = int(model.config.image_size)
    train_view = classification_view(
        data,
        settings.task,
        settings.classes,
        "train",
        None,
        decode_size=augmentation(settings.augment, size).decode_size,
    )
    eval_view = classification_view(
        data, settings.task, settings.classes, settings.eval_split, classifier_eval_transform(size)
    )
    for name, view in (("train", train_view), (settings.eval_split, eval_view)):
        if len(view) == 0:
            raise ValueError(f"{data}: no {name} images of the chosen {settings.task} classes")
    train_set = TrainExamples(train_view, augmentation(settings.augment, size), settings.seed)
    per_epoch = max(1, math.ceil(len(train_set) / (settings.batch_size * settings.grad_accum)))
    trainer = Trainer(
        model=model,
        args=training_arguments(settings, run, progress, per_epoch),
        train_dataset=train_set,
        eval_dataset=EvalExamples(eval_view),
        data_collator=collate,
        compute_metrics=accuracy,
        callbacks=[_epoch_callback(train_set), *callbacks],
    )
    if checkpoint is None and int(os.environ.get("RANK", 0)) == 0:
        write_json(
            run / SETTINGS_FILE,
            {"settings": asdict(settings), "data": str(data), "canvas_data": __version__},
        )
    if checkpoint is not None:
        echo(f"resuming {run} from {checkpoint.name}")
    echo(
        f"training a {len(settings.classes)}-way {settings.task} classifier on {len(train_set)} "
        f"images ({len(eval_view)} {settings.eval_split} images for validation), {size} px"
    )
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    state = trainer.state
    if state.global_step < state.max_steps or not trainer.is_world_process_zero():
        return TrainResult(run, state.global_step, state.max_steps, None)
    best = state.best_model_checkpoint
    model = _load_checkpoint(Path(best)) if best else trainer.model

    info = ClassifierInfo(
        task=settings.task,
        classes=list(settings.classes),
        image_size=size,
        order=settings.order,
        source={"trained_from": settings.backbone, "data": str(data)},
    )
    save_run(model, info, run)
    classifier = Classifier(model, info, dtype="float32")
    evaluation = evaluate_classifier(
        classifier,
        data,
        split=settings.eval_split,
        batch_size=settings.batch_size,
        workers=settings.workers,
        progress=progress,
    )
    evaluation.extra["training"] = _history(state)
    evaluation.write(run)
    return TrainResult(run, state.global_step, state.max_steps, evaluation)


def _load_checkpoint(folder: Path):
    """A checkpoint's model, through ``from_pretrained`` (which knows every naming of the weights:
    the Trainer's own reload does not, in some versions of ``transformers``)."""
    from transformers import ViTForImageClassification

    return quiet_load(ViTForImageClassification, folder)


@contextmanager
def _quiet_trainer(progress: bool):
    """Silence the Trainer's warnings about the weights it reloads itself (``_load_checkpoint``
    has loaded them already, completely) and about file times."""
    loggers = [logging.getLogger(f"transformers.{name}") for name in ("trainer", "trainer_utils")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bars:
            hf_logging.enable_progress_bar()


def _history(state) -> dict[str, Any]:
    evals = [
        {
            "step": e["step"],
            "epoch": e.get("epoch"),
            "accuracy": e["eval_accuracy"],
            "loss": e.get("eval_loss"),
        }
        for e in state.log_history
        if "eval_accuracy" in e
    ]
    best = Path(state.best_model_checkpoint).name if state.best_model_checkpoint else None
    return {
        "global_step": state.global_step,
        "best_checkpoint": best,
        "best_accuracy": state.best_metric,
        "evaluations": evals,
    }
