"""The generate stage: a text-to-image model's answer set, with ``diffusers``.

Every theme x object x seed is generated from its prompt (the canonical caption by default) with
DDIM, 100 steps, guidance 9, at 512 px, as the benchmark does; all of it can be changed. Each
image's noise comes from its own CPU generator seeded with the answer's seed, so an image is the
same alone or in a batch, on any rank. Images are written under a temporary name and renamed: a
rerun skips those that exist, and ``--num-shards``/``--shard-index`` (or ``WORLD_SIZE``/``RANK``)
split the work into disjoint shares. ``generate.json`` records the model and the settings; a
rerun with other settings into the same folder is refused, so one answer set never mixes two.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from canvas_data import __version__
from canvas_data.atomic import PARTIAL, leftover, write_bytes, write_json
from canvas_data.errors import reading
from canvas_data.metrics.answers import SEEDS, THEMES, Answer, plan_answers, prompt_for
from canvas_data.taxonomy import OBJECTS_20
from canvas_data.work_share import shard_of_work

SETTINGS_FILE = "generate.json"
# What must agree for two runs to write into one answer set.
SAME_IN_ONE_SET = (
    "model", "model_revision", "model_weights_sha256", "unet", "unet_weights_sha256",
    "scheduler", "steps", "guidance_scale", "resolution", "prompt", "negative_prompt",
    "per_theme_folders",
)  # fmt: skip
UNET_FILES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


@dataclass(frozen=True)
class GenerateSettings:
    """How answers are generated. ``prompt``: a template name or string (see ``prompt_for``)."""

    model: str
    revision: str | None = None
    unet: str | None = None  # a UNet folder or state-dict file that replaces the model's
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | str = "auto"  # images per call, or "auto" (see ``sampling``)
    steps: int = 100
    guidance_scale: float = 9.0
    resolution: int = 512
    scheduler: str = "DDIMScheduler"
    prompt: str | None = None
    negative_prompt: str | None = None
    jpeg_quality: int = 95
    safety_checker: bool = False
    per_theme_folders: bool = False
    compile: bool = False  # torch.compile the UNet, kept only where it paints the same images

    def check(self) -> None:
        if self.batch_size != "auto" and not (
            isinstance(self.batch_size, int) and self.batch_size >= 1
        ):
            raise ValueError(f"batch size must be a positive number or auto, got {self.batch_size}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.resolution < 8 or self.resolution % 8:
            raise ValueError(f"resolution must be a multiple of 8, got {self.resolution}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {self.jpeg_quality}")


@dataclass
class GenerateReport:
    """What a generate run did."""

    planned: int = 0
    written: int = 0
    already_done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0  # the whole run
    load_seconds: float = 0.0  # of which loading the model

    def summary(self) -> str:
        busy = self.seconds - self.load_seconds
        rate = self.written / busy if busy > 0 else 0.0
        return (
            f"generated {self.written} images ({rate:.2f}/s after {self.load_seconds:.1f} s of "
            f"loading), {self.already_done} already done, {len(self.failed)} failed, of "
            f"{self.planned} in this share"
        )


def _load_unet(spec: str, base: Any, dtype: Any) -> tuple[Any, str | None]:
    """A UNet from a diffusers folder, or ``base`` with a state-dict file's weights loaded."""
    import torch
    from diffusers import UNet2DConditionModel

    from canvas_data.stylizers.diffusers_load import loaded_weight_files, weights_digest
    from canvas_data.workspace import sha256_file

    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"UNet folder {path} has no config.json")
        try:
            unet = UNet2DConditionModel.from_pretrained(path, torch_dtype=dtype)
        except (OSError, ValueError, RuntimeError) as err:
            raise ValueError(f"cannot load the UNet in {path}: {_first_line(err)}") from None
        return unet, weights_digest(loaded_weight_files(path), path)
    if not path.is_file():
        raise FileNotFoundError(f"UNet {path}: no such folder or file")
    if path.suffix not in UNET_FILES:
        raise ValueError(f"UNet {path}: not a weight file ({', '.join(UNET_FILES)})")
    with reading(path, "a UNet state dict"):
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model_state_dict", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    try:
        base.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(
            f"UNet {path}: its keys do not match the model's diffusers UNet "
            f"({_first_line(err)}); convert a CompVis/LDM checkpoint to diffusers first"
        ) from None
    return base.to(dtype), sha256_file(path)


def _first_line(err: Exception) -> str:
    return next((line.strip() for line in str(err).splitlines() if line.strip()), repr(err))


@dataclass
class TextToImage:
    """A loaded text-to-image pipeline and what identifies its weights."""

    pipe: Any
    device: Any
    dtype: Any
    record: dict[str, Any]


def load_text_to_image(s: GenerateSettings) -> TextToImage:
    """Load ``s.model`` (a folder or a Hub id) for text-to-image, with ``s.unet`` if given."""
    from canvas_data.stylizers.diffusers_load import (
        after_download,
        fast_kernels,
        import_diffusers,
        load_failure,
        resolve_device,
        resolve_dtype,
        resolve_source,
        scheduler_class,
    )

    diffusers = import_diffusers()
    device = resolve_device(s.device)
    dtype = resolve_dtype(s.dtype, device)
    source = resolve_source(s.model, s.revision, marker="model_index.json")
    new_scheduler = scheduler_class(s.scheduler)
    kwargs: dict[str, Any] = {"torch_dtype": dtype}
    if source.location == source.name and not Path(s.model).expanduser().is_dir():
        kwargs["revision"] = s.revision
    try:
        pipe = diffusers.AutoPipelineForText2Image.from_pretrained(source.location, **kwargs)
    except (OSError, ValueError, RuntimeError) as err:
        raise load_failure("model", source, err) from None
    source = after_download(source, "model_index.json")
    unet_sha = None
    if s.unet:
        pipe.unet, unet_sha = _load_unet(s.unet, pipe.unet, dtype)
    pipe.scheduler = new_scheduler.from_config(pipe.scheduler.config)
    if not s.safety_checker and getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    attention = fast_kernels(pipe, device)
    record = {
        "model": source.name,
        "model_revision": source.revision,
        "model_weights_sha256": source.sha256,
        "unet": s.unet,
        "unet_weights_sha256": unet_sha,
        "pipeline": type(pipe).__name__,
        "scheduler": type(pipe.scheduler).__name__,
        "safety_checker": getattr(pipe, "safety_checker", None) is not None,
        "attention": attention,
    }
    return TextToImage(pipe, device, dtype, record)


def _settings_record(s: GenerateSettings, loaded: TextToImage) -> dict[str, Any]:
    import diffusers
    import torch

    record = {
        **asdict(s),
        **loaded.record,
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "noise": "per image: torch.Generator('cpu').manual_seed(seed)",
        "toolkit_version": __version__,
        "diffusers_version": diffusers.__version__,
        "torch_version": torch.__version__,
    }
    for key in ("device", "batch_size", "revision"):
        record.pop(key)
    return record


def _claim_folder(out: Path, record: dict[str, Any]) -> None:
    """Write ``generate.json``, or check that the one there describes the same generation."""
    path = out / SETTINGS_FILE
    if path.is_file():
        import json

        try:
            before = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        differ = [k for k in SAME_IN_ONE_SET if before.get(k) != record.get(k)]
        if differ:
            changes = ", ".join(f"{k}: {before.get(k)!r} -> {record.get(k)!r}" for k in differ)
            raise ValueError(
                f"{out} holds answers generated otherwise ({changes}); use another --out"
            )
        return
    write_json(path, record)


def _remove_partials(out: Path, paths: Sequence[Path]) -> None:
    """Delete leftovers of killed writes of ``paths`` only (other ranks may be writing theirs),
    and only those whose writer is gone."""
    for path in paths:
        for tmp in path.parent.glob(f".{path.name}{PARTIAL}*"):
            if leftover(tmp):
                tmp.unlink(missing_ok=True)


def generate_answers(
    out: Path,
    settings: GenerateSettings,
    *,
    themes: Sequence[str] = THEMES,
    objects: Sequence[str] = OBJECTS_20,
    seeds: Sequence[int] = SEEDS,
    fine: Sequence[Answer] = (),
    num_shards: int = 1,
    shard_index: int = 0,
    progress: bool = True,
) -> GenerateReport:
    """Generate this share of the answer set into ``out``, skipping images that exist.

    ``fine``: finer-scale images to add (``answers.plan_fine_answers``: more seeds of the cell of
    a combination target), generated like the others."""
    settings.check()
    started = time.perf_counter()
    out = Path(out)
    plan = [*plan_answers(themes, objects, seeds), *fine]
    mine = shard_of_work(plan, num_shards, shard_index)
    layout = settings.per_theme_folders
    _remove_partials(out, [a.path(out, layout) for a in mine])
    todo = [a for a in mine if not a.path(out, layout).is_file()]
    report = GenerateReport(planned=len(mine), already_done=len(mine) - len(todo))
    prompts = {a: prompt_for(a, settings.prompt) for a in mine}  # bad templates fail early
    if not todo:
        report.seconds = time.perf_counter() - started
        return report
    loaded = load_text_to_image(settings)
    report.load_seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    _claim_folder(out, _settings_record(settings, loaded))
    _sample_all(loaded, settings, todo, prompts, out, report, progress)
    report.seconds = time.perf_counter() - started
    return report


def _sample_all(loaded, s: GenerateSettings, todo, prompts, out: Path, report, progress) -> None:
    """Every answer of ``todo`` sampled in batches (see ``sampling``), decoded and written on the
    writer thread; failures are recorded per answer in ``report``."""
    import torch

    from canvas_data.metrics import sampling

    pipe, layout = loaded.pipe, s.per_theme_folders
    size = sampling.first_batch_size(s.batch_size, loaded.device)
    auto = s.batch_size == "auto" and loaded.device.type == "cuda"
    embeds = sampling.PromptEmbeddings(pipe, loaded.device, s.guidance_scale, s.negative_prompt)
    latent = sampling.decodes_latents(pipe)
    compiled = sampling.compile_unet(pipe) if s.compile else None

    def call(batch: list[Answer]) -> Any:
        kwargs = {
            **embeds([prompts[a] for a in batch]), "height": s.resolution, "width": s.resolution,
            "num_inference_steps": s.steps, "guidance_scale": s.guidance_scale,
        }  # fmt: skip
        return sampling.sample(pipe, kwargs, [a.seed for a in batch], latent)

    def images_of(result: Any) -> list:
        """A pipeline result as images (decoded here), or a list of images/errors as it is."""
        return result if isinstance(result, list) else sampling.to_images(pipe, result, latent)

    def write(batch: list[Answer], result: Any) -> list[tuple[Answer, Exception | None]]:
        done: list[tuple[Answer, Exception | None]] = []
        for answer, image in zip(batch, images_of(result), strict=True):
            if isinstance(image, Exception):
                done.append((answer, image))
                continue
            write_bytes(answer.path(out, layout), sampling.jpeg_bytes(image, s.jpeg_quality))
            done.append((answer, None))
        return done

    bar = tqdm(total=len(todo), desc="generate", unit="img", disable=not progress)

    def record(done: list[tuple[Answer, Exception | None]]) -> None:
        for answer, err in done:
            if err is None:
                report.written += 1
            else:
                report.failed.append((answer.file_name, f"{type(err).__name__}: {err}"))
        bar.update(len(done))

    with sampling.Writer() as writer:
        start = 0
        while start < len(todo):
            batch = todo[start : start + size]
            try:
                result = _generate(call, images_of, batch, oom_raises=auto and size > 1)
            except torch.OutOfMemoryError:
                size //= 2
                torch.cuda.empty_cache()
                continue
            if compiled is not None and not compiled.checked:

                def eager(b: list[Answer] = batch) -> list:
                    return images_of(_generate(call, images_of, b, oom_raises=False))

                result = sampling.check_compiled(pipe, compiled, eager, images_of(result))
            for done in writer.submit(write, batch, result):
                record(done)
            start += len(batch)
        for done in writer.drain():
            record(done)
    bar.close()


def _generate(call, images_of, batch: list[Answer], *, oom_raises: bool) -> Any:
    """``call(batch)``'s result; if the call fails, each answer alone (one failure spares the
    rest): then a list of an image or the exception per answer. Out of memory is raised when
    ``oom_raises`` (the caller tries a smaller batch)."""
    import torch

    try:
        return call(batch)
    except torch.OutOfMemoryError as e:
        if oom_raises:
            raise
        err: Exception = e
    except Exception as e:  # reported per answer by the caller
        err = e
    if len(batch) == 1:
        return [err]
    out: list = []
    for answer in batch:
        try:
            out += images_of(call([answer]))
        except Exception as e:  # reported by the caller
            out.append(e)
    return out
