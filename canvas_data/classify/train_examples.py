"""The examples the Trainer gets: the training view under a seeded augmentation, the validation
view, and their batches.

Training images get a random crop and a horizontal flip (``augment="crop-flip"``); each
example's augmentation is seeded by (seed, epoch, index), so a resumed run sees the same images
as an uninterrupted one, whatever the number of DataLoader workers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from canvas_data.loading.transforms import (
    ImageTransform,
    classifier_eval_transform,
    train_transform,
    worker_seed,
)


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
