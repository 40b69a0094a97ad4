"""The release's classifier checkpoints (timm ViT state dicts) in our classifier format.

A released file is a dict whose ``model_state_dict`` holds the keys of timm's
``VisionTransformer``: ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``,
``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*``, ``norm.*``, ``head.*``. It is read
with ``torch.load(weights_only=True)``, which unpickles tensors and plain containers only, and
converted to ``transformers``' ``ViTForImageClassification`` (the fused ``qkv`` split into query,
key and value), loaded strictly. The class names come from the release's orders.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from canvas_data.classify.checkpoint_file import checkpoint_format
from canvas_data.classify.classifier import ClassifierInfo, save_run
from canvas_data.taxonomy import OBJECTS_20, STYLES_51, STYLES_61

if TYPE_CHECKING:
    from transformers import ViTConfig, ViTForImageClassification

STATE_KEYS = ("model_state_dict", "state_dict", "model")
# The release's heads, by task and --styles: (order name, class names).
RELEASE_ORDERS = {
    ("style", 60): ("release-61", STYLES_61),
    ("style", 50): ("release-51", STYLES_51),
    ("object", None): ("release-20", OBJECTS_20),
}

# timm block parameter -> ours, for each layout of transformers' ViT (the names changed in v5).
_BLOCK = {
    "v5": {
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attn.proj": "attention.o_proj",
        "mlp.fc1": "mlp.fc1",
        "mlp.fc2": "mlp.fc2",
        "qkv": ("attention.q_proj", "attention.k_proj", "attention.v_proj"),
        "prefix": "vit.layers.{}.",
    },
    "v4": {
        "norm1": "layernorm_before",
        "norm2": "layernorm_after",
        "attn.proj": "attention.output.dense",
        "mlp.fc1": "intermediate.dense",
        "mlp.fc2": "output.dense",
        "qkv": (
            "attention.attention.query",
            "attention.attention.key",
            "attention.attention.value",
        ),
        "prefix": "vit.encoder.layer.{}.",
    },
}
_TOP = {
    "cls_token": "vit.embeddings.cls_token",
    "pos_embed": "vit.embeddings.position_embeddings",
    "patch_embed.proj.weight": "vit.embeddings.patch_embeddings.projection.weight",
    "patch_embed.proj.bias": "vit.embeddings.patch_embeddings.projection.bias",
    "norm.weight": "vit.layernorm.weight",
    "norm.bias": "vit.layernorm.bias",
    "head.weight": "classifier.weight",
    "head.bias": "classifier.bias",
}
_BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.(.+)\.(weight|bias)$")


def read_release_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The timm state dict inside a released checkpoint, read without unpickling code.

    ``FileNotFoundError`` when ``path`` is missing; ``InputError`` when it is not a regular file
    or not a ``torch.save`` file (``checkpoint_format``); ``ValueError`` naming ``path`` when its
    pickle holds more than tensors and plain containers, or no timm ViT state dict.
    """
    path = Path(path)
    checkpoint_format(path)  # what the file is not, before torch.load reads any of it
    try:
        with warnings.catch_warnings():  # torch warns of any pickle protocol but 2: not ours
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except EOFError:
        raise ValueError(f"{path}: a PyTorch checkpoint cut short (the file ends early)") from None
    except Exception as err:  # any parser's failure (pickle, zip, safetensors): the file's fault
        raise ValueError(
            f"{path}: not a checkpoint of tensors and plain containers (read with "
            f"weights_only=True): {_reason(err)}"
        ) from err
    state = data
    if isinstance(data, Mapping) and "cls_token" not in data:
        state = next((data[k] for k in STATE_KEYS if isinstance(data.get(k), Mapping)), None)
    if not isinstance(state, Mapping) or not state:
        raise ValueError(f"{path}: no state dict found (looked for {', '.join(STATE_KEYS)})")
    state = {_strip(k): v for k, v in state.items()}
    bad = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise ValueError(f"{path}: state dict entries that are not tensors: {bad[:5]}")
    if "cls_token" not in state or "pos_embed" not in state:
        raise ValueError(
            f"{path}: not a timm VisionTransformer state dict (no cls_token or pos_embed)"
        )
    return state


def _reason(err: Exception) -> str:
    """The informative line of a ``torch.load`` error (it wraps the unpickler's in advice)."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0].split(". Please use")[0] if lines else ""
    if not re.search("[A-Za-z]{2}", reason):  # a bare key or number says nothing alone
        reason = f"damaged data ({type(err).__name__} {reason})".replace(" )", ")")
    return reason


def _strip(key: str) -> str:
    """Drop the ``module.`` prefix that DataParallel adds."""
    return key[len("module.") :] if key.startswith("module.") else key


def timm_config(state: Mapping[str, torch.Tensor], heads: int | None = None) -> ViTConfig:
    """The ``ViTConfig`` of a timm ViT state dict. Heads are not in the weights: timm's standard
    ViTs use 64 channels per head (ViT-L/16: 1024 / 64 = 16), the default here."""
    from transformers import ViTConfig

    hidden = state["cls_token"].shape[-1]
    patch = state["patch_embed.proj.weight"].shape[-1]
    tokens = state["pos_embed"].shape[1] - 1
    grid = math.isqrt(tokens)
    if grid * grid != tokens:
        raise ValueError(f"pos_embed has {tokens} patch positions, not a square grid")
    layers = 1 + max(int(m[1]) for k in state if (m := _BLOCK_KEY.fullmatch(k)))
    if heads is None:
        if hidden % 64:
            raise ValueError(f"width {hidden} is not a multiple of 64: give the number of heads")
        heads = hidden // 64
    if hidden % heads:
        raise ValueError(f"width {hidden} does not split into {heads} heads")
    return ViTConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=state["blocks.0.mlp.fc1.weight"].shape[0],
        image_size=grid * patch,
        patch_size=patch,
        num_channels=state["patch_embed.proj.weight"].shape[1],
        qkv_bias="blocks.0.attn.qkv.bias" in state,
        layer_norm_eps=1e-6,  # timm's LayerNorm
        hidden_act="gelu",  # exact (erf) GELU, as timm's nn.GELU
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        num_labels=state["head.weight"].shape[0],
    )


def layout_of(keys) -> str:
    """Which parameter names the installed ``transformers`` gives its ViT (``v5`` or ``v4``)."""
    keys = set(keys)
    for name, spec in _BLOCK.items():
        if spec["prefix"].format(0) + spec["norm1"] + ".weight" in keys:
            return name
    raise ValueError("unrecognised ViTForImageClassification parameter names")


def timm_to_vit(state: Mapping[str, torch.Tensor], layout: str = "v5") -> dict[str, torch.Tensor]:
    """Rename (and split ``qkv``) a timm ViT state dict into ``ViTForImageClassification``'s."""
    spec = _BLOCK[layout]
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if key in _TOP:
            out[_TOP[key]] = value
            continue
        match = _BLOCK_KEY.fullmatch(key)
        if not match:
            unknown.append(key)
            continue
        block, name, kind = match.groups()
        prefix = spec["prefix"].format(block)
        if name == "attn.qkv":
            for part, chunk in zip(spec["qkv"], value.chunk(3, dim=0), strict=True):
                out[f"{prefix}{part}.{kind}"] = chunk.clone()
        elif name in spec:
            out[f"{prefix}{spec[name]}.{kind}"] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"timm keys with no ViTForImageClassification counterpart: {unknown[:8]}")
    return out


def vit_to_timm(state: Mapping[str, torch.Tensor], layout: str = "v5") -> dict[str, torch.Tensor]:
    """The inverse of ``timm_to_vit``: our classifier's weights under timm's names."""
    spec = _BLOCK[layout]
    top = {ours: theirs for theirs, ours in _TOP.items()}
    block_names = {v: k for k, v in spec.items() if k not in ("qkv", "prefix")}
    pattern = re.compile("^" + re.escape(spec["prefix"]).replace(r"\{\}", r"(\d+)") + "(.+)$")
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[int, torch.Tensor]] = {}
    for key, value in state.items():
        if key in top:
            out[top[key]] = value
            continue
        match = pattern.fullmatch(key)
        if not match:
            raise ValueError(f"no timm counterpart for {key}")
        block, rest = match.groups()
        name, _, kind = rest.rpartition(".")
        if name in spec["qkv"]:
            qkv.setdefault((block, kind), {})[spec["qkv"].index(name)] = value
        elif name in block_names:
            out[f"blocks.{block}.{block_names[name]}.{kind}"] = value
        else:
            raise ValueError(f"no timm counterpart for {key}")
    for (block, kind), parts in qkv.items():
        out[f"blocks.{block}.attn.qkv.{kind}"] = torch.cat([parts[i] for i in range(3)], dim=0)
    return out


def release_order(task: str, styles: int | None, num_labels: int) -> tuple[str, tuple[str, ...]]:
    """The release's class order for a head: ``--styles`` 50 or 60, or guessed from its size."""
    if task == "style" and styles is None:
        styles = {len(STYLES_61): 60, len(STYLES_51): 50}.get(num_labels)
        if styles is None:
            raise ValueError(
                f"a {num_labels}-way head is not a release style head (61 or 51 classes)"
            )
    key = (task, styles if task == "style" else None)
    if key not in RELEASE_ORDERS:
        raise ValueError(f"no release order for task {task!r} with --styles {styles}")
    order, classes = RELEASE_ORDERS[key]
    if len(classes) != num_labels:
        raise ValueError(
            f"the checkpoint's head has {num_labels} classes; the {order} order has {len(classes)}"
        )
    return order, classes


def load_release_model(
    state: Mapping[str, torch.Tensor], heads: int | None = None
) -> ViTForImageClassification:
    """A ``ViTForImageClassification`` holding a timm state dict's weights (loaded strictly)."""
    from transformers import ViTForImageClassification

    model = ViTForImageClassification(timm_config(state, heads))
    converted = timm_to_vit(state, layout_of(model.state_dict()))
    model.load_state_dict(converted, strict=True)
    return model


def import_release(
    checkpoint: Path,
    task: str,
    out: Path,
    *,
    styles: int | None = None,
    heads: int | None = None,
) -> ClassifierInfo:
    """Convert a released checkpoint into a classifier run folder ``out``."""
    checkpoint = Path(checkpoint)
    state = read_release_checkpoint(checkpoint)
    try:
        model = load_release_model(state, heads)
        order, classes = release_order(task, styles, model.config.num_labels)
    except (KeyError, RuntimeError, ValueError) as err:
        raise ValueError(f"{checkpoint}: {err}") from err
    info = ClassifierInfo(
        task=task,
        classes=list(classes),
        image_size=model.config.image_size,
        order=order,
        source={"release_checkpoint": checkpoint.name, "sha256": _sha256(checkpoint)},
    )
    save_run(model, info, out)
    return info


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
