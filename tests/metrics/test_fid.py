"""FID end to end with an Inception weight file made here: a small TorchScript network called
like NVIDIA's inception-2015-12-05.pt (``net(uint8 images, return_features=True)``). The value
must equal the Fréchet distance computed independently (numpy and scipy) from the same features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from scipy import linalg

from canvas_data.cli.eval import main
from canvas_data.metrics.fid import compute_fid, list_images, load_for_inception, weights_path

pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),
    pytest.mark.usefixtures("one_thread"),
]


class TinyInception(torch.nn.Module):
    """Random weights; uint8 (N, 3, H, W) in, (N, 6) features out."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = torch.nn.Conv2d(3, 6, kernel_size=9, stride=8)
        self.fc = torch.nn.Linear(6, 6)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = (x.float() - 128.0) / 128.0
        x = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return self.fc(x)


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "inception-2015-12-05.pt"
    torch.jit.script(TinyInception()).save(str(path))
    return path


def images(folder, n, seed, shift=0, size=48):
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = rng.integers(0, 200, (6, 6, 3)).astype(np.uint8) + shift
        path = folder / f"sub{i % 2}" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(small).resize((size, size), Image.BICUBIC).save(path, quality=95)
    return folder


def reference_fid(net, paths_a, paths_b) -> float:
    feats = []
    for paths in (paths_a, paths_b):
        batch = torch.from_numpy(np.stack([load_for_inception(p) for p in paths]))
        with torch.no_grad():
            feats.append(net(batch, return_features=True).double().numpy())
    (mu1, mu2), (s1, s2) = [f.mean(0) for f in feats], [np.cov(f, rowvar=False) for f in feats]
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_matches_an_independent_computation(tmp_path, inception):
    gen = images(tmp_path / "gen", 30, seed=1, shift=40)
    ref = images(tmp_path / "ref", 36, seed=2, size=64)
    result = compute_fid(gen, ref, weights=inception, batch_size=7, progress=False)
    expected = reference_fid(torch.jit.load(str(inception)), list_images(gen), list_images(ref))
    assert expected > 1e-3
    assert result["fid"] == pytest.approx(expected, rel=1e-4)
    assert result["images"] == {"answers": 30, "reference": 36}
    assert result["inception"]["backend"] == "torchscript"
    same = compute_fid(ref, ref, weights=inception, batch_size=10, progress=False)
    assert abs(same["fid"]) < 1e-3


def test_saved_reference_statistics_give_the_same_value(tmp_path, inception):
    gen = images(tmp_path / "gen", 12, seed=3, shift=30)
    ref = images(tmp_path / "ref", 14, seed=4)
    stats = tmp_path / "stats" / "ref.npz"
    first = compute_fid(gen, ref, weights=inception, save_reference=stats, progress=False)
    again = compute_fid(gen, stats, weights=inception, progress=False)
    assert again["fid"] == pytest.approx(first["fid"], rel=1e-9)
    assert again["reference"] == str(ref) and again["images"]["reference"] == 14
    other = tmp_path / "other.pt"
    torch.jit.script(TinyInception(seed=1)).save(str(other))
    with pytest.raises(ValueError, match="other Inception weights"):
        compute_fid(gen, stats, weights=other, progress=False)
    plain = tmp_path / "plain.pt"
    torch.jit.script(torch.nn.Sequential(TinyInception())).save(str(plain))
    with pytest.raises(ValueError, match="not called as net"):
        compute_fid(gen, ref, weights=plain, progress=False)


def test_cli_writes_the_result_and_skips_unreadable_images(tmp_path, inception):
    gen = images(tmp_path / "answers", 8, seed=5, shift=20)
    (gen / "broken.jpg").write_bytes(b"\xff\xd8not a jpeg")
    ref = images(tmp_path / "ref", 8, seed=6)
    args = ["fid", "--answers", str(gen), "--reference", str(ref), "--inception", str(inception),
            "--method", "ESD", "--no-progress", "--workers", "2"]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert "FID " in run.output and "unreadable (1)" in run.output
    result = json.loads((gen / "fid.json").read_text())
    assert result["kind"] == "canvas-eval fid" and result["method"] == "ESD"
    assert result["images"] == {"answers": 8, "reference": 8}
    assert result["unreadable"][0]["path"].endswith("broken.jpg")


def test_missing_weights_are_a_one_line_error_that_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("CANVAS_INCEPTION", str(tmp_path / "nowhere.pt"))
    with pytest.raises(FileNotFoundError) as err:
        weights_path()
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "nowhere.pt") in message and "inception-2015-12-05.pt" in message
    gen = images(tmp_path / "a", 3, seed=7)
    run = CliRunner().invoke(main, ["fid", "--answers", str(gen), "--reference", str(gen)])
    assert run.exit_code == 1
    assert run.output.startswith("Error: no Inception weights at ") and run.output.count("\n") == 1


def test_a_state_dict_of_other_weights_and_garbage_are_refused(tmp_path):
    gen = images(tmp_path / "a", 3, seed=8)
    state = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, state)
    with pytest.raises(ValueError, match="not the FID Inception's weights"):
        compute_fid(gen, gen, weights=state, progress=False)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not weights")
    with pytest.raises(ValueError, match="neither TorchScript nor a state dict"):
        compute_fid(gen, gen, weights=garbage, progress=False)


def named_sets(root, themes=("Monet", "Van_Gogh", "Seed_Images"), objects=("Cats", "Dogs")):
    """An answer set ``{Theme}_{Object}_seed{seed}.jpg`` and a reference in the dataset's layout
    ``{Theme}/{Object}/{idx}.jpg``, random pictures, 3 of each cell on each side."""
    rng = np.random.default_rng(7)
    for theme in themes:
        for obj in objects:
            for k in range(3):
                for path, shift in ((root / "answers" / f"{theme}_{obj}_seed{k}.jpg", 30),
                                    (root / "ref" / theme / obj / f"{k + 1}.jpg", 0)):  # fmt: skip
                    path.parent.mkdir(parents=True, exist_ok=True)
                    small = rng.integers(0, 200, (6, 6, 3)).astype(np.uint8) + shift
                    Image.fromarray(small).resize((48, 48), Image.BICUBIC).save(path, quality=95)
    return root / "answers", root / "ref"


@pytest.mark.parametrize(("target", "gone"), [("Van_Gogh", 6), ("cats", 9)])
def test_target_is_left_out_of_both_sets_as_the_release_does(tmp_path, inception, target, gone):
    answers, ref = named_sets(tmp_path)
    every = compute_fid(answers, ref, weights=inception, progress=False)
    assert every["target"] is None and every["images"] == {"answers": 18, "reference": 18}
    stats = tmp_path / "ref.npz"
    result = compute_fid(answers, ref, weights=inception, target=target, save_reference=stats,
                         progress=False)  # fmt: skip
    name = "Cats" if target == "cats" else target
    assert result["target"] == name and "--forget-theme" in result["left_out"]["rule"]
    assert result["left_out"]["answers"] == gone == result["left_out"]["reference"]
    assert result["images"] == {"answers": 18 - gone, "reference": 18 - gone}
    # The value is the FID of the two sets without the target's images.
    keep = [p for p in list_images(answers) if name not in p.name]
    keep_ref = [p for p in list_images(ref) if name not in p.relative_to(ref).parts]
    expected = reference_fid(torch.jit.load(str(inception)), keep, keep_ref)
    assert result["fid"] == pytest.approx(expected, rel=1e-4)
    assert result["fid"] != pytest.approx(every["fid"], rel=1e-6)
    again = compute_fid(answers, stats, weights=inception, target=target, progress=False)
    assert again["fid"] == pytest.approx(result["fid"], rel=1e-9)
    assert again["left_out"]["reference"] is None  # not counted from saved statistics
    with pytest.raises(ValueError, match=f"without the images of {name}, but this run has no"):
        compute_fid(answers, stats, weights=inception, progress=False)


def test_target_needs_names_that_say_what_an_image_shows(tmp_path, inception):
    answers, ref = named_sets(tmp_path)
    images(tmp_path / "answers", 2, seed=9)  # sub0/0.jpg, sub1/1.jpg: no theme, no object
    with pytest.raises(ValueError, match="2 images whose name does not say whether they show"):
        compute_fid(answers, ref, weights=inception, target="Monet", progress=False)
    with pytest.raises(ValueError, match="neither a style nor an object.*Van_Gogh"):
        compute_fid(answers, ref, weights=inception, target="Van_Gog", progress=False)
    with pytest.raises(ValueError, match="neither a style nor an object"):
        compute_fid(answers, ref, weights=inception, target="Seed_Images", progress=False)
    args = ["fid", "--answers", str(answers), "--reference", str(ref), "--inception",
            str(inception), "--no-progress", "--target", "Monet"]  # fmt: skip
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 1 and run.output.count("\n") == 1 and "sub0" in run.output
    for extra in (answers / "sub0", answers / "sub1"):
        for p in extra.iterdir():
            p.unlink()
        extra.rmdir()
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert "left out the 6 answers and 6 reference images of Monet" in run.output
    assert json.loads((answers / "fid.json").read_text())["target"] == "Monet"


# The help and the metrics reference say what the TorchScript Inception file is.


METRICS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "metrics.md"


def test_fid_says_the_torchscript_file_is_a_program():
    help_text = " ".join(CliRunner().invoke(main, ["fid", "--help"]).output.split())
    assert "a program" in help_text and "runs its code" in help_text
    assert "weights-only" in help_text and "weights_only=True" in help_text
    section = METRICS_PAGE.read_text().split("## How this FID differs", 1)[1].split("\n## ", 1)[0]
    assert "It is not only weights: `torch.jit.load` runs the code" in " ".join(section.split())
