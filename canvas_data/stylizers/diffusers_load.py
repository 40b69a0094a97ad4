"""Loading for the diffusers stylizer: where weights come from, device and dtype, the pipeline.

A model, ControlNet or IP-Adapter is a local folder or a Hub id. A Hub id already in the cache is
loaded from its cached snapshot (its commit is the revision recorded); with ``HF_HUB_OFFLINE=1``
an id that is not cached is a one-line error that says how to get it.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

_DEFAULT_WEIGHTS = re.compile(r"^(diffusion_pytorch_model|model|pytorch_model)(-\d+-of-\d+)?$")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
SCHEDULERS = (  # common choices for Stable Diffusion img2img; any diffusers scheduler class works
    "DPMSolverMultistepScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
    "UniPCMultistepScheduler", "DDIMScheduler", "PNDMScheduler", "LMSDiscreteScheduler",
)  # fmt: skip
IP_ADAPTER_WEIGHTS = {  # default weight file of h94/IP-Adapter, per model family
    False: "models/ip-adapter_sd15.safetensors",
    True: "sdxl_models/ip-adapter_sdxl.safetensors",
}


@dataclass(frozen=True)
class WeightSource:
    """One set of weights: the name given, what to load, and what identifies the exact weights."""

    name: str
    location: str
    revision: str | None = None  # the Hub commit
    sha256: str | None = None  # digest of a local folder's weight files

    def provenance(self) -> dict[str, str]:
        out = {"id": self.name}
        if self.revision:
            out["revision"] = self.revision
        if self.sha256:
            out["weights_sha256"] = self.sha256
        return out


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}


def weights_digest(paths: list[Path], root: Path) -> str:
    """sha256 over the names and contents of ``paths`` (weight files), in name order."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as f:
            while block := f.read(1 << 23):
                h.update(block)
    return h.hexdigest()


def resolve_source(
    name: str, revision: str | None = None, *, marker: str, what: str = "model"
) -> WeightSource:
    """Find ``name`` (a folder, or a Hub id whose file ``marker`` says whether it is cached)."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / marker).is_file():
            raise FileNotFoundError(f"{what} folder {name} has no {marker}")
        return _local_source(name, folder, marker)
    try:
        validate_repo_id(name)
    except HFValidationError:
        raise FileNotFoundError(f"{what} {name!r}: no such folder, and not a Hub id") from None
    cached = try_to_load_from_cache(name, marker, revision=revision)
    if isinstance(cached, str):
        snapshot = Path(cached).parents[len(Path(marker).parts) - 1]
        return WeightSource(name, str(snapshot), revision=snapshot.name)
    if hub_offline():
        raise ValueError(
            f"{what} {name!r} is not in the Hugging Face cache and HF_HUB_OFFLINE=1: download it "
            f"first (`hf download {name}`, or `huggingface-cli download {name}` with older "
            f"huggingface_hub), or pass a local folder"
        )
    return WeightSource(name, name, revision=revision)


def _local_source(name: str, folder: Path, marker: str) -> WeightSource:
    if folder.parent.name == "snapshots":  # a folder of the Hub cache: its name is the commit
        return WeightSource(name, str(folder), revision=folder.name)
    target = folder / marker
    files = [target] if target.suffix in WEIGHT_SUFFIXES else loaded_weight_files(folder)
    return WeightSource(name, str(folder), sha256=weights_digest(files, folder))


def loaded_weight_files(folder: Path) -> list[Path]:
    """The weight files ``from_pretrained`` reads from ``folder`` and its component folders.

    Per folder: the default (not fp16-variant) ``diffusion_pytorch_model`` or ``model`` files,
    sharded or not, safetensors if there are any, else ``.bin``; other checkpoints that a
    downloaded repository may hold beside them (single-file, ONNX, variants) are not hashed.
    Where none of these names is found, every weight file under ``folder`` is.
    """
    found = []
    for sub in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        for suffix in (".safetensors", ".bin"):
            hits = [
                p
                for p in sub.iterdir()
                if p.suffix == suffix and _DEFAULT_WEIGHTS.fullmatch(p.name.removesuffix(suffix))
            ]
            if hits:
                found += hits
                break
    return found or [p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES]


def after_download(source: WeightSource, marker: str) -> WeightSource:
    """The same source with its commit, once ``from_pretrained`` has downloaded a Hub id."""
    from huggingface_hub import try_to_load_from_cache

    if source.location != source.name or Path(source.name).is_dir():
        return source
    cached = try_to_load_from_cache(source.name, marker, revision=source.revision)
    if not isinstance(cached, str):
        return source
    commit = Path(cached).parents[len(Path(marker).parts) - 1].name
    return WeightSource(source.name, source.location, revision=commit)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: the GPU of this rank (``LOCAL_RANK``) if CUDA is available, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r} (try cuda, cuda:1, mps or cpu)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name} asked for, but torch sees no CUDA GPU")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name}: torch sees only {torch.cuda.device_count()} GPU(s)")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto``: float16 on a GPU, float32 elsewhere; half precision is refused on the CPU."""
    if name == "auto":
        return torch.float16 if device.type in ("cuda", "mps") else torch.float32
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; known: auto, {', '.join(DTYPES)}")
    if name == "float16" and device.type == "cpu":
        raise ValueError("float16 needs a GPU; on the CPU use --dtype float32 (or bfloat16)")
    return DTYPES[name]


def scheduler_class(name: str) -> type:
    """The diffusers scheduler class called ``name``."""
    import diffusers
    from diffusers import SchedulerMixin

    cls = getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, SchedulerMixin)):
        raise ValueError(f"unknown scheduler {name!r}; for example: {', '.join(SCHEDULERS)}")
    return cls


def import_diffusers() -> Any:
    try:
        import diffusers
    except ImportError:
        raise ValueError(
            "the diffusers backend needs diffusers, transformers and accelerate: "
            "pip install 'canvas_data[diffusers]'"
        ) from None
    # newer diffusers renamed `torch_dtype` to `dtype`; older ones know only the former
    warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    try:
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
    except ImportError:
        pass
    return diffusers


def load_failure(what: str, source: WeightSource, err: Exception) -> ValueError:
    """A one-line error for weights that would not load."""
    first = next((line.strip() for line in str(err).splitlines() if line.strip()), repr(err))
    local = Path(source.name).expanduser().is_dir()
    hint = "" if local else f"; is the download complete? (`hf download {source.name}`)"
    return ValueError(f"cannot load {what} {source.name}: {first}{hint}")


@dataclass
class Loaded:
    """A pipeline on its device, and where each of its weights came from."""

    pipe: Any
    device: torch.device
    dtype: torch.dtype
    model: WeightSource
    controlnet: WeightSource | None = None
    ip_adapter: WeightSource | None = None
    ip_adapter_weight: str | None = None


def is_xl(pipe: Any) -> bool:
    return getattr(pipe, "text_encoder_2", None) is not None


def fast_kernels(pipe: Any, device: torch.device) -> list[str]:
    """Use PyTorch's scaled-dot-product attention (``AttnProcessor2_0``) wherever a UNet, VAE or
    ControlNet of ``pipe`` still has the plain ``AttnProcessor`` (adapters' processors are kept),
    and channels-last convolutions on a GPU. Returns the attention processors' class names."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    names: set[str] = set()
    for part in ("unet", "vae", "controlnet"):
        model = getattr(pipe, part, None)
        if model is None or not hasattr(model, "attn_processors"):
            continue
        processors = model.attn_processors
        if any(type(p) is AttnProcessor for p in processors.values()):
            model.set_attn_processor(
                {k: AttnProcessor2_0() if type(p) is AttnProcessor else p
                 for k, p in processors.items()}
            )  # fmt: skip
        names |= {type(p).__name__ for p in model.attn_processors.values()}
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
    return sorted(names)


def load_pipeline(
    model: str,
    revision: str | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    scheduler: str | None = None,
    controlnet: str | None = None,
    ip_adapter: str | None = None,
    ip_adapter_weight: str | None = None,
    ip_adapter_encoder: str = "image_encoder",
) -> Loaded:
    """Load an img2img pipeline (with its ControlNet and IP-Adapter, if any) onto ``device``."""
    diffusers = import_diffusers()
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    source = resolve_source(model, revision, marker="model_index.json")
    new_scheduler = scheduler_class(scheduler) if scheduler else None
    kwargs: dict[str, Any] = {"torch_dtype": dt}
    if source.location == source.name and not Path(model).expanduser().is_dir():
        kwargs["revision"] = revision
    cn_source = None
    if controlnet:
        cn_source = resolve_source(controlnet, marker="config.json", what="ControlNet")
        try:
            kwargs["controlnet"] = diffusers.ControlNetModel.from_pretrained(
                cn_source.location, torch_dtype=dt
            )
        except (OSError, ValueError, RuntimeError) as err:
            raise load_failure("ControlNet", cn_source, err) from None
        cn_source = after_download(cn_source, "config.json")
    try:
        pipe = diffusers.AutoPipelineForImage2Image.from_pretrained(source.location, **kwargs)
    except (OSError, ValueError, RuntimeError) as err:
        raise load_failure("model", source, err) from None
    source = after_download(source, "model_index.json")
    if new_scheduler is not None:
        pipe.scheduler = new_scheduler.from_config(pipe.scheduler.config)
    ip_source = weight = None
    if ip_adapter:
        weight = ip_adapter_weight or IP_ADAPTER_WEIGHTS[is_xl(pipe)]
        ip_source = resolve_source(ip_adapter, marker=weight, what="IP-Adapter")
        sub, _, file = weight.rpartition("/")
        try:
            pipe.load_ip_adapter(
                ip_source.location, subfolder=sub, weight_name=file,
                image_encoder_folder=ip_adapter_encoder,
            )  # fmt: skip
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            raise load_failure("IP-Adapter", ip_source, err) from None
        ip_source = after_download(ip_source, weight)
    pipe.to(dev)
    pipe.set_progress_bar_config(disable=True)
    fast_kernels(pipe, dev)
    return Loaded(pipe, dev, dt, source, cn_source, ip_source, weight)
