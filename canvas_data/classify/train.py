"""Fine-tuning the style and object classifiers with the ``transformers`` Trainer.

The Trainer brings mixed precision on CUDA, gradient accumulation, the cosine schedule with
warm-up, label smoothing, checkpoints (``RUN/checkpoints/checkpoint-STEP``) with resume, and the
choice of the best checkpoint by validation accuracy. Validation is the test split (made by seed
photo, so no photo is in both) under the release's evaluation preprocessing.

A run's settings and class orders are in ``train_settings``, the examples the Trainer gets (with
augmentations seeded per example, so a resumed run is the same run) in ``train_examples``, its
checkpoints in ``train_checkpoints``.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from canvas_data import __version__
from canvas_data.atomic import write_json
from canvas_data.classify.classifier import Classifier, ClassifierInfo, build_model, save_run
from canvas_data.classify.evaluate import Evaluation, classification_view, evaluate_classifier
from canvas_data.classify.train_checkpoints import (
    CHECKPOINTS,
    checkpoint_done,
    load_checkpoint,
    resume_checkpoint,
    save_failure,
)
from canvas_data.classify.train_examples import EvalExamples, TrainExamples, augmentation, collate
from canvas_data.classify.train_settings import SETTINGS_FILE, TrainSettings, check_resume
from canvas_data.loading.transforms import classifier_eval_transform


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
    checkpoint = resume_checkpoint(run, echo) if resume else None
    if checkpoint is not None:
        check_resume(run, settings)
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
        model = load_checkpoint(checkpoint)
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
        callbacks=[_epoch_callback(train_set), checkpoint_done(), *callbacks],
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
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except (OSError, RuntimeError) as err:  # a full disk while saving: one line naming the folder
        failure = save_failure(err, run, trainer.state.global_step)
        if failure is None:
            raise
        raise failure from err
    state = trainer.state
    if state.global_step < state.max_steps or not trainer.is_world_process_zero():
        return TrainResult(run, state.global_step, state.max_steps, None)
    best = state.best_model_checkpoint
    model = load_checkpoint(Path(best)) if best else trainer.model

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


@contextmanager
def _quiet_trainer(progress: bool):
    """Silence the Trainer's warnings about the weights it reloads itself (``load_checkpoint``
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
