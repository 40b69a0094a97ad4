"""The answer set's sampling loop: batches of answers through a text-to-image pipeline, with the
text encoder run once per prompt and decoding and JPEG writing on a second thread.

* Prompt embeddings are cached: each distinct prompt is encoded once (alone, so an image does not
  depend on which prompts share its batch), the negative (or empty) prompt once for the run.
  Stable Diffusion 1.x/2.x and SDXL pipelines; any other pipeline gets its prompts as text.
* Each image draws its noise from ``torch.Generator("cpu").manual_seed(seed)``: the same image
  alone or in a batch (within floating-point tolerance of batched kernels).
* The UNet's output latents go to one writer thread (``concurrent.futures``), at most ``DEPTH``
  batches waiting, which decodes them with the VAE (as the pipeline does, safety checker
  included), encodes JPEG and writes each file atomically; an error there (a full disk) stops the
  run at the next batch.
* ``batch_size="auto"``: ``AUTO_BATCH["cuda"]`` images per call, halved after each out-of-memory
  error down to one; ``AUTO_BATCH["cpu"]`` elsewhere.
"""

from __future__ import annotations

import io
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

DEPTH = 2  # decoded-and-written batches that may wait behind the sampler
AUTO_BATCH = {"cuda": 32, "cpu": 4}
DECODE_CHUNK = 8  # latents per VAE call: bounds the decoder's memory beside the sampler's
COMPILE_TOLERANCE = 2  # max |pixel difference| (0..255) for a compiled UNet to be kept


def first_batch_size(batch_size: int | str, device: torch.device) -> int:
    """Images per call: the number given, or for ``"auto"`` the start of the search."""
    if batch_size == "auto":
        return AUTO_BATCH["cuda" if device.type == "cuda" else "cpu"]
    return int(batch_size)


def _kind(pipe: Any) -> str | None:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if isinstance(pipe, StableDiffusionXLPipeline):
        return "xl"
    if isinstance(pipe, StableDiffusionPipeline):
        return "sd"
    return None


class PromptEmbeddings:
    """Text-encoder outputs per prompt, computed on first use and kept for the run."""

    def __init__(
        self, pipe: Any, device: torch.device, guidance_scale: float, negative: str | None
    ):
        self.pipe, self.device, self.negative = pipe, device, negative
        self.kind = _kind(pipe)
        cond = getattr(pipe.unet.config, "time_cond_proj_dim", None)
        self.guided = guidance_scale > 1 and cond is None
        self._cache: dict[str, tuple[torch.Tensor, ...]] = {}
        self._negative: tuple[torch.Tensor, ...] | None = None

    def _encode(self, prompt: str) -> tuple[torch.Tensor, ...]:
        kwargs: dict[str, Any] = {
            "prompt": prompt, "device": self.device, "num_images_per_prompt": 1,
            "do_classifier_free_guidance": self.guided, "negative_prompt": self.negative,
        }  # fmt: skip
        if self._negative is not None:  # the negative prompt is encoded only the first time
            kwargs["negative_prompt_embeds"] = self._negative[0]
            if self.kind == "xl":
                kwargs["negative_pooled_prompt_embeds"] = self._negative[1]
        with torch.inference_mode():
            out = self.pipe.encode_prompt(**kwargs)
        if self.kind == "xl":
            embeds, negative, pooled, negative_pooled = out
            self._negative = (negative, negative_pooled)
            return embeds, pooled
        embeds, negative = out
        self._negative = (negative,)
        return (embeds,)

    def __call__(self, prompts: Sequence[str]) -> dict[str, Any]:
        """Pipeline keyword arguments for one batch of ``prompts``."""
        if self.kind is None:
            return {"prompt": list(prompts), "negative_prompt": self._negatives(len(prompts))}
        for p in prompts:
            if p not in self._cache:
                self._cache[p] = self._encode(p)
        n = len(prompts)
        out = {"prompt_embeds": torch.cat([self._cache[p][0] for p in prompts])}
        if self.kind == "xl":
            out["pooled_prompt_embeds"] = torch.cat([self._cache[p][1] for p in prompts])
        if self.guided and self._negative is not None:
            out["negative_prompt_embeds"] = self._negative[0].expand(
                n, *self._negative[0].shape[1:]
            )
            if self.kind == "xl":
                neg = self._negative[1]
                out["negative_pooled_prompt_embeds"] = neg.expand(n, *neg.shape[1:])
        return out

    def _negatives(self, n: int) -> list[str] | None:
        return [self.negative] * n if self.negative else None


def decodes_latents(pipe: Any) -> bool:
    """Whether the writer thread decodes this pipeline's latents (SD 1.x/2.x); SDXL pipelines
    decode themselves (their VAE may be upcast to float32 for it)."""
    return _kind(pipe) == "sd"


def sample(pipe: Any, kwargs: dict[str, Any], seeds: Sequence[int], latent: bool) -> Any:
    """One pipeline call; ``seeds[i]`` seeds image ``i``. Latents (``latent``) or PIL images."""
    generator = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    with torch.inference_mode():
        result = pipe(**kwargs, generator=generator, output_type="latent" if latent else "pil")
    return result


def to_images(pipe: Any, result: Any, latent: bool) -> list[Any]:
    """RGB images of a pipeline result, or a ``ValueError`` for one its safety checker flagged;
    latents are decoded as the pipeline's own ``__call__`` does."""
    if latent:
        with torch.inference_mode():
            latents = result.images
            scaled = latents / pipe.vae.config.scaling_factor
            decoded = torch.cat([
                pipe.vae.decode(part, return_dict=False)[0]
                for part in scaled.split(DECODE_CHUNK)
            ])  # fmt: skip
            decoded, flagged = pipe.run_safety_checker(decoded, latents.device, latents.dtype)
            keep = [True] * len(decoded) if flagged is None else [not f for f in flagged]
            images = pipe.image_processor.postprocess(
                decoded, output_type="pil", do_denormalize=keep
            )
    else:
        images, flagged = result.images, getattr(result, "nsfw_content_detected", None)
    flagged = flagged or [False] * len(images)
    return [
        ValueError("flagged by the checkpoint's safety checker (its output is blank)")
        if bad
        else image.convert("RGB")
        for image, bad in zip(images, flagged, strict=True)
    ]


def jpeg_bytes(image: Any, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class Writer:
    """One thread that runs the jobs given to ``submit`` in order; ``submit`` blocks while more
    than ``depth`` wait, and returns the results of those finished, raising a job's error."""

    def __init__(self, depth: int = DEPTH) -> None:
        self.depth = depth
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="answer-writer")
        self._pending: deque[Future] = deque()

    def submit(self, job: Callable[..., Any], *args: Any) -> Iterator[Any]:
        self._pending.append(self._pool.submit(job, *args))
        while len(self._pending) > self.depth:
            yield self._pending.popleft().result()

    def drain(self) -> Iterator[Any]:
        while self._pending:
            yield self._pending.popleft().result()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Compiled:
    """A ``torch.compile``d UNet kept only if it paints what the eager one does."""

    eager: Any
    checked: bool = False


def compile_unet(pipe: Any) -> Compiled:
    """Replace ``pipe.unet`` by its ``torch.compile``d self; ``check_compiled`` decides later."""
    eager = pipe.unet
    pipe.unet = torch.compile(eager)
    return Compiled(eager)


def check_compiled(
    pipe: Any, compiled: Compiled, eager: Callable[[], list[Any]], first: list[Any]
) -> list[Any]:
    """Compare ``first`` (images made with the compiled UNet) with ``eager()`` (the same made
    with the eager UNet); keep the compiled UNet only if no pixel differs by more than
    ``COMPILE_TOLERANCE``, else go on without it (with a warning). Returns the images to keep:
    ``first``, or the eager ones."""
    import numpy as np

    compiled.checked = True
    fast = pipe.unet
    pipe.unet = compiled.eager
    slow = eager()
    same = all(
        not isinstance(a, Exception)
        and not isinstance(b, Exception)
        and int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max())
        <= COMPILE_TOLERANCE
        for a, b in zip(first, slow, strict=True)
    )
    if not same:
        warnings.warn(
            "torch.compile changed the images beyond tolerance; generating without it",
            RuntimeWarning,
            stacklevel=2,
        )
        return slow
    pipe.unet = fast
    return first
