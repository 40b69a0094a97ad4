"""``scripts/gpu_check.py --tiny --device cpu``: every GPU path's code, run with tiny models."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gpu_check", None)


def has_transfer() -> bool:
    return importlib.util.find_spec("canvas_data.transfer") is not None


def run(gpu_check, tmp_path, capsys, *paths):
    out = tmp_path / "report.json"
    args = ["--tiny", "--device", "cpu", "--threads", "1", "--images", "2", "--out", str(out)]
    report = gpu_check.main([*args, "--paths", ",".join(paths)] if paths else args)
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # written atomically
    return report, {r["path"]: r for r in report["results"]}, capsys.readouterr().out


def check_measured(result, dtypes):
    assert result["status"] == "ok", result["note"]
    assert result["images"] >= 2 and result["ours_images_per_s"] > 0
    assert result["naive_images_per_s"] > 0 and result["speedup"] > 0
    for dtype in dtypes:  # each reduced precision compared with float32, within its bound
        assert dtype in result["diff"], result["diff"]


def test_classification_and_the_paths_without_their_hardware(gpu_check, tmp_path, capsys):
    report, results, printed = run(gpu_check, tmp_path, capsys, "accuracy", "torchrun", "adain")
    assert report["ok"] and report["sizes"]["layout"] == "tiny"
    check_measured(results["accuracy"], ["bfloat16"])
    assert results["accuracy"]["diff"]["bfloat16"]["max_probability"] <= gpu_check.PROB_BOUND
    assert results["torchrun"]["status"] == "skipped"
    assert "needs two GPUs" in results["torchrun"]["note"]
    assert results["adain"]["status"] == ("ok" if has_transfer() else "skipped")
    assert printed.splitlines()[-1].startswith("report: ")
    assert any(line.startswith("accuracy ") and " ok " in line for line in printed.splitlines())


def test_a_path_that_fails_is_reported_with_its_reason(gpu_check, tmp_path):
    check = gpu_check.Check(gpu_check.parse(["--tiny", "--device", "cpu"]), tmp_path)
    check.sizes = gpu_check.Sizes(**{**vars(check.sizes), "resolution": 30})
    result = gpu_check.run_path(check, "stylize")
    assert result.status == "failed" and "multiple of 8" in result.note
    assert "traceback" in result.extra
    bad = gpu_check.Result("generate")
    images = gpu_check.photos(3, 32)
    bad.within("float16", images[1:] + images[:1], images)  # each image given another's output
    assert bad.status == "failed" and "float16 output off by" in bad.note
    constant = gpu_check.Result("adain")
    constant.within("bfloat16", images[:1] * 3, images[:1] * 3)  # a network deaf to its input
    assert constant.status == "failed" and "same output" in constant.note
    good = gpu_check.Result("generate")
    good.within("float16", images, images)
    assert good.status == "ok" and good.diff["float16"]["mean"] == 0


def test_unknown_paths_and_batch_sizes_are_refused(gpu_check):
    for argv in (["--paths", "generate,nope"], ["--batch-size", "0"], ["--batch-size", "x"]):
        with pytest.raises(SystemExit):
            gpu_check.parse(argv)
    assert gpu_check.parse(["--paths", "fid, generate"]).paths == ("fid", "generate")


@pytest.mark.slow
def test_every_path_runs_with_tiny_models_on_the_cpu(gpu_check, tmp_path, capsys):
    report, results, printed = run(gpu_check, tmp_path, capsys)
    assert report["ok"], [(r["path"], r["note"]) for r in report["results"]]
    assert list(results) == list(gpu_check.PATHS)
    for name in ("stylize", "stylize-controlnet", "stylize-ip-adapter"):
        check_measured(results[name], ["bfloat16"])
    check_measured(results["generate"], ["float32"])
    same_precision = results["generate"]["diff"]["float32"]
    assert (
        same_precision["mean"] <= same_precision["bound_mean"] < same_precision["other_image_mean"]
    )
    assert results["generate"]["extra"]["projected_hours_per_5100_answer_set"] > 0
    check_measured(results["fid"], [])
    assert results["fid"]["diff"]["float32"]["fid"] > 0  # the random Inception's features differ
    assert results["profile"]["status"] == "ok" and results["profile"]["extra"]["wall_s"] > 0
    for name in gpu_check.PATHS:
        assert any(line.startswith(name + " ") for line in printed.splitlines()), name
