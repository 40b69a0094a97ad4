"""Tiny random-weight AdaIN networks saved as weight files, in the public layouts.

``save_vgg(path, layout="adain")`` writes pytorch-AdaIN's ``vgg_normalised.pth`` layout (keys
``0.weight`` .. ``51.bias``), ``layout="torchvision"`` torchvision's ``vgg19`` (``features.N``,
with its ``classifier.*``); ``save_decoder`` writes ``decoder.pth``'s. ``WIDTH`` scales every
channel count so that a CPU test runs in moments; the layouts are otherwise the real ones.
"""

from __future__ import annotations

from pathlib import Path

import torch

from canvas_data.transfer.adain import decoder_layers
from canvas_data.transfer.vgg import TORCHVISION_CONVS, conv_indices, vgg_layers

WIDTH = 1 / 16


def _randomised(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            scale = (2.0 / p[0].numel()) ** 0.5 if p.ndim > 1 else 0.05  # He init; small biases
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return module


def vgg_state(seed: int = 0, width: float = WIDTH) -> dict[str, torch.Tensor]:
    """A random normalised VGG-19 in pytorch-AdaIN's layout (all 53 children)."""
    return _randomised(vgg_layers(width), seed).state_dict()


def torchvision_state(seed: int = 0, width: float = WIDTH) -> dict[str, torch.Tensor]:
    """A random VGG-19 in torchvision's ``vgg19`` layout, classifier included."""
    ours = vgg_state(seed, width)
    convs = conv_indices(vgg_layers(width))[1:]
    state = {}
    for theirs, mine in zip(TORCHVISION_CONVS, convs, strict=True):
        state[f"features.{theirs}.weight"] = ours[f"{mine}.weight"]
        state[f"features.{theirs}.bias"] = ours[f"{mine}.bias"]
    state["classifier.0.weight"] = torch.zeros(8, 4)
    state["classifier.0.bias"] = torch.zeros(8)
    return state


def decoder_state(seed: int = 1, width: float = WIDTH) -> dict[str, torch.Tensor]:
    """A random decoder whose last convolution is scaled so that outputs vary inside [0, 1]
    (the tiny network's features are faint: unscaled, every image is one grey)."""
    state = _randomised(decoder_layers(width), seed).state_dict()
    state["28.weight"] = state["28.weight"] * 50
    state["28.bias"] = torch.full_like(state["28.bias"], 0.5)
    return state


def save_vgg(path: Path, layout: str = "adain", seed: int = 0, width: float = WIDTH) -> Path:
    state = vgg_state(seed, width) if layout == "adain" else torchvision_state(seed, width)
    torch.save(state, path)
    return path


def save_decoder(path: Path, seed: int = 1, width: float = WIDTH) -> Path:
    torch.save(decoder_state(seed, width), path)
    return path
