"""The answer set's sampling loop, run for real on the CPU with a tiny random-weight pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers")

from canvas_data.atomic import WriteError  # noqa: E402
from canvas_data.metrics import sampling  # noqa: E402
from canvas_data.metrics.answers import plan_answers  # noqa: E402
from canvas_data.metrics.generate import (  # noqa: E402
    GenerateSettings,
    generate_answers,
    load_text_to_image,
)
from canvas_data.stylizers.random_pipelines import build_pipeline  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

THEMES, OBJECTS, SEEDS = ["Van_Gogh", "Monet", "Seed_Images"], ["Cats"], [188, 288]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return build_pipeline("tiny", tmp_path_factory.mktemp("sd") / "tiny")


def settings(pipeline, **kw):
    return GenerateSettings(model=str(pipeline), device="cpu", steps=2, resolution=32, **kw)


def pixels(folder):
    return {p.name: np.asarray(Image.open(p), np.int16) for p in sorted(folder.glob("*.jpg"))}


def test_an_image_is_the_same_alone_or_in_a_batch_and_prompts_are_encoded_once(tmp_path, pipeline):
    alone = generate_answers(tmp_path / "alone", settings(pipeline, batch_size=1), themes=THEMES,
                             objects=OBJECTS, seeds=SEEDS, progress=False)  # fmt: skip
    loaded = load_text_to_image(settings(pipeline))
    calls = []
    loaded.pipe.text_encoder.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    embeds = sampling.PromptEmbeddings(loaded.pipe, loaded.device, 9.0, None)
    prompts = ["A Cats image in Van Gogh style", "photo style", "A Cats image in Van Gogh style"]
    kwargs = embeds(prompts)
    embeds(prompts[:2])
    # two distinct prompts, one empty negative prompt: three single-prompt encoder passes
    assert calls == [1, 1, 1]
    assert kwargs["prompt_embeds"].shape[0] == 3 == kwargs["negative_prompt_embeds"].shape[0]
    assert kwargs["prompt_embeds"][0].equal(kwargs["prompt_embeds"][2])

    batched = generate_answers(tmp_path / "batched", settings(pipeline, batch_size=4),
                               themes=THEMES, objects=OBJECTS, seeds=SEEDS,
                               progress=False)  # fmt: skip
    assert alone.written == batched.written == len(THEMES) * len(SEEDS)
    a, b = pixels(tmp_path / "alone"), pixels(tmp_path / "batched")
    assert sorted(a) == sorted(x.file_name for x in plan_answers(THEMES, OBJECTS, SEEDS))
    assert sorted(a) == sorted(b)
    for name in a:  # batched kernels round differently; JPEG coding can magnify a 1-level change
        diff = np.abs(a[name] - b[name])
        assert diff.max() <= 8 and diff.mean() <= 0.25, (name, diff.max(), diff.mean())
    assert len({a[n].tobytes() for n in a}) == len(a)  # seeds and prompts do change the image


def test_attention_is_pytorch_sdpa_and_auto_batches_are_fixed_on_the_cpu(pipeline):
    loaded = load_text_to_image(settings(pipeline))
    assert loaded.record["attention"] == ["AttnProcessor2_0"]
    assert sampling.first_batch_size("auto", loaded.device) == sampling.AUTO_BATCH["cpu"]
    assert sampling.first_batch_size(3, loaded.device) == 3
    with pytest.raises(ValueError, match="positive number or auto"):
        settings(pipeline, batch_size=0).check()


def test_a_failing_write_stops_the_run_and_what_was_written_stays_whole(tmp_path, pipeline):
    out = tmp_path / "answers"
    names = [a.file_name for a in plan_answers(THEMES, OBJECTS, SEEDS)]
    (out / names[3]).mkdir(parents=True)  # a folder where an image must go
    with pytest.raises(WriteError):
        generate_answers(out, settings(pipeline, batch_size=2), themes=THEMES, objects=OBJECTS,
                         seeds=SEEDS, progress=False)  # fmt: skip
    for path in out.glob("*.jpg"):
        if path.is_file():
            with Image.open(path) as im:
                im.load()  # complete JPEGs only, never a half-written one
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_the_writer_gives_results_in_order_and_raises_a_jobs_error():
    def job(n):
        if n == 3:
            raise OSError("disk full")
        return n

    seen = []
    with pytest.raises(OSError, match="disk full"), sampling.Writer(depth=1) as writer:
        for n in range(6):
            seen += writer.submit(job, n)
        seen += writer.drain()
    assert seen == [0, 1, 2]


@pytest.mark.slow
def test_a_compiled_unet_paints_the_same_answers(tmp_path, pipeline):
    pytest.importorskip("torch._inductor")
    kw = {"themes": THEMES[:1], "objects": OBJECTS, "seeds": SEEDS, "progress": False}
    eager = generate_answers(tmp_path / "eager", settings(pipeline, batch_size=2), **kw)
    compiled = generate_answers(
        tmp_path / "compiled", settings(pipeline, batch_size=2, compile=True), **kw
    )
    assert eager.written == compiled.written == 2 and not compiled.failed
    a, b = pixels(tmp_path / "eager"), pixels(tmp_path / "compiled")
    for name in a:
        diff = np.abs(a[name] - b[name])
        assert diff.max() <= 8 and diff.mean() <= 0.25, (name, diff.max(), diff.mean())


@pytest.mark.slow
def test_sdxl_prompts_with_a_negative_prompt_are_the_same_alone_or_in_a_batch(tmp_path):
    xl = build_pipeline("tiny-xl", tmp_path / "xl")
    kw = {"themes": THEMES[:2], "objects": OBJECTS, "seeds": SEEDS, "progress": False}
    for size in (1, 4):
        s = settings(xl, batch_size=size, negative_prompt="blurry")
        report = generate_answers(tmp_path / f"b{size}", s, **kw)
        assert report.written == 4 and not report.failed
    a, b = pixels(tmp_path / "b1"), pixels(tmp_path / "b4")
    assert sorted(a) == sorted(b)
    for name in a:
        diff = np.abs(a[name] - b[name])
        assert diff.max() <= 8 and diff.mean() <= 0.25, (name, diff.max(), diff.mean())
