"""Random-weight Stable Diffusion img2img pipelines, saved as local folders, without any download.

``tiny`` and ``tiny-xl`` are a few channels wide (32 px images, seconds on a CPU) for tests;
``sd15`` and ``sdxl`` have the real SD 1.5 and SDXL architectures (the configs below are those of
the published checkpoints) for speed measurements. The tokenizer is a byte-level CLIP tokenizer
with no merges, written from scratch: every prompt tokenizes, nothing is fetched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

LAYOUTS = ("tiny", "tiny-xl", "sd15", "sdxl")
XL_LAYOUTS = ("tiny-xl", "sdxl")

_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}
_CLIP_L = {
    "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
    "num_hidden_layers": 12, "projection_dim": 768, "hidden_act": "quick_gelu",
}  # fmt: skip
_CLIP_BIGG = {
    "hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 20,
    "num_hidden_layers": 32, "projection_dim": 1280, "hidden_act": "gelu",
}  # fmt: skip
_TINY_CLIP = {
    "hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
    "num_hidden_layers": 2, "projection_dim": 32, "hidden_act": "gelu",
}  # fmt: skip
_VAE = {
    "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2,
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
}  # fmt: skip
_TINY_VAE = {
    "block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 8,
    "down_block_types": ["DownEncoderBlock2D"] * 2, "up_block_types": ["UpDecoderBlock2D"] * 2,
}  # fmt: skip

CONFIGS: dict[str, dict[str, Any]] = {
    "sd15": {
        "unet": {
            "block_out_channels": [320, 640, 1280, 1280],
            "layers_per_block": 2,
            "attention_head_dim": 8,
            "cross_attention_dim": 768,
            "sample_size": 64,
            "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
        },
        "vae": {**_VAE, "sample_size": 512, "scaling_factor": 0.18215},
        "text_encoder": _CLIP_L,
    },
    "sdxl": {
        "unet": {
            "block_out_channels": [320, 640, 1280],
            "layers_per_block": 2,
            "attention_head_dim": [5, 10, 20],
            "transformer_layers_per_block": [1, 2, 10],
            "cross_attention_dim": 2048,
            "sample_size": 128,
            "use_linear_projection": True,
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": 256,
            "projection_class_embeddings_input_dim": 2816,
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        },
        "vae": {**_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
        "text_encoder": _CLIP_L,
        "text_encoder_2": _CLIP_BIGG,
    },
    "tiny": {
        "unet": {
            "block_out_channels": [16, 32],
            "layers_per_block": 1,
            "attention_head_dim": 4,
            "cross_attention_dim": 32,
            "sample_size": 16,
            "norm_num_groups": 8,
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
        },
        "vae": {**_TINY_VAE, "sample_size": 32},
        "text_encoder": _TINY_CLIP,
    },
    "tiny-xl": {
        "unet": {
            "block_out_channels": [16, 32],
            "layers_per_block": 1,
            "attention_head_dim": [2, 4],
            "transformer_layers_per_block": [1, 2],
            "cross_attention_dim": 64,
            "sample_size": 16,
            "norm_num_groups": 8,
            "use_linear_projection": True,
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": 8,
            "projection_class_embeddings_input_dim": 80,  # 32 pooled + 6 x 8 time ids
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
        },
        "vae": {**_TINY_VAE, "sample_size": 32, "force_upcast": False},
        "text_encoder": _TINY_CLIP,
        "text_encoder_2": _TINY_CLIP,
    },
}


def _byte_chars() -> list[str]:
    """The 256 printable stand-ins of byte-level BPE (GPT-2's byte-to-unicode table)."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = iter(range(256, 512))
    return [chr(b if b in keep else next(extra)) for b in range(256)]


def write_tokenizer(folder: Path) -> Path:
    """A CLIP tokenizer over single bytes (514 tokens, no merges), saved in ``folder``."""
    from transformers import CLIPTokenizer

    chars = _byte_chars()
    tokens = [*chars, *(c + "</w>" for c in chars), "<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    vocab.write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    merges.write_text("#version: 0.2\n")
    CLIPTokenizer(str(vocab), str(merges), model_max_length=77).save_pretrained(folder)
    return folder


def _text_encoder(spec: dict[str, Any], with_projection: bool):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        **spec, vocab_size=49408, max_position_embeddings=77, bos_token_id=0, eos_token_id=2
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def build_pipeline(
    layout: str,
    folder: str | Path,
    *,
    seed: int = 0,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Make a random-weight img2img pipeline of ``layout`` and ``save_pretrained`` it to ``folder``.

    Weights are drawn from ``seed`` on ``device`` (a GPU makes real-size layouts in seconds) and
    saved in ``dtype``. Returns ``folder``.
    """
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        PNDMScheduler,
        StableDiffusionImg2ImgPipeline,
        StableDiffusionXLImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTokenizer

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    cfg, folder = CONFIGS[layout], Path(folder)
    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNet2DConditionModel(**cfg["unet"])
        vae = AutoencoderKL(latent_channels=4, **cfg["vae"])
        text_encoder = _text_encoder(cfg["text_encoder"], with_projection=False)
        text_encoder_2 = (
            _text_encoder(cfg["text_encoder_2"], with_projection=True)
            if "text_encoder_2" in cfg
            else None
        )
    tokenizer = CLIPTokenizer.from_pretrained(write_tokenizer(folder / "tokenizer"))
    common = {"vae": vae, "unet": unet, "text_encoder": text_encoder, "tokenizer": tokenizer}
    if text_encoder_2 is None:
        scheduler = PNDMScheduler(**_BETAS, skip_prk_steps=True, steps_offset=1)
        pipe = StableDiffusionImg2ImgPipeline(
            **common, scheduler=scheduler, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False,
        )  # fmt: skip
    else:
        scheduler = EulerDiscreteScheduler(**_BETAS, steps_offset=1, timestep_spacing="leading")
        pipe = StableDiffusionXLImg2ImgPipeline(
            **common, text_encoder_2=text_encoder_2, tokenizer_2=tokenizer, scheduler=scheduler,
            requires_aesthetics_score=False,
        )  # fmt: skip
    (pipe if dtype == torch.float32 else pipe.to(dtype=dtype)).save_pretrained(folder)
    return folder


def build_controlnet(pipeline: str | Path, folder: str | Path, *, seed: int = 0) -> Path:
    """A random-weight ControlNet shaped for the UNet of the pipeline folder ``pipeline``."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(Path(pipeline) / "unet")
    vae = json.loads((Path(pipeline) / "vae" / "config.json").read_text())
    n_down = len(vae["down_block_types"])
    torch.manual_seed(seed)
    embed = (16, 32, 96, 256)[:n_down]  # the hint is downsampled like the VAE does the image
    model = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=embed)
    torch.manual_seed(seed)
    for p in model.parameters():  # from_unet zero-inits the outputs: make them count
        p.data.normal_(0, 0.02)
    model.save_pretrained(folder)
    return Path(folder)


def build_ip_adapter(
    pipeline: str | Path, folder: str | Path, *, seed: int = 0
) -> tuple[Path, str]:
    """A random-weight IP-Adapter (and CLIP image encoder) for the UNet of ``pipeline``.

    Laid out like ``h94/IP-Adapter``: ``folder/models/ip-adapter.safetensors`` beside
    ``folder/models/image_encoder``. Returns ``(folder, "models/ip-adapter.safetensors")``.
    """
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    unet = UNet2DConditionModel.from_pretrained(Path(pipeline) / "unet")
    cross, blocks = unet.config.cross_attention_dim, unet.config.block_out_channels
    torch.manual_seed(seed)
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        image_size=32, patch_size=4, projection_dim=32,
    )  # fmt: skip
    models = Path(folder) / "models"
    CLIPVisionModelWithProjection(vision).save_pretrained(models / "image_encoder")
    tensors = {
        "image_proj.proj.weight": torch.randn(cross * 4, 32) * 0.02,
        "image_proj.proj.bias": torch.zeros(cross * 4),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    cross_attention = [n for n in unet.attn_processors if not n.endswith("attn1.processor")]
    for n, name in enumerate(cross_attention):  # numbered 1, 3, 5, ... as in the released files
        part, block = name.split(".")[:2]
        width = blocks[-1] if part == "mid_block" else blocks[int(block)]
        width = blocks[::-1][int(block)] if part == "up_blocks" else width
        for kv in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{2 * n + 1}.{kv}.weight"] = torch.randn(width, cross) * 0.02
    save_file(tensors, models / "ip-adapter.safetensors")
    return Path(folder), "models/ip-adapter.safetensors"
