"""A classifier scored on a split of a packed dataset: top-1 overall and per class, the confusion
matrix, written as ``metrics.json`` and ``confusion.png``.

Images go through the release's evaluation preprocessing at the classifier's input size (resize,
bilinear, normalise 0.5/0.5). Images whose class the classifier's head lacks are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from canvas_data.atomic import write_json
from canvas_data.classify.classifier import Classifier
from canvas_data.classify.confusion import confusion_matrix, save_confusion_png

METRICS_FILE = "metrics.json"
CONFUSION_FILE = "confusion.png"


def classification_view(
    source: Any,
    task: str,
    classes: list[str],
    split: str,
    transform: Any,
    decode_size: Any = "auto",
):
    """The loader view of ``task`` over ``source`` with labels in ``classes`` order;
    ``transform`` and ``decode_size`` as :func:`canvas_data.loading.loaders.load` takes them."""
    from canvas_data.loading.loaders import object_classification, style_classification

    view = style_classification if task == "style" else object_classification
    return view(
        source, order=list(classes), split=split, transform=transform, decode_size=decode_size
    )


@dataclass
class Evaluation:
    """Predictions on a split and what follows from them."""

    task: str
    classes: list[str]
    split: str
    true: np.ndarray
    pred: np.ndarray
    keys: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def top1(self) -> float:
        return float((self.true == self.pred).mean()) if len(self.true) else float("nan")

    @property
    def matrix(self) -> np.ndarray:
        return confusion_matrix(self.true, self.pred, len(self.classes))

    def per_class(self) -> dict[str, dict[str, Any]]:
        """Top-1, images and hits of each class (``top1`` is null for a class with no images)."""
        m = self.matrix
        out = {}
        for i, name in enumerate(self.classes):
            n = int(m[i].sum())
            out[name] = {"top1": float(m[i, i] / n) if n else None, "n": n, "correct": int(m[i, i])}
        return out

    def most_confused(self, k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` largest off-diagonal cells: true class, predicted class, count."""
        m = self.matrix.copy()
        np.fill_diagonal(m, 0)
        flat = np.argsort(-m, axis=None, kind="stable")[:k]
        pairs = [np.unravel_index(f, m.shape) for f in flat]
        return [
            {"true": self.classes[t], "pred": self.classes[p], "count": int(m[t, p])}
            for t, p in pairs
            if m[t, p]
        ]

    def metrics(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "split": self.split,
            "top1": self.top1,
            "n": len(self.true),
            "per_class": self.per_class(),
            "most_confused": self.most_confused(),
            "classes": list(self.classes),
            "confusion": self.matrix.tolist(),
            **self.extra,
        }

    def write(self, out: Path, title: str | None = None) -> tuple[Path, Path]:
        """Write ``metrics.json`` and ``confusion.png`` into ``out``."""
        out = Path(out)
        write_json(out / METRICS_FILE, self.metrics())
        title = title or (
            f"{self.task.capitalize()} classifier, {self.split} split: top-1 "
            f"{100 * self.top1:.1f}% ({len(self.true)} images)"
        )
        save_confusion_png(self.matrix, self.classes, out / CONFUSION_FILE, title)
        return out / METRICS_FILE, out / CONFUSION_FILE


def evaluate_classifier(
    classifier: Classifier,
    source: Any,
    *,
    split: str = "test",
    batch_size: int = 64,
    workers: int = 0,
    progress: bool = True,
) -> Evaluation:
    """Classify every image of ``split`` in ``source`` (a packed folder or a ``datasets`` split)."""
    from tqdm.auto import tqdm

    info = classifier.info
    view = classification_view(source, info.task, info.classes, split, classifier.transform)
    if len(view) == 0:
        raise ValueError(f"{source}: no {split} images of the classifier's {info.task} classes")
    loader = DataLoader(view, batch_size=batch_size, num_workers=workers, shuffle=False)
    true, pred, keys = [], [], []
    with tqdm(total=len(view), unit="img", desc=f"evaluate {split}", disable=not progress) as bar:
        for batch in loader:
            logits = classifier.logits(batch["image"])
            pred.append(torch.argmax(logits, dim=1).cpu().numpy())
            true.append(np.asarray(batch["label"]))
            keys.extend(batch["key"])
            bar.update(len(batch["label"]))
    return Evaluation(
        info.task, list(info.classes), split, np.concatenate(true), np.concatenate(pred), keys
    )
