"""AdaIN style transfer (Huang and Belongie, ICCV 2017): encoder, adaptive instance norm, decoder.

Follows pytorch-AdaIN (naoto0804/pytorch-AdaIN): ``function.py`` for ``calc_mean_std`` (unbiased
variance over H x W plus eps 1e-5, square root) and ``adaptive_instance_normalization``;
``net.py`` for the decoder, an ``nn.Sequential`` whose state dict is ``decoder.pth``'s
(``1.weight`` (256, 512, 3, 3) ... ``28.bias`` (3,)); ``test.py`` for the transfer itself
(relu4_1 of content and style, AdaIN, ``alpha`` blend, decode).

Where ours departs: images are batched (pytorch-AdaIN's test.py runs one pair at a time; each
item's statistics are its own, so a batch gives the same images as one at a time up to float
rounding); every image is resized to a square of ``size`` (test.py's ``Resize(512)`` keeps the
aspect: the same for the dataset's square images); the channel statistics are computed in
float32 even when the network runs in float16 (a 512-channel variance can overflow float16);
outputs are clamped to [0, 1] and rounded to 8 bits, as ``save_image`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from canvas_data.transfer.vgg import VGGEncoder, _channels, check_keys, read_weights

# The decoder's convolutions (output channels at width 1) and 2x nearest upsamplings "U".
DECODER_CONVS = (256, "U", 256, 256, 256, 128, "U", 128, 64, "U", 64, 3)


def decoder_layers(width: float = 1.0) -> nn.Sequential:
    """pytorch-AdaIN's decoder (29 children), untrained: relu4_1 features in, RGB out.
    ``width`` scales every channel count but the 3 of the output (1: the real layout)."""
    layers: list[nn.Module] = []
    c_in = _channels(512, width)
    for n, spec in enumerate(DECODER_CONVS):
        if spec == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            continue
        last = n == len(DECODER_CONVS) - 1
        c_out = 3 if last else _channels(spec, width)
        layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(c_in, c_out, (3, 3))]
        if not last:
            layers.append(nn.ReLU())
        c_in = c_out
    return nn.Sequential(*layers)


def load_decoder(path: Path | str) -> nn.Sequential:
    """The decoder with the weights of pytorch-AdaIN's ``decoder.pth`` at ``path``, in eval mode.

    Errors name the file: missing, not a checkpoint, not weights-only, or keys and shapes that
    are not the decoder's (an encoder's file given here says ``unexpected 0.weight``).
    """
    path = Path(path)
    what = "an AdaIN decoder state dict (pytorch-AdaIN's decoder.pth)"
    state = read_weights(path, what)
    first = state.get("1.weight")
    width = first.shape[1] / 512 if first is not None and first.ndim == 4 else 1.0
    layers = decoder_layers(width)
    check_keys(state, layers.state_dict(), path, what)
    layers.load_state_dict(state)
    return layers.eval().requires_grad_(False)


def calc_mean_std(feat: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of ``(N, C, H, W)`` features, each ``(N, C, 1, 1)``: std is
    ``sqrt(unbiased variance + eps)`` (pytorch-AdaIN's ``function.calc_mean_std``)."""
    if feat.ndim != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(feat.shape)}")
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1)
    std = (flat.var(dim=2) + eps).sqrt().reshape(n, c, 1, 1)
    return flat.mean(dim=2).reshape(n, c, 1, 1), std


def adaptive_instance_normalization(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``content`` features with each channel's mean and std replaced by ``style``'s (same N
    and C; the sides may differ). Statistics in float32, result in ``content``'s dtype."""
    if content.shape[:2] != style.shape[:2]:
        raise ValueError(
            f"content and style features differ in (N, C): {tuple(content.shape[:2])} vs "
            f"{tuple(style.shape[:2])}"
        )
    c = content.float()
    c_mean, c_std = calc_mean_std(c)
    s_mean, s_std = calc_mean_std(style.float())
    return ((c - c_mean) / c_std * s_std + s_mean).to(content.dtype)


def to_batch(images: Sequence[Image.Image | np.ndarray], size: int) -> torch.Tensor:
    """RGB images (PIL or HWC uint8) as a float32 ``(N, 3, size, size)`` batch in [0, 1];
    resized with PIL's bilinear filter (what torchvision's ``Resize`` does to a PIL image)."""
    arrays = []
    for image in images:
        pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        pil = pil.convert("RGB")
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.BILINEAR)
        arrays.append(np.asarray(pil))
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return batch.float().div_(255.0)


def to_images(batch: torch.Tensor) -> list[Image.Image]:
    """A ``(N, 3, H, W)`` batch in [0, 1] as 8-bit RGB images (clamped, rounded as
    torchvision's ``save_image``: ``x * 255 + 0.5`` truncated)."""
    pixels = batch.detach().float().clamp(0, 1).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    return [Image.fromarray(a) for a in pixels.permute(0, 2, 3, 1).cpu().numpy()]


class AdaINNet(nn.Module):
    """Encoder + AdaIN + decoder. ``forward(content, style)``: ``(N, 3, H, W)`` batches in
    [0, 1] (H, W multiples of 8) -> the stylised batch, same size, not clamped."""

    def __init__(self, encoder: VGGEncoder, decoder: nn.Sequential, alpha: float = 1.0):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if encoder.width != decoder[1].in_channels:
            raise ValueError(
                f"the encoder gives {encoder.width} channels at relu4_1 but the decoder takes "
                f"{decoder[1].in_channels}: weights of two different networks"
            )
        self.encoder, self.decoder, self.alpha = encoder, decoder, alpha

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        content_f = self.encoder.encode(content)
        feat = adaptive_instance_normalization(content_f, self.encoder.encode(style))
        if self.alpha < 1.0:
            feat = feat * self.alpha + content_f * (1 - self.alpha)
        return self.decoder(feat)


class AdaIN:
    """AdaIN ready to run: pytorch-AdaIN's weight files loaded, on ``device`` in ``dtype``
    (``auto``: this rank's GPU and float16 if there is one, else the CPU and float32).
    ``transfer(contents, references)`` paints each content in the style of its reference, a
    batch per call, at ``resolution`` (a multiple of 8 from 16 up)."""

    def __init__(
        self,
        vgg: Path | str,
        decoder: Path | str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        alpha: float = 1.0,
        resolution: int = 512,
    ):
        from canvas_data.stylizers.diffusers_load import resolve_device, resolve_dtype
        from canvas_data.transfer.vgg import load_vgg

        if resolution < 16 or resolution % 8:
            raise ValueError(
                f"resolution must be a multiple of 8 from 16 up (relu4_1 is 1/8 of the side "
                f"and reflection-padded), got {resolution}"
            )
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.resolution = resolution
        net = AdaINNet(load_vgg(vgg), load_decoder(decoder), alpha)
        self.net = net.to(self.device, self.dtype)

    @torch.inference_mode()
    def transfer(
        self,
        contents: Sequence[Image.Image | np.ndarray],
        references: Sequence[Image.Image | np.ndarray],
    ) -> list[Image.Image]:
        """One RGB image per (content, reference) pair, ``resolution`` square."""
        if len(contents) != len(references):
            raise ValueError(f"{len(contents)} contents but {len(references)} references")
        if not contents:
            return []
        c = to_batch(contents, self.resolution).to(self.device, self.dtype)
        s = to_batch(references, self.resolution).to(self.device, self.dtype)
        return to_images(self.net(c, s))
