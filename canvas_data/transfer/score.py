"""``canvas-eval style-transfer score``: an output folder of the benchmark scored into one result.

For each triplet (``canvas_data.transfer.triplets``) whose output ``ANSWERS/{Style}/{Object}_
test{t}_ref{k}.jpg`` exists: the ViT loss against the ground truth, the VGG style loss against
the ground truth and the VGG content loss against the content photo (``canvas_data.transfer.
losses``, which says how each relates to the release's), and whether the style classifier
recognises the output as its target style (its own evaluation preprocessing, as
``canvas-eval accuracy``). Means and (population) standard deviations per (style, object), per
style and overall, as the release's ``vit_loss.py`` and ``vgg_loss.py`` save them. Missing and
unreadable outputs are listed, not scored.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.images.decode import decode_image, read_image_file
from canvas_data.transfer.losses import (
    CONTENT_LAYERS,
    RELEASE_VIT_BLOCKS,
    to_tensor,
    vgg_losses,
    vit_blocks,
    vit_loss,
)
from canvas_data.transfer.table import RESULT_KIND
from canvas_data.transfer.triplets import Triplet, index_for, plan_triplets
from canvas_data.transfer.vgg import STYLE_LAYERS

LOSSES = ("vit_loss", "style_loss", "content_loss")
DEFINITIONS = {
    "vit_loss": (
        "sum over the style classifier's blocks {blocks} (0-based) of the MSE between the block "
        "outputs for the output and for the ground truth; both resized (shorter side) and "
        "centre-cropped to {side} px, in [0, 1], not normalised"
    ),
    "style_loss": (
        "sum over VGG-19 relu1_1..relu5_1 of MSE(channel mean) + MSE(channel std), the output "
        "against the ground truth; {res} px (resize, centre crop)"
    ),
    "content_loss": (
        "MSE of the mean-variance-normalised relu4_1 plus that of relu5_1, the output against "
        "the content photo; {res} px"
    ),
    "style_accuracy": "fraction of outputs the style classifier labels as their target style",
}
SOURCES = {
    "vit_loss": "UnlearnCanvas release, style_transfer/evaluation/vit_loss.py (calc_style_loss)",
    "style_loss": "UnlearnCanvas release, style_transfer/evaluation/vgg_loss_utils.py "
    "(calc_style_loss); AdaIN's normalised VGG-19 (naoto0804/pytorch-AdaIN)",
    "content_loss": "StyTr2's content loss (vgg_loss_utils.py, loss_c), standard form",
    "departs": (
        "the release's vgg_loss.py first runs StyTr2 with the output as content and the ground "
        "truth as style, and scores StyTr2's image: content against the output, style against the "
        "ground truth. Here the output itself is scored, style against the ground truth and "
        "content against the content photo; the numbers are not comparable with the release's."
    ),
}


@dataclass(frozen=True)
class ScoreSettings:
    """How outputs are scored. ``resolution``: the side VGG losses are computed at (the
    release's 512); ``device``: ``auto`` (a GPU if there is one); ``dtype`` of the classifier
    and the VGG (``float32``, as the release computes its losses; ``auto``: float16 on a GPU);
    ``batch_size``: triplets per forward pass."""

    resolution: int = 512
    device: str = "auto"
    dtype: str = "float32"
    batch_size: int = 16


def _stats(values: Sequence[float]) -> dict[str, Any]:
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return {"n": 0, "mean": None, "std": None}
    return {"n": int(len(a)), "mean": float(a.mean()), "std": float(a.std())}


def _summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out = {loss: _stats([r[loss] for r in rows]) for loss in LOSSES}
    hits = sum(r["recognised"] for r in rows)
    out["style_accuracy"] = {
        "n": len(rows),
        "hits": hits,
        "accuracy": hits / len(rows) if rows else None,
    }
    return out


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means and stds of every loss and the style accuracy: per cell, per style, overall."""
    by_cell: dict[str, list] = defaultdict(list)
    by_style: dict[str, list] = defaultdict(list)
    for r in rows:
        by_cell[f"{r['style']}/{r['object']}"].append(r)
        by_style[r["style"]].append(r)
    return {
        "overall": _summary(rows),
        "per_style": {s: _summary(v) for s, v in sorted(by_style.items())},
        "per_style_object": {c: _summary(v) for c, v in sorted(by_cell.items())},
    }


def score_transfers(
    answers: Path,
    data: Path,
    style_classifier: Path,
    vgg_file: Path,
    settings: ScoreSettings = ScoreSettings(),
    *,
    styles: list[str] | None = None,
    objects: list[str] | None = None,
    method: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score the outputs in ``answers`` for the triplets of ``data`` into one result dict.

    The classifier, the VGG weights and the triplets are loaded and checked before any image is
    scored; a style the classifier does not know fails then, in one line.
    """
    from canvas_data.classify.classifier import load_classifier
    from canvas_data.transfer.vgg import load_vgg

    start = time.perf_counter()
    if settings.resolution < 32:
        raise ValueError(
            f"resolution must be at least 32 (relu5_1 is 1/16 of the side and reflection-"
            f"padded), got {settings.resolution}"
        )
    answers, data = Path(answers), Path(data)
    index = index_for(data)
    triplets = plan_triplets(index, styles, objects)
    classifier = load_classifier(style_classifier, device=settings.device, dtype=settings.dtype)
    if classifier.info.task != "style":
        raise ValueError(
            f"{style_classifier}: classifies {classifier.info.task}s, not styles "
            "(give a style classifier's run folder)"
        )
    unknown = sorted({t.style for t in triplets} - set(classifier.classes))
    if unknown:
        raise ValueError(f"{style_classifier}: the classifier has no class {unknown[0]!r}")
    vgg = load_vgg(vgg_file).to(classifier.device, classifier.dtype)
    depth = classifier.model.config.num_hidden_layers
    blocks = vit_blocks(depth)
    side = classifier.info.image_size
    present, missing, unreadable = [], [], []
    for t in triplets:
        (present if (answers / t.name).is_file() else missing).append(t)
    extra = _extra_files(answers, triplets)
    if not present:
        raise ValueError(
            f"{answers}: none of the {len(triplets)} expected outputs is there "
            f"(e.g. {triplets[0].name}); run `canvas-eval style-transfer generate`"
        )
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(present), unit="img", desc="score", disable=not progress)
    for at in range(0, len(present), settings.batch_size):
        batch: list[tuple[Triplet, np.ndarray]] = []
        for t in present[at : at + settings.batch_size]:
            path = answers / t.name
            try:
                batch.append((t, decode_image(read_image_file(path), name=str(path))))
            except (OSError, ValueError) as err:
                unreadable.append({"path": t.name, "reason": str(err).splitlines()[0]})
        if batch:
            rows.extend(_score_batch(batch, index, classifier, vgg, blocks, side, settings))
        bar.update(len(present[at : at + settings.batch_size]))
    bar.close()
    res = settings.resolution
    return {
        "kind": RESULT_KIND,
        "toolkit_version": __version__,
        "method": method,
        "scores": aggregate(rows),
        "definitions": {
            **{
                k: v.format(blocks=list(blocks), side=side, res=res) for k, v in DEFINITIONS.items()
            },
            "vit_blocks": list(blocks),
            "vit_blocks_release": list(RELEASE_VIT_BLOCKS),
            "vgg_style_layers": list(STYLE_LAYERS),
            "vgg_content_layers": list(CONTENT_LAYERS),
            "std": "population standard deviation (numpy.std), as the release saves it",
        },
        "sources": SOURCES,
        "answers": str(answers),
        "data": str(data),
        "style_classifier": str(style_classifier),
        "vgg": str(vgg_file),
        "settings": {
            "resolution": res,
            "vit_side": side,
            "device": str(classifier.device),
            "dtype": str(classifier.dtype).removeprefix("torch."),
        },
        "images": {
            "expected": len(triplets),
            "scored": len(rows),
            "missing": len(missing),
            "unreadable": len(unreadable),
            "extra": len(extra),
        },
        "missing": [t.name for t in missing],
        "unreadable": unreadable,
        "extra": extra,
        "seconds": time.perf_counter() - start,
        "outputs": rows,
    }


OUTPUT_NAME = re.compile(r"^(?P<object>.+)_test\d+_ref\d+\.jpg$")


def _extra_files(answers: Path, triplets: Sequence[Triplet]) -> list[str]:
    """Files in the folders of the scored styles that are not expected outputs (a wrong
    extension, a reference or test index the data lacks, anything else), by name relative to
    ``answers``; outputs of objects not asked (``--objects``) are not extra."""
    expected = {t.name for t in triplets}
    asked = {t.obj for t in triplets}
    extra = []
    for style in sorted({t.style for t in triplets}):
        folder = answers / style
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            name = f"{style}/{path.name}"
            match = OUTPUT_NAME.match(path.name)
            if name in expected or (match and match["object"] not in asked):
                continue
            extra.append(name)
    return sorted(extra)


def _score_batch(batch, index, classifier, vgg, blocks, side, settings) -> list[dict[str, Any]]:
    triplets = [t for t, _ in batch]
    results = [image for _, image in batch]
    targets = [decode_image(index.read(t.target), name=t.target) for t in triplets]
    contents = [decode_image(index.read(t.content), name=t.content) for t in triplets]
    device, dtype = classifier.device, classifier.dtype
    vit = vit_loss(
        classifier.model,
        to_tensor(results, side).to(device, dtype),
        to_tensor(targets, side).to(device, dtype),
        blocks,
    )
    res = settings.resolution
    style, content = vgg_losses(
        vgg,
        to_tensor(results, res).to(device, dtype),
        to_tensor(targets, res).to(device, dtype),
        to_tensor(contents, res).to(device, dtype),
    )
    labels = classifier.predict(results, batch_size=len(results)).labels
    return [
        {
            "name": t.name,
            "style": t.style,
            "object": t.obj,
            "reference": t.reference,
            "vit_loss": float(v),
            "style_loss": float(s),
            "content_loss": float(c),
            "predicted": label,
            "recognised": label == t.style,
        }
        for t, v, s, c, label in zip(triplets, vit, style, content, labels, strict=True)
    ]
