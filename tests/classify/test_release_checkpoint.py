"""Released timm ViT checkpoints: read without unpickling code, converted, loaded strictly, and
giving the same logits as timm's forward pass over the same weights."""

import math

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

pytest.importorskip("transformers")

from transformers import ViTForImageClassification  # noqa: E402

from canvas_data.classify.classifier import load_classifier, tiny_config  # noqa: E402
from canvas_data.classify.release_checkpoint import (  # noqa: E402
    import_release,
    layout_of,
    load_release_model,
    read_release_checkpoint,
    timm_config,
    timm_to_vit,
    vit_to_timm,
)
from canvas_data.cli.train import main  # noqa: E402
from canvas_data.taxonomy import OBJECTS_20, STYLES_51, STYLES_61  # noqa: E402

WIDTH, DEPTH, HEADS, PATCH, SIZE = 64, 2, 4, 8, 32


def timm_state(num_classes: int, seed: int = 0, width: int = WIDTH) -> dict[str, torch.Tensor]:
    """A random state dict with the keys and shapes of timm's VisionTransformer."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=0.2):
        return torch.randn(*shape, generator=gen) * scale

    tokens = (SIZE // PATCH) ** 2 + 1
    state = {
        "cls_token": rand(1, 1, width),
        "pos_embed": rand(1, tokens, width),
        "patch_embed.proj.weight": rand(width, 3, PATCH, PATCH, scale=0.05),
        "patch_embed.proj.bias": rand(width),
        "norm.weight": 1 + rand(width),
        "norm.bias": rand(width),
        "head.weight": rand(num_classes, width),
        "head.bias": rand(num_classes),
    }
    for i in range(DEPTH):
        b = f"blocks.{i}."
        state |= {
            b + "norm1.weight": 1 + rand(width),
            b + "norm1.bias": rand(width),
            b + "attn.qkv.weight": rand(3 * width, width),
            b + "attn.qkv.bias": rand(3 * width),
            b + "attn.proj.weight": rand(width, width),
            b + "attn.proj.bias": rand(width),
            b + "norm2.weight": 1 + rand(width),
            b + "norm2.bias": rand(width),
            b + "mlp.fc1.weight": rand(4 * width, width),
            b + "mlp.fc1.bias": rand(4 * width),
            b + "mlp.fc2.weight": rand(width, 4 * width),
            b + "mlp.fc2.bias": rand(width),
        }
    return state


def timm_forward(state: dict[str, torch.Tensor], x: torch.Tensor, heads: int) -> torch.Tensor:
    """timm's VisionTransformer forward (class token, pre-norm blocks, eps 1e-6), written out."""
    width = state["cls_token"].shape[-1]
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    patch = state["patch_embed.proj.weight"].shape[-1]

    def norm(t, name):
        return F.layer_norm(t, (width,), state[name + ".weight"], state[name + ".bias"], 1e-6)

    def linear(t, name):
        return F.linear(t, state[name + ".weight"], state[name + ".bias"])

    x = F.conv2d(x, state["patch_embed.proj.weight"], state["patch_embed.proj.bias"], stride=patch)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([state["cls_token"].expand(len(x), -1, -1), x], dim=1) + state["pos_embed"]
    for i in range(depth):
        b = f"blocks.{i}."
        h = norm(x, b + "norm1")
        n, tokens, _ = h.shape
        qkv = linear(h, b + "attn.qkv").reshape(n, tokens, 3, heads, width // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1) / math.sqrt(width // heads)).softmax(dim=-1)
        h = (attn @ v).transpose(1, 2).reshape(n, tokens, width)
        x = x + linear(h, b + "attn.proj")
        x = x + linear(F.gelu(linear(norm(x, b + "norm2"), b + "mlp.fc1")), b + "mlp.fc2")
    return linear(norm(x, "norm")[:, 0], "head")


def pixels(n: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def save_release(path, state, **extra):
    torch.save({"model_state_dict": state, "epoch": 9, "best_acc": 0.93, **extra}, path)
    return path


def test_a_released_object_checkpoint_gives_timms_logits(tmp_path):
    state = timm_state(len(OBJECTS_20))
    ckpt = save_release(tmp_path / "object.pth", state)
    info = import_release(ckpt, "object", tmp_path / "run", heads=HEADS)
    assert info.classes == list(OBJECTS_20) and info.order == "release-20"
    assert info.image_size == SIZE and len(info.source["sha256"]) == 64
    clf = load_classifier(tmp_path / "run", device="cpu")
    assert clf.model.config.layer_norm_eps == 1e-6 and clf.model.config.num_attention_heads == HEADS
    x = pixels()
    with torch.no_grad():
        expected = timm_forward(state, x, HEADS)
    torch.testing.assert_close(clf.logits(x), expected, rtol=1e-4, atol=1e-4)
    assert clf.model.config.id2label[4] == "Cats"


@pytest.mark.parametrize(
    ("num", "styles", "order", "names"),
    [
        (61, None, "release-61", STYLES_61),
        (51, None, "release-51", STYLES_51),
        (61, 60, "release-61", STYLES_61),
    ],
)
def test_style_heads_take_the_release_orders(tmp_path, num, styles, order, names):
    ckpt = save_release(tmp_path / "style.pth", timm_state(num))
    info = import_release(ckpt, "style", tmp_path / "run", styles=styles, heads=HEADS)
    assert info.order == order and info.classes == list(names)
    assert load_classifier(tmp_path / "run", device="cpu").classes[47 if num == 61 else 38] == (
        "Seed_Images"
    )


def test_our_weights_go_to_timm_and_back(tmp_path):
    torch.manual_seed(0)
    ours = ViTForImageClassification(tiny_config(5, SIZE)).eval()
    layout = layout_of(ours.state_dict())
    theirs = vit_to_timm(ours.state_dict(), layout)
    assert "blocks.3.attn.qkv.weight" in theirs and "head.weight" in theirs
    back = timm_to_vit(theirs, layout)
    assert back.keys() == ours.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in ours.state_dict().items())
    x = pixels()
    with torch.no_grad():
        torch.testing.assert_close(
            timm_forward(theirs, x, 4), ours(pixel_values=x).logits, rtol=1e-4, atol=1e-4
        )
        loaded = load_release_model(theirs, heads=4).eval()
        torch.testing.assert_close(loaded(pixel_values=x).logits, ours(pixel_values=x).logits)


def test_dataparallel_prefix_and_plain_state_dicts(tmp_path):
    state = timm_state(20)
    torch.save({"model_state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "a")
    torch.save(state, tmp_path / "b")
    for name in "ab":
        read = read_release_checkpoint(tmp_path / name)
        assert read.keys() == state.keys()


class Payload:
    """Unpickling this would create a file: weights-only loading must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_checkpoints_are_read_without_unpickling_code(tmp_path):
    marker = tmp_path / "unpickled"
    ckpt = save_release(tmp_path / "evil.pth", timm_state(20), extra=Payload(marker))
    refused = "evil.pth: not a checkpoint of tensors.*Unsupported global: GLOBAL io.open"
    with pytest.raises(ValueError, match=refused):
        read_release_checkpoint(ckpt)
    assert not marker.exists()


def test_bad_checkpoints_fail_with_the_file_and_reason(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        read_release_checkpoint(tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        read_release_checkpoint(tmp_path / "missing.pth")
    ckpt = save_release(tmp_path / "s61.pth", timm_state(61))
    with pytest.raises(ValueError, match="s61.pth: .*51"):
        import_release(ckpt, "style", tmp_path / "r", styles=50, heads=HEADS)
    with pytest.raises(ValueError, match="s61.pth: .*61 classes"):
        import_release(ckpt, "object", tmp_path / "r", heads=HEADS)
    odd = timm_state(20) | {"blocks.0.ls1.gamma": torch.ones(WIDTH)}
    ckpt = save_release(tmp_path / "ls.pth", odd)
    with pytest.raises(ValueError, match="ls.pth: .*blocks.0.ls1.gamma"):
        import_release(ckpt, "object", tmp_path / "r", heads=HEADS)
    torch.save({"optimizer": {}}, tmp_path / "nostate.pth")
    with pytest.raises(ValueError, match="nostate.pth: no state dict"):
        read_release_checkpoint(tmp_path / "nostate.pth")


def test_the_release_vit_large_shapes_give_its_config():
    meta = {
        k: torch.empty(s, device="meta")
        for k, s in {
            "cls_token": (1, 1, 1024),
            "pos_embed": (1, 197, 1024),
            "patch_embed.proj.weight": (1024, 3, 16, 16),
            "blocks.23.norm1.weight": (1024,),
            "blocks.0.mlp.fc1.weight": (4096, 1024),
            "blocks.0.attn.qkv.bias": (3072,),
            "head.weight": (51, 1024),
        }.items()
    }
    config = timm_config(meta)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (
        1024,
        24,
        16,
    )
    assert (config.image_size, config.patch_size, config.intermediate_size) == (224, 16, 4096)
    assert config.num_labels == 51 and config.qkv_bias and config.layer_norm_eps == 1e-6


def test_import_release_command(tmp_path):
    ckpt = save_release(tmp_path / "style51.pth", timm_state(51, width=128))
    result = CliRunner().invoke(
        main, ["import-release", str(ckpt), "--task", "style", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    assert "51-way style classifier (release-51 order), 32 px" in result.output
    clf = load_classifier(tmp_path / "run", device="cpu")
    assert clf.model.config.num_attention_heads == 2  # 128 channels / 64 per head
    result = CliRunner().invoke(
        main, ["import-release", str(ckpt), "--task", "style", "--styles", "60", "--out", "x"]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "style51.pth" in result.output
