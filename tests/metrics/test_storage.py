"""`canvas-eval storage` on real safetensors files: counts exactly the bytes of changed tensors."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from canvas_data.cli.eval import main
from canvas_data.metrics.storage import storage_report, weight_files


def base_tensors():
    return {
        "a": torch.arange(100, dtype=torch.float32).reshape(10, 10),  # 400 bytes
        "b": torch.ones(8, dtype=torch.float16),  # 16 bytes
        "c": torch.tensor([1.0, float("nan"), 3.0]),  # 12 bytes, a NaN that stays
        "e": torch.zeros(4, dtype=torch.bfloat16),  # 8 bytes
    }


def diffusers_folder(folder, tensors):
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    save_file(tensors, str(folder / "unet" / "diffusion_pytorch_model.safetensors"))
    return folder


def test_only_changed_and_new_tensors_count_as_the_difference(tmp_path):
    base = diffusers_folder(tmp_path / "sd", base_tensors())
    new = base_tensors()
    new["b"][3] = 2.0  # changed: 16 bytes
    new["e"][0] = 1.0  # changed bfloat16: 8 bytes
    new["d"] = torch.zeros(5)  # new: 20 bytes
    del new["a"]  # the unlearned weights lack it
    unet = tmp_path / "esd" / "unet"
    unet.mkdir(parents=True)
    save_file(new, str(unet / "diffusion_pytorch_model.safetensors"))
    record = storage_report(base, unet, method="ESD")
    assert record["unlearned_bytes"] == 16 + 12 + 8 + 20
    assert record["diff_bytes"] == 16 + 8 + 20
    assert record["changed"] == ["b", "d", "e"] and record["changed_tensors"] == 3
    assert record["tensors"] == 4 and record["missing_from_unlearned"] == ["a"]
    assert record["base_bytes"] == 400 + 16 + 12 + 8
    assert (
        record["unlearned_file_bytes"]
        == (unet / "diffusion_pytorch_model.safetensors").stat().st_size
    )
    assert record["base"][0].endswith("sd/unet/diffusion_pytorch_model.safetensors")


def test_a_dtype_change_is_a_change_and_identical_weights_differ_by_nothing(tmp_path):
    save_file(base_tensors(), str(tmp_path / "base.safetensors"))
    save_file(base_tensors(), str(tmp_path / "same.safetensors"))
    same = storage_report(tmp_path / "base.safetensors", tmp_path / "same.safetensors")
    assert same["diff_bytes"] == 0 and same["changed"] == []
    half = {k: v.half() if v.dtype == torch.float32 else v for k, v in base_tensors().items()}
    save_file(half, str(tmp_path / "half.safetensors"))
    record = storage_report(tmp_path / "base.safetensors", tmp_path / "half.safetensors")
    assert record["changed"] == ["a", "c"] and record["diff_bytes"] == 200 + 6


def test_sharded_weights_are_read_through_their_index(tmp_path):
    base = tmp_path / "base.safetensors"
    save_file(base_tensors(), str(base))
    unet = tmp_path / "unet"
    unet.mkdir()
    t = base_tensors()
    t["a"] = t["a"] + 1
    save_file({"a": t["a"], "b": t["b"]}, str(unet / "part-1.safetensors"))
    save_file({"c": t["c"], "e": t["e"]}, str(unet / "part-2.safetensors"))
    index = {"weight_map": {"a": "part-1.safetensors", "b": "part-1.safetensors",
                            "c": "part-2.safetensors", "e": "part-2.safetensors"}}  # fmt: skip
    (unet / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index))
    record = storage_report(base, unet)
    assert [p.rsplit("/", 1)[-1] for p in record["unlearned"]] == [
        "part-1.safetensors", "part-2.safetensors"
    ]  # fmt: skip
    assert record["changed"] == ["a"] and record["diff_bytes"] == 400


def test_a_real_diffusers_unet_with_only_cross_attention_changed(tmp_path):
    from diffusers import UNet2DConditionModel

    from canvas_data.stylizers.random_pipelines import build_pipeline

    sd = build_pipeline("tiny", tmp_path / "sd")
    unet = UNet2DConditionModel.from_pretrained(sd / "unet")
    expected, changed = 0, []
    with torch.no_grad():
        for name, p in unet.named_parameters():
            if "attn2.to_k" in name or "attn2.to_v" in name:  # what ESD-x trains
                p.add_(0.5)
                expected += p.numel() * p.element_size()
                changed.append(name)
    unet.save_pretrained(tmp_path / "esd-x")
    record = storage_report(sd, tmp_path / "esd-x")
    assert changed and record["changed"] == sorted(changed)
    assert record["diff_bytes"] == expected
    total = sum(p.numel() * p.element_size() for p in unet.state_dict().values())
    assert record["unlearned_bytes"] == total > expected


def test_cli_writes_the_record_and_refuses_pickles_and_broken_files(tmp_path):
    base = diffusers_folder(tmp_path / "sd", base_tensors())
    out = tmp_path / "results" / "ESD" / "storage.json"
    run = CliRunner().invoke(main, ["storage", "--base", str(base), "--unlearned",
                                    str(base / "unet"), "--out", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "0 of 4 tensors differ from the base: 0 B" in run.output
    assert json.loads(out.read_text())["kind"] == "canvas-eval storage"
    edited = base_tensors()
    edited["b"] = edited["b"] * 2  # 16 bytes differ: not "0.0 MiB", which reads as nothing
    save_file(edited, str(tmp_path / "edited.safetensors"))
    edited = ["--unlearned", str(tmp_path / "edited.safetensors"), "--out", str(out)]
    run = CliRunner().invoke(main, ["storage", "--base", str(base), *edited])
    assert run.exit_code == 0, run.output
    assert "unlearned weights 436 B, of which 1 of 4 tensors differ from the base: 16 B" in (
        run.output
    )

    pickle = tmp_path / "unet.bin"
    torch.save(base_tensors(), pickle)
    pickled_folder = tmp_path / "pickled"
    pickled_folder.mkdir()
    torch.save(base_tensors(), pickled_folder / "diffusion_pytorch_model.bin")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    truncated = tmp_path / "truncated.safetensors"
    save_file(base_tensors(), str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:-10])
    several = tmp_path / "several"
    several.mkdir()
    for name in ("x.safetensors", "y.safetensors"):
        save_file(base_tensors(), str(several / name))
    for unlearned, message in (
        (pickle, "unet.bin: pickled weights are refused"),
        (pickled_folder, "diffusion_pytorch_model.bin: pickled weights are refused"),
        (broken, "broken.safetensors: not a readable safetensors file"),
        (truncated, "truncated.safetensors: "),
        (several, "several weight files (x.safetensors, y.safetensors)"),
        (tmp_path / "results", "no .safetensors weights in this folder"),
    ):
        args = ["storage", "--base", str(base), "--unlearned", str(unlearned), "--out",
                str(tmp_path / "s.json")]  # fmt: skip
        run = CliRunner().invoke(main, args)
        assert run.exit_code == 1 and message in run.output, run.output
        assert run.output.count("\n") == 1
        assert not (tmp_path / "s.json").exists()


def test_weight_files_of_a_missing_path():
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        weight_files("/nonexistent/unet")
