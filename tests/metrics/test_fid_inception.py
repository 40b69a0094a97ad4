"""FID from a weights-only state dict: random weights saved here, loaded without running code."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from canvas_data.metrics.fid import compute_fid, weights_path
from canvas_data.metrics.fid_inception import (
    NUM_FEATURES,
    FIDInceptionV3,
    fid_inception,
    read_state_dict,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def state_dict(tmp_path_factory):
    """A random-weight FID Inception saved as pytorch-fid's file is (tensors only)."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):  # variance-keeping: features neither vanish
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")  # nor blow up
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("weights") / "pt_inception-2015-12-05-6726825d.pth"
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path)
    return path


def _images(folder, n, seed, shift=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        small = (rng.integers(0, 200, (6, 6, 3)) + shift).astype(np.uint8)
        Image.fromarray(small).resize((64, 64), Image.BICUBIC).save(folder / f"{i}.png")
    return folder


class _Payload:
    """Pickles as a call to os.system: a file that runs code when a full unpickler loads it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_the_state_dict_loads_strictly_and_gives_2048_features(state_dict):
    net = fid_inception(read_state_dict(state_dict), state_dict)
    with torch.no_grad():
        features = net(torch.randint(0, 256, (2, 3, 299, 299), dtype=torch.uint8))
    assert features.shape == (2, NUM_FEATURES) and features.dtype == torch.float32
    assert torch.isfinite(features).all() and features.std() > 0
    state = read_state_dict(state_dict)
    assert torch.equal(
        net.Mixed_7c.branch_pool.conv.weight, state["Mixed_7c.branch_pool.conv.weight"]
    )


def test_fid_runs_on_the_weights_only_file(tmp_path, state_dict):
    gen = _images(tmp_path / "gen", 3, seed=1, shift=50)
    ref = _images(tmp_path / "ref", 3, seed=2)
    result = compute_fid(gen, ref, weights=state_dict, batch_size=3, progress=False)
    assert result["inception"]["backend"] == "state-dict"
    assert np.isfinite(result["fid"]) and result["fid"] > 1e-3
    same = compute_fid(ref, ref, weights=state_dict, batch_size=3, progress=False)
    assert abs(same["fid"]) < 1e-3 * result["fid"]


def test_the_default_folder_prefers_the_weights_only_file(tmp_path, monkeypatch, state_dict):
    monkeypatch.delenv("CANVAS_INCEPTION", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / ".cache" / "canvas_data"
    folder.mkdir(parents=True)
    (folder / "inception-2015-12-05.pt").write_bytes(b"a program")
    assert weights_path().name == "inception-2015-12-05.pt"
    (folder / state_dict.name).write_bytes(state_dict.read_bytes())
    assert weights_path().name == state_dict.name


def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": _Payload(marker)}, path)
    gen = _images(tmp_path / "a", 2, seed=3)
    with pytest.raises(ValueError, match="evil.pth: neither TorchScript nor a state dict"):
        compute_fid(gen, gen, weights=path, progress=False)
    assert not marker.exists()


def test_missing_extra_and_misshapen_tensors_are_named(tmp_path, state_dict):
    state = read_state_dict(state_dict)
    del state["fc.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["Conv2d_1a_3x3.conv.weight"] = torch.zeros(1)
    with pytest.raises(ValueError) as err:
        fid_inception(state, "w.pth")
    message = str(err.value)
    assert "missing fc.bias" in message and "unexpected extra.weight" in message
    assert "wrong shape of Conv2d_1a_3x3.conv.weight" in message


def test_a_torchscript_file_never_goes_through_the_weights_only_reader(tmp_path):
    """torch.load would hand a TorchScript archive to torch.jit.load: the reader refuses it."""
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
    with pytest.raises(ValueError, match="a TorchScript program, not a weights-only state dict"):
        read_state_dict(path)
