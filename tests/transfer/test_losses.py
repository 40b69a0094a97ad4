"""The style-transfer losses checked on hand-made feature maps, and the ViT loss against a
direct computation on a tiny timm-layout ViT converted as ``canvas-train import-release`` does."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from canvas_data.classify.classifier import load_classifier
from canvas_data.classify.release_checkpoint import import_release
from canvas_data.taxonomy import STYLES_61
from canvas_data.transfer.losses import (
    content_loss_from_features,
    resize_crop,
    style_loss_from_features,
    to_tensor,
    vit_blocks,
    vit_loss,
)

pytestmark = pytest.mark.usefixtures("one_thread")
EPS = 1e-5
WIDTH, DEPTH, HEADS, PATCH, SIZE = 32, 4, 2, 8, 32


def _std(values):
    return math.sqrt(np.var(values, ddof=1) + EPS)


def test_style_loss_on_hand_made_features():
    # one item, two layers; layer 1 has two channels of 2 x 2, layer 2 one channel of 1 x 2
    r1 = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]], [[0.0, 2.0], [0.0, 2.0]]]])
    t1 = torch.tensor([[[[0.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 5.0]]]])
    r2 = torch.tensor([[[[3.0, 5.0]]]])
    t2 = torch.tensor([[[[4.0, 4.0]]]])
    layer1 = ((1 - 0) ** 2 + (1 - 2) ** 2) / 2 + (
        (_std([1] * 4) - _std([0] * 4)) ** 2 + (_std([0, 2, 0, 2]) - _std([1, 1, 1, 5])) ** 2
    ) / 2
    layer2 = (4 - 4) ** 2 + (_std([3, 5]) - _std([4, 4])) ** 2
    got = style_loss_from_features([r1, r2], [t1, t2])
    assert got.shape == (1,)
    assert got.item() == pytest.approx(layer1 + layer2, rel=1e-5)
    assert style_loss_from_features([t1, t2], [t1, t2]).item() == 0.0


def test_content_loss_on_hand_made_features():
    c = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]]])
    # an affine change of a channel (positive scale) leaves its normalised features alone
    assert content_loss_from_features([3 * c + 7], [c]).item() == pytest.approx(0.0, abs=1e-5)
    values = np.array([1.0, 2.0, 3.0, 6.0])
    normal = (values - values.mean()) / _std(values)
    flat = np.array([5.0, 5.0, 5.0, 5.0])  # normalised: all zeros
    expected = np.mean((0 - normal) ** 2) + np.mean((-normal - normal) ** 2)
    got = content_loss_from_features([torch.tensor(flat).reshape(1, 1, 2, 2).float(), -c], [c, c])
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_losses_are_per_item():
    a = torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    b = torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    batched = style_loss_from_features([a], [b])
    alone = torch.cat([style_loss_from_features([a[i : i + 1]], [b[i : i + 1]]) for i in range(3)])
    torch.testing.assert_close(batched, alone)


def test_the_release_blocks_and_their_scaling():
    assert vit_blocks(24) == (3, 7, 11, 15, 19, 23)
    assert vit_blocks(12) == (1, 3, 5, 7, 9, 11)
    assert vit_blocks(4) == (0, 1, 2, 3)
    assert vit_blocks(1) == (0,)
    with pytest.raises(ValueError):
        vit_blocks(0)


def test_resize_and_centre_crop_as_torchvision():
    # 60 x 30: the shorter side becomes 16, the longer int(16 * 60 / 30) = 32; crop the middle
    image = np.zeros((30, 60, 3), np.uint8)
    image[:, 15:45] = 255  # the middle half is white
    out = resize_crop(Image.fromarray(image), 16)
    assert out.shape == (16, 16, 3)
    assert out[:, 2:14].min() == 255  # the crop is inside the white band
    batch = to_tensor([image, image], 16)
    assert batch.shape == (2, 3, 16, 16) and batch.max() == 1.0


def timm_state(num_classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict in timm's VisionTransformer layout."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.2):
        return torch.randn(*shape, generator=gen) * scale

    tokens = (SIZE // PATCH) ** 2 + 1
    w = WIDTH
    state = {
        "cls_token": rand(1, 1, w), "pos_embed": rand(1, tokens, w),
        "patch_embed.proj.weight": rand(w, 3, PATCH, PATCH, scale=0.05),
        "patch_embed.proj.bias": rand(w), "norm.weight": 1 + rand(w), "norm.bias": rand(w),
        "head.weight": rand(num_classes, w), "head.bias": rand(num_classes),
    }  # fmt: skip
    for i in range(DEPTH):
        b = f"blocks.{i}."
        state |= {
            b + "norm1.weight": 1 + rand(w), b + "norm1.bias": rand(w),
            b + "attn.qkv.weight": rand(3 * w, w), b + "attn.qkv.bias": rand(3 * w),
            b + "attn.proj.weight": rand(w, w), b + "attn.proj.bias": rand(w),
            b + "norm2.weight": 1 + rand(w), b + "norm2.bias": rand(w),
            b + "mlp.fc1.weight": rand(4 * w, w), b + "mlp.fc1.bias": rand(4 * w),
            b + "mlp.fc2.weight": rand(w, 4 * w), b + "mlp.fc2.bias": rand(w),
        }  # fmt: skip
    return state


def timm_block_outputs(state, x: torch.Tensor) -> list[torch.Tensor]:
    """What the release's forward hooks on ``model.blocks[i]`` capture, written out: timm's
    patch embedding, class token, position embedding, then pre-norm blocks (eps 1e-6)."""

    def norm(t, name):
        return F.layer_norm(t, (WIDTH,), state[name + ".weight"], state[name + ".bias"], 1e-6)

    def linear(t, name):
        return F.linear(t, state[name + ".weight"], state[name + ".bias"])

    x = F.conv2d(x, state["patch_embed.proj.weight"], state["patch_embed.proj.bias"], stride=PATCH)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([state["cls_token"].expand(len(x), -1, -1), x], dim=1) + state["pos_embed"]
    outputs = []
    for i in range(DEPTH):
        b = f"blocks.{i}."
        h = norm(x, b + "norm1")
        n, tokens, _ = h.shape
        qkv = linear(h, b + "attn.qkv").reshape(n, tokens, 3, HEADS, WIDTH // HEADS)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1) / math.sqrt(WIDTH // HEADS)).softmax(dim=-1)
        h = (attn @ v).transpose(1, 2).reshape(n, tokens, WIDTH)
        x = x + linear(h, b + "attn.proj")
        x = x + linear(F.gelu(linear(norm(x, b + "norm2"), b + "mlp.fc1")), b + "mlp.fc2")
        outputs.append(x)
    return outputs


def test_vit_loss_equals_the_release_computation_on_an_imported_checkpoint(tmp_path):
    state = timm_state(len(STYLES_61))
    torch.save({"model_state_dict": state, "epoch": 1}, tmp_path / "style.pth")
    import_release(tmp_path / "style.pth", "style", tmp_path / "run", heads=HEADS)
    clf = load_classifier(tmp_path / "run", device="cpu")
    gen = torch.Generator().manual_seed(2)
    result_px, target_px = (
        torch.rand(3, 3, SIZE, SIZE, generator=gen),
        torch.rand(3, 3, SIZE, SIZE, generator=gen),
    )
    blocks = vit_blocks(DEPTH)
    got = vit_loss(clf.model, result_px, target_px, blocks)
    with torch.no_grad():
        r, t = timm_block_outputs(state, result_px), timm_block_outputs(state, target_px)
    expected = [sum(F.mse_loss(r[b][i], t[b][i]).item() for b in blocks) for i in range(3)]
    assert got.shape == (3,)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4)
    assert vit_loss(clf.model, result_px, result_px, blocks).abs().max().item() == 0.0
