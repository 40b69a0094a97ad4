"""The diffusers stylizer, run for real on the CPU with tiny random-weight pipelines."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from canvas_data.cli.build import main  # noqa: E402
from canvas_data.stylizers.diffusers_backend import control_image, reference_files  # noqa: E402
from canvas_data.stylizers.paint_items import is_done  # noqa: E402
from canvas_data.stylizers.random_pipelines import (  # noqa: E402
    build_controlnet,
    build_ip_adapter,
    build_pipeline,
)
from canvas_data.stylizers.registry import get_stylizer  # noqa: E402
from canvas_data.stylizers.runner import plan_items, stylize_workspace  # noqa: E402
from canvas_data.workspace import image_path, item_seed, sidecar_path  # noqa: E402

FAST = {"device": "cpu", "steps": 4, "strength": 0.5, "resolution": 32}
# A batch changes the CPU matrix kernels' summation order (by its size, the item's place in it and
# the thread count): a painting in a batch may differ from the same painted alone by rounding.
BATCH_TOLERANCE = 2  # max |pixel difference| (0..255) of the painted images; measured: 1
JPEG_TOLERANCE = 8  # the same after JPEG at quality 95, which spreads a flipped level; measured: 3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny SD and SDXL pipelines, a ControlNet and an IP-Adapter, in local folders."""
    root = tmp_path_factory.mktemp("models")
    sd = build_pipeline("tiny", root / "sd")
    return {
        "sd": sd,
        "xl": build_pipeline("tiny-xl", root / "xl"),
        "controlnet": build_controlnet(sd, root / "controlnet"),
        "ip_adapter": build_ip_adapter(sd, root / "ip-adapter")[0],
    }


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def paintings(work):
    return {
        p.relative_to(work).as_posix(): p.read_bytes()
        for p in work.rglob("*.jpg")
        if not p.relative_to(work).as_posix().startswith("Seed_Images/")
    }


def test_outputs_land_in_the_layout_with_provenance_and_a_rerun_does_nothing(
    tiny_work, tiny_recipe, models
):
    report = stylize_workspace(
        tiny_work, backend="diffusers", model=str(models["sd"]), batch_size=3, progress=False,
        **FAST,
    )  # fmt: skip
    items = plan_items(tiny_recipe, tiny_work)
    assert report.written == len(items) == 24 and not report.failed
    for item in items:
        with Image.open(image_path(tiny_work, item)) as im:
            assert im.size == (32, 32) and im.mode == "RGB"
        prov = json.loads(sidecar_path(image_path(tiny_work, item)).read_text())
        spec = tiny_recipe.style(item.style)
        assert prov["backend"] == "diffusers" and prov["model"] == str(models["sd"])
        assert len(prov["model_weights_sha256"]) == 64
        assert prov["prompt"] == spec.prompt and prov["negative_prompt"]
        assert prov["seed"] == item_seed(tiny_recipe.seed, item)
        assert (prov["strength"], prov["steps"], prov["guidance_scale"]) == (0.5, 4, 7.5)
        assert prov["scheduler"] == "DPMSolverMultistepScheduler"  # the recipe's
        assert prov["pipeline"] == "StableDiffusionImg2ImgPipeline" and prov["toolkit_version"]
    before = {p: p.stat().st_mtime_ns for p in tiny_work.rglob("*") if p.is_file()}
    again = stylize_workspace(
        tiny_work, backend="diffusers", model=str(models["sd"]), progress=False, **FAST
    )
    assert again.written == 0 and again.already_done == 24
    assert {p: p.stat().st_mtime_ns for p in tiny_work.rglob("*") if p.is_file()} == before


def pixel_difference(a, b) -> int:
    """Largest |difference| of two images' values (0..255); JPEG bytes are decoded first."""
    a, b = (Image.open(io.BytesIO(x)) if isinstance(x, bytes) else x for x in (a, b))
    return int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max())


def test_same_bytes_alone_on_two_ranks_and_close_in_a_batch(tmp_path, tiny_recipe, models):
    from conftest import fill_seed_photos

    alone, parts, batched = tmp_path / "alone", tmp_path / "parts", tmp_path / "batched"
    for work in (alone, parts, batched):
        fill_seed_photos(work, tiny_recipe)
    subset = {"styles": ["Monet", "Winter"], "objects": ["Cats"]}
    run = {"backend": "diffusers", "model": str(models["sd"]), "progress": False, **subset, **FAST}
    stylize_workspace(alone, batch_size=1, **run)
    stylize_workspace(batched, batch_size=5, **run)
    shares = []
    for rank in range(2):
        before = set(paintings(parts))
        report = stylize_workspace(parts, batch_size=1, num_shards=2, shard_index=rank, **run)
        shares.append(set(paintings(parts)) - before)
        assert report.written == len(shares[-1]) > 0
    assert not shares[0] & shares[1] and shares[0] | shares[1] == set(paintings(alone))
    assert paintings(alone) == paintings(parts) and len(paintings(alone)) == 6
    one, five = paintings(alone), paintings(batched)
    assert five.keys() == one.keys()
    assert all(pixel_difference(five[name], one[name]) <= JPEG_TOLERANCE for name in one)

    stylizer = get_stylizer("diffusers", tiny_recipe, model=str(models["sd"]), **FAST)
    spec = tiny_recipe.style("Monet")
    photo = Image.open(alone / "Seed_Images" / "Cats" / "1.jpg").convert("RGB")
    by_itself = stylizer.stylize(photo, spec, 7)
    assert stylizer.stylize(photo, spec, 7).tobytes() == by_itself.tobytes()
    batch = stylizer.stylize_batch([photo, photo, photo], spec, [3, 7, 3])
    assert pixel_difference(by_itself, batch[1]) <= BATCH_TOLERANCE
    assert pixel_difference(batch[0], batch[2]) <= BATCH_TOLERANCE
    assert pixel_difference(batch[0], batch[1]) > JPEG_TOLERANCE  # another seed: another image


@pytest.mark.slow
def test_killed_run_resumes_with_nothing_lost_or_repeated(tmp_path, tiny_recipe, models):
    from conftest import fill_seed_photos

    reference, work = tmp_path / "reference", tmp_path / "killed"
    for w in (reference, work):
        fill_seed_photos(w, tiny_recipe)
    flags = {"model": str(models["sd"]), "batch_size": 2, "styles": "Monet,Winter", **FAST}
    stylize_workspace(
        reference, backend="diffusers", progress=False, **{**flags, "styles": ["Monet", "Winter"]}
    )
    cmd = [sys.executable, "-m", "canvas_data.cli", "stylize", "--work", str(work),
           "--backend", "diffusers", "--no-progress"]  # fmt: skip
    for name, value in flags.items():
        cmd += ["--" + name.replace("_", "-"), str(value)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(list(work.rglob("[0-9]*.json"))) < 2 and time.time() < deadline:
        time.sleep(0.005)  # seed photos have no sidecars: these are paintings
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = sum(is_done(work, it) for it in plan_items(tiny_recipe, work))
    assert 0 < done_before < 12, "the kill should land mid-way"
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"stylized {12 - done_before} images" in result.stdout
    assert len(paintings(work)) == 12
    assert paintings(work) == paintings(reference)
    assert not list(work.rglob(".*partial*"))


def test_sdxl_controlnet_and_ip_adapter_style_references(tmp_path, tiny_work, models):
    refs = tmp_path / "release"
    for n in range(6):  # a copy of the release: {Style}/{Object}/{idx}.jpg
        path = refs / "Monet" / ("Cats" if n % 2 else "Dogs") / f"{n + 1}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 40), (40 * n, 90, 200)).save(path)
    subset = {"styles": ["Monet"], "objects": ["Cats"], "progress": False, **FAST}
    report = stylize_workspace(
        tiny_work, backend="diffusers", model=str(models["sd"]),
        controlnet=str(models["controlnet"]), ip_adapter=str(models["ip_adapter"]),
        ip_adapter_weight="models/ip-adapter.safetensors", style_references=str(refs),
        references_per_style=3, batch_size=2, **{**subset, "styles": ["Monet", "Van_Gogh"]},
    )  # fmt: skip
    assert report.written == 3 and len(report.failed) == 3  # no references for Van Gogh
    assert all("no style reference images for Van_Gogh" in why for _, why in report.failed)
    prov = json.loads((tiny_work / "Monet" / "Cats" / "1.json").read_text())
    assert prov["pipeline"] == "StableDiffusionControlNetImg2ImgPipeline"
    assert prov["controlnet"]["id"] == str(models["controlnet"])
    assert prov["controlnet"]["input"] == "canny" and prov["controlnet"]["weights_sha256"]
    assert prov["ip_adapter"]["weight"] == "models/ip-adapter.safetensors"
    assert [r["path"] for r in prov["ip_adapter_references"]] == [
        "Monet/Cats/2.jpg", "Monet/Cats/6.jpg", "Monet/Dogs/3.jpg",
    ]  # fmt: skip

    xl = stylize_workspace(
        tiny_work, backend="diffusers", model=str(models["xl"]), **{**subset, "styles": ["Winter"]}
    )
    assert xl.written == 3 and not xl.failed
    prov = json.loads((tiny_work / "Winter" / "Cats" / "1.json").read_text())
    assert prov["pipeline"] == "StableDiffusionXLImg2ImgPipeline"


def test_a_hub_id_comes_from_the_cache_offline_with_its_commit(
    tmp_path, tiny_work, models, monkeypatch
):
    import shutil

    import huggingface_hub.constants

    cache, commit = tmp_path / "hub", "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--canvas-test--tiny-sd"
    shutil.copytree(models["sd"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    report = stylize_workspace(
        tiny_work, backend="diffusers", model="canvas-test/tiny-sd", styles=["Winter"],
        objects=["Human"], progress=False, **FAST,
    )  # fmt: skip
    assert report.written == 3 and not report.failed
    prov = json.loads((tiny_work / "Winter" / "Human" / "1.json").read_text())
    assert prov["model"] == "canvas-test/tiny-sd" and prov["model_revision"] == commit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "canvas-test/not-cached"], "hf download canvas-test/not-cached"),
        (["--model", "./no/such/folder"], "no such folder"),
        ([], "needs a model: --model"),
        (["--model", "MODEL", "--scheduler", "NoSuchScheduler"], "unknown scheduler"),
        (["--model", "MODEL", "--dtype", "float16", "--device", "cpu"], "float16 needs a GPU"),
        (["--model", "MODEL", "--ip-adapter", "x"], "needs style reference images"),
    ],
)
def test_one_line_errors(tiny_work, models, args, message):
    args = [str(models["sd"]) if a == "MODEL" else a for a in args]
    cmd = ["stylize", "--work", str(tiny_work), "--backend", "diffusers", "--no-progress", *args]
    result = CliRunner().invoke(main, cmd)
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_diffusers_flags_need_the_diffusers_backend(tiny_work):
    result = CliRunner().invoke(main, ["stylize", "--work", str(tiny_work), "--steps", "3"])
    assert result.exit_code == 2 and "--steps only apply with --backend diffusers" in result.output


def test_help_documents_every_option():
    result = CliRunner().invoke(main, ["stylize", "--backend", "diffusers", "--help"])
    for flag in (
        "--model", "--device", "--dtype", "--batch-size", "--strength", "--steps",
        "--guidance-scale", "--scheduler", "--resolution", "--controlnet", "--ip-adapter",
        "--style-references", "--styles", "--objects", "--num-shards", "--shard-index",
    ):  # fmt: skip
        assert flag in result.output


def test_control_image_and_reference_spread(tmp_path):
    photo = Image.new("RGB", (32, 32))
    photo.paste((255, 255, 255), (8, 8, 24, 24))
    edges = control_image(photo, "canny")
    assert edges.mode == "RGB" and edges.size == (32, 32) and edges.getextrema()[0] == (0, 255)
    for n in range(10):
        (tmp_path / "Monet").mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "Monet" / f"{n:02d}.png")
    names = [p.name for p in reference_files(tmp_path, "Monet", 4)]
    assert names == ["00.png", "02.png", "05.png", "07.png"]
    with pytest.raises(ValueError, match="no style reference images for Winter"):
        reference_files(tmp_path, "Winter", 4)


@pytest.mark.parametrize(("layout", "unet_millions"), [("sd15", 859.5), ("sdxl", 2567.5)])
def test_benchmark_layouts_have_the_published_architectures(layout, unet_millions):
    import torch
    from diffusers import UNet2DConditionModel

    from canvas_data.stylizers.random_pipelines import CONFIGS

    with torch.device("meta"):  # shapes only: no memory, no time
        unet = UNet2DConditionModel(**CONFIGS[layout]["unet"])
    assert round(sum(p.numel() for p in unet.parameters()) / 1e6, 1) == unet_millions
