"""The style-transfer benchmark's losses: ViT loss, VGG style loss and VGG content loss.

Every function takes batches and returns one loss per item, a float32 ``(N,)`` tensor (the
release computes them one image at a time: the same numbers).

- ViT loss (release: ``style_transfer/evaluation/vit_loss.py``, ``calc_style_loss``): the style
  classifier (a ``transformers`` ViT, converted from the release's timm ViT-L/16 by
  ``canvas-train import-release``, or one of ours) run on result and ground truth, each resized
  (shorter side) and centre-cropped to the classifier's input side (224 for the release's) and
  scaled to [0, 1] with **no normalisation**; the loss is the sum, over the blocks the release
  hooks (0-based 3, 7, 11, 15, 19, 23 of 24), of the MSE between the two block outputs (all
  tokens, all channels). A transformers ViT's ``hidden_states[b + 1]`` is timm's
  ``blocks[b]`` output. For a ViT of another depth the blocks are the release's scaled to its
  depth (``vit_blocks``): block ``b`` of 24 is ``round((b + 1) * L / 24) - 1`` of L, duplicates
  dropped (ViT-B/12: 1, 3, 5, 7, 9, 11); a result records the blocks it used.
- VGG style loss (release: ``vgg_loss_utils.py``, ``StyTrans.calc_style_loss`` summed over
  relu1_1 .. relu5_1): sum over those five layers of MSE(channel mean) + MSE(channel std)
  (``calc_mean_std``: unbiased variance + 1e-5), result against the ground truth.
- VGG content loss: MSE of the mean-variance-normalised relu4_1 plus that of relu5_1, result
  against the content photo (the standard definition, StyTr2's ``loss_c``).

Where the release departs: its ``vgg_loss.py`` does not score the result directly. It runs
StyTr2 with the result as content and the ground truth as style, and reports the content loss of
StyTr2's output against the result and its style loss against the ground truth. Ours scores the
result itself: style against the ground truth, content against the content photo. Numbers are
therefore not comparable with the release's published table; StyTr2 is not reimplemented here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from canvas_data.transfer.adain import calc_mean_std
from canvas_data.transfer.vgg import STYLE_LAYERS, VGGEncoder

RELEASE_VIT_BLOCKS = (3, 7, 11, 15, 19, 23)  # range(3, 24, 4) in vit_loss.py, of 24 blocks
RELEASE_VIT_DEPTH = 24
CONTENT_LAYERS = ("relu4_1", "relu5_1")


def vit_blocks(depth: int) -> tuple[int, ...]:
    """The 0-based blocks the ViT loss sums over for a ViT of ``depth`` blocks: the release's
    (3, 7, ..., 23) at depth 24, scaled to other depths, duplicates dropped."""
    if depth < 1:
        raise ValueError(f"a ViT has at least one block, not {depth}")
    scaled = (max(0, round((b + 1) * depth / RELEASE_VIT_DEPTH) - 1) for b in RELEASE_VIT_BLOCKS)
    return tuple(sorted(set(scaled)))


def resize_crop(image: Image.Image | np.ndarray, side: int) -> np.ndarray:
    """torchvision's ``Resize(side)`` then ``CenterCrop(side)`` on a PIL image, as the release's
    ``test_transform(side, True)``: shorter side to ``side`` (bilinear, antialiased: what
    torchvision does to a PIL image), centre crop; an ``(side, side, 3)`` uint8 array."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    pil = pil.convert("RGB")
    w, h = pil.size
    if (w, h) != (side, side):
        # torchvision: the shorter side becomes ``side``, the longer int(side * long / short)
        size = (side, int(side * h / w)) if w <= h else (int(side * w / h), side)
        pil = pil.resize(size, Image.BILINEAR)
        w, h = pil.size
        left, top = int(round((w - side) / 2.0)), int(round((h - side) / 2.0))
        pil = pil.crop((left, top, left + side, top + side))
    return np.asarray(pil)


def to_tensor(images: Sequence[Image.Image | np.ndarray], side: int) -> torch.Tensor:
    """``resize_crop`` then ``ToTensor``: a float32 ``(N, 3, side, side)`` batch in [0, 1]."""
    arrays = np.stack([resize_crop(im, side) for im in images])
    return torch.from_numpy(arrays).permute(0, 3, 1, 2).float().div_(255.0)


def _mse_per_item(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.shape != b.shape:
        raise ValueError(f"features of different shapes: {tuple(a.shape)} vs {tuple(b.shape)}")
    return (a.float() - b.float()).pow(2).flatten(1).mean(dim=1)


def block_outputs(vit, pixels: torch.Tensor, blocks: Sequence[int]) -> list[torch.Tensor]:
    """The outputs of ``blocks`` of a ``transformers`` ViT (``ViTForImageClassification`` or
    ``ViTModel``) for ``pixels`` ``(N, 3, S, S)``, each ``(N, tokens, hidden)``."""
    backbone = getattr(vit, "vit", vit)
    states = backbone(pixel_values=pixels, output_hidden_states=True).hidden_states
    return [states[b + 1] for b in blocks]


def vit_loss_from_blocks(
    result: Sequence[torch.Tensor], target: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Sum over blocks of the MSE between result's and target's block outputs, per item."""
    if len(result) != len(target):
        raise ValueError(f"{len(result)} result blocks but {len(target)} target blocks")
    return sum(
        (_mse_per_item(r, t) for r, t in zip(result, target, strict=True)),
        torch.zeros(result[0].shape[0]),
    )


@torch.inference_mode()
def vit_loss(
    vit, result: torch.Tensor, target: torch.Tensor, blocks: Sequence[int]
) -> torch.Tensor:
    """The release's ViT loss of ``result`` against ``target`` (the ground truth): pixel batches
    from ``to_tensor`` at the ViT's input side, not normalised. ``(N,)`` float32."""
    r = block_outputs(vit, result, blocks)
    t = block_outputs(vit, target, blocks)
    return vit_loss_from_blocks([x.cpu() for x in r], [x.cpu() for x in t])


def style_loss_from_features(
    result: Sequence[torch.Tensor], target: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Sum over layers of MSE(channel mean) + MSE(channel std), per item."""
    if len(result) != len(target):
        raise ValueError(f"{len(result)} result layers but {len(target)} target layers")
    total = torch.zeros(result[0].shape[0])
    for r, t in zip(result, target, strict=True):
        r_mean, r_std = calc_mean_std(r.float())
        t_mean, t_std = calc_mean_std(t.float())
        total = total + (_mse_per_item(r_mean, t_mean) + _mse_per_item(r_std, t_std)).cpu()
    return total


def mean_variance_norm(feat: torch.Tensor) -> torch.Tensor:
    """Each channel of ``(N, C, H, W)`` features minus its mean, over its std
    (``calc_mean_std``; the release's ``normal``)."""
    mean, std = calc_mean_std(feat)
    return (feat - mean) / std


def content_loss_from_features(
    result: Sequence[torch.Tensor], content: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Sum over layers of the MSE between mean-variance-normalised features, per item."""
    if len(result) != len(content):
        raise ValueError(f"{len(result)} result layers but {len(content)} content layers")
    total = torch.zeros(result[0].shape[0])
    for r, c in zip(result, content, strict=True):
        total = total + _mse_per_item(mean_variance_norm(r.float()), mean_variance_norm(c.float()))
    return total.cpu()


@torch.inference_mode()
def vgg_losses(
    vgg: VGGEncoder, result: torch.Tensor, target: torch.Tensor, content: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(style_loss, content_loss)`` per item: ``result`` against ``target`` (ground truth) and
    ``content`` (the content photo); ``(N, 3, S, S)`` batches in [0, 1] (``to_tensor``)."""
    r = vgg.features(result)
    style = style_loss_from_features(r, vgg.features(target))
    c = vgg.features(content)
    pick = [STYLE_LAYERS.index(name) for name in CONTENT_LAYERS]
    content_loss = content_loss_from_features([r[i] for i in pick], [c[i] for i in pick])
    return style, content_loss
