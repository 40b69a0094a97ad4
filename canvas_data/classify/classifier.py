"""The reference classifiers: a ``transformers`` ViT with a head over class names, saved as a run
folder, loaded back, and applied to batches of images.

A run folder holds ``model.safetensors`` and ``config.json`` (``ViTForImageClassification``, the
class names as ``id2label``), and ``classes.json``: the task, the class names in head order and the
preprocessing (resize to ``image_size`` x ``image_size``, bilinear, normalise with mean 0.5 and
std 0.5: the release's evaluation preprocessing). Training adds ``metrics.json`` and
``confusion.png`` (see ``canvas_data.classify.evaluate``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from canvas_data.atomic import PARTIAL, WriteError, write_json
from canvas_data.classify.run_info import (  # noqa: F401 (the names this module has always had)
    CLASSES_FILE,
    CONFIG_FILE,
    DEFAULT_BACKBONE,
    MEAN_STD,
    TASKS,
    TINY,
    WEIGHTS_FILE,
    ClassifierInfo,
    is_random_init,
    unfinished,
)
from canvas_data.errors import reading

if TYPE_CHECKING:
    from transformers import ViTConfig, ViTForImageClassification


ImageInput = Image.Image | np.ndarray | str | os.PathLike


def tiny_config(num_labels: int, image_size: int = 224) -> ViTConfig:
    """A small ViT for quick CPU runs: 4 layers of width 96, an 8 x 8 grid of patches."""
    from transformers import ViTConfig

    if image_size % 8:
        raise ValueError(f"tiny model: image size must be a multiple of 8, got {image_size}")
    return ViTConfig(
        hidden_size=96,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=192,
        image_size=image_size,
        patch_size=image_size // 8,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-6,
        num_labels=num_labels,
    )


def _labels(classes: Sequence[str]) -> dict[str, Any]:
    return {
        "num_labels": len(classes),
        "id2label": dict(enumerate(classes)),
        "label2id": {c: i for i, c in enumerate(classes)},
    }


def build_model(
    backbone: str, classes: Sequence[str], image_size: int | None = None
) -> ViTForImageClassification:
    """A ViT classifier over ``classes``.

    ``backbone``: ``tiny`` (random weights, see ``tiny_config``), a ``ViTConfig`` JSON file
    (random weights), or a local folder / Hub id of pretrained ViT weights, whose head is replaced
    by a new linear layer. ``image_size`` is only for random weights; pretrained ones keep theirs.
    """
    from transformers import ViTConfig, ViTForImageClassification

    if backbone == TINY:
        config = tiny_config(len(classes), image_size or 224)
        config.update(_labels(classes))
        return ViTForImageClassification(config)
    if backbone.endswith(".json") and Path(backbone).is_file():
        config = ViTConfig.from_json_file(backbone)
        config.update(_labels(classes))
        if image_size:
            config.image_size = image_size
        return ViTForImageClassification(config)
    try:
        config = ViTConfig.from_pretrained(backbone)
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if Path(backbone).exists():
            raise ValueError(f"{backbone}: cannot load a ViT backbone: {reason}") from err
        if _is_local_path(backbone):  # a Hub id is NAME or ORG/NAME
            raise ValueError(f"{backbone}: cannot load a ViT backbone: no such folder") from err
        raise ValueError(
            f"{backbone}: not in the Hugging Face cache and not downloadable here ({reason}); "
            f"get it once with `hf download {backbone}` where there is network (HF_HOME "
            "points to the cache), or pass --model with a local folder of ViT weights, or "
            "--model tiny for random weights"
        ) from err
    if image_size and image_size != config.image_size:
        raise ValueError(
            f"{backbone}: pretrained at {config.image_size} px; leave out --image-size "
            f"{image_size} (it applies to random weights only)"
        )
    return ViTForImageClassification.from_pretrained(
        backbone, ignore_mismatched_sizes=True, **_labels(classes)
    )


def save_run(model: ViTForImageClassification, info: ClassifierInfo, run: Path) -> Path:
    """Write the weights (safetensors), ``config.json`` and ``classes.json`` into ``run``.

    Files are written to a temporary folder first and renamed into place, ``classes.json`` last.
    """
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    model.config.update(_labels(info.classes))
    tmp = run / f".model{PARTIAL}{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        for name in (WEIGHTS_FILE, CONFIG_FILE):
            if not (tmp / name).is_file():
                raise ValueError(f"{tmp}: saving the model wrote no {name}")
            os.chmod(tmp / name, 0o666 & ~_umask())  # some writers make private temporary files
            os.replace(tmp / name, run / name)
    except OSError as err:
        raise WriteError(err.errno, err.strerror or str(err), str(run / WEIGHTS_FILE)) from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_json(run / CLASSES_FILE, asdict(info))
    return run


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: this process's GPU if CUDA is available, else the CPU."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    return torch.device(device)


def pick_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``auto``: float16 on a GPU, float32 elsewhere."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    known = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in known:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, {', '.join(known)}")
    return known[dtype]


@dataclass
class Predictions:
    """A batch's answers: the top class of each image, its probability, and all probabilities."""

    classes: list[str]
    probs: np.ndarray  # (N, C) float32, rows sum to 1

    @property
    def indices(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def labels(self) -> list[str]:
        """The predicted class name of each image."""
        return [self.classes[i] for i in self.indices]

    @property
    def scores(self) -> np.ndarray:
        """The probability of each image's predicted class."""
        return self.probs.max(axis=1)

    def top(self, k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable classes of each image, with their probabilities."""
        order = np.argsort(-self.probs, axis=1)[:, :k]
        return [
            [(self.classes[j], float(p[j])) for j in row]
            for row, p in zip(order, self.probs, strict=True)
        ]


class Classifier:
    """A ViT classifier and its class names, ready for batched prediction on CPU or GPU."""

    def __init__(
        self,
        model: ViTForImageClassification,
        info: ClassifierInfo,
        *,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
    ):
        from canvas_data.loading.transforms import classifier_eval_transform

        self.info = info
        self.device = pick_device(device) if isinstance(device, str) else device
        self.dtype = pick_dtype(dtype, self.device)
        self.model = model.to(self.device, self.dtype).eval()
        self.transform = classifier_eval_transform(info.image_size)

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)

    def preprocess(self, image: ImageInput) -> torch.Tensor:
        """One image (PIL, HWC uint8 array, or a file path) as the model's input tensor."""
        from canvas_data.images.decode import decode_image, read_image_file

        if isinstance(image, str | os.PathLike):
            path = Path(image)
            array = decode_image(
                read_image_file(path), min_size=self.info.image_size, name=str(path)
            )
        elif isinstance(image, Image.Image):
            array = np.asarray(image.convert("RGB"))
        elif isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3:
            array = image.astype(np.uint8, copy=False)
        else:
            raise ValueError(f"not an image: {type(image).__name__} (use PIL, HWC uint8, a path)")
        return self.transform(array)["image"]

    def resizer(self):
        """A private copy (one per thread) of the first half of ``preprocess``: an RGB uint8
        array in, resized to the model's input size, still uint8 (see ``predict_resized``)."""
        from canvas_data.loading.transforms import classifier_eval_transform

        return classifier_eval_transform(self.info.image_size, normalize=False, tensor=False)

    @torch.inference_mode()
    def predict_resized(self, images: np.ndarray) -> Predictions:
        """Classify a batch from ``resizer``, ``(N, S, S, 3)`` uint8: the second half of
        ``preprocess`` (normalising) runs on the model's device, after a 4x smaller copy."""
        pixels = torch.from_numpy(images).to(self.device, non_blocking=True)
        mean, std = (v * 255.0 for v in MEAN_STD)
        pixels = pixels.permute(0, 3, 1, 2).float().sub_(mean).mul_(1.0 / std)
        probs = torch.softmax(self.logits(pixels), dim=1).cpu().numpy()
        return Predictions(self.classes, probs)

    @torch.inference_mode()
    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float32 logits of a preprocessed batch ``(N, 3, S, S)``."""
        pixels = pixels.to(self.device, self.dtype, non_blocking=True)
        return self.model(pixel_values=pixels).logits.float()

    def predict(
        self, images: Iterable[ImageInput], *, batch_size: int = 64, progress: bool = False
    ) -> Predictions:
        """Classify images in batches; returns class names and probabilities."""
        from tqdm.auto import tqdm

        images = list(images)
        chunks = []
        bar = tqdm(total=len(images), unit="img", desc="classify", disable=not progress)
        for start in range(0, len(images), batch_size):
            batch = torch.stack([self.preprocess(im) for im in images[start : start + batch_size]])
            chunks.append(torch.softmax(self.logits(batch), dim=1).cpu().numpy())
            bar.update(len(batch))
        bar.close()
        probs = np.concatenate(chunks) if chunks else np.zeros((0, len(self.classes)), np.float32)
        return Predictions(self.classes, probs)


def quiet_load(cls: Any, folder: Path) -> Any:
    """``cls.from_pretrained(folder)`` without ``transformers``' progress bar (a local folder
    loads in a moment). ``InputError`` names the weight file when the folder does not load."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    names = (WEIGHTS_FILE, "pytorch_model.bin", CONFIG_FILE)
    named = next((folder / n for n in names if (folder / n).is_file()), folder)
    try:
        with reading(named, "model weights saved by transformers"):
            return cls.from_pretrained(folder)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def load_classifier(
    run: str | os.PathLike,
    *,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "auto",
) -> Classifier:
    """Load a run folder (from ``canvas-train``) as a ``Classifier``.

    ``device``: ``auto`` (CUDA if available), ``cpu``, ``cuda``, ``cuda:N``; ``dtype``: ``auto``
    (float16 on a GPU, float32 on the CPU), ``float32``, ``float16``, ``bfloat16``.
    """
    from transformers import ViTForImageClassification

    run = Path(run)
    info = ClassifierInfo.read(run)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (run / name).is_file():
            unfinished(run)
            raise FileNotFoundError(f"{run / name}: missing; not a complete classifier run folder")
    model = quiet_load(ViTForImageClassification, run)
    if model.config.num_labels != len(info.classes):
        raise ValueError(
            f"{run}: the head has {model.config.num_labels} classes but {CLASSES_FILE} lists "
            f"{len(info.classes)}"
        )
    return Classifier(model, info, device=device, dtype=dtype)


def _is_local_path(name: str) -> bool:
    """Whether a ``--model`` value can only mean a local path (absolute, ``./``, ``~``, or more
    than one ``/``), never a Hub id (``NAME`` or ``ORG/NAME``)."""
    return Path(name).is_absolute() or name.startswith((".", "~")) or name.count("/") > 1
