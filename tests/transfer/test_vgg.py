"""The normalised VGG-19 encoder: pytorch-AdaIN's layout and torchvision's read into it, and
wrong files refused in one line naming the file before anything is loaded."""

from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F
from transfer_weights import WIDTH, save_decoder, save_vgg, torchvision_state, vgg_state

from canvas_data.errors import InputError
from canvas_data.transfer.vgg import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RELU,
    conv_indices,
    load_vgg,
    vgg_layers,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_layout_is_pytorch_adains():
    layers = vgg_layers()
    assert len(layers) == 53
    assert conv_indices(layers) == [0, 2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51]
    for name, i in RELU.items():
        assert isinstance(layers[i], torch.nn.ReLU), name
    assert tuple(layers.state_dict()["0.weight"].shape) == (3, 3, 1, 1)
    assert tuple(layers.state_dict()["29.weight"].shape) == (512, 256, 3, 3)
    assert tuple(layers.state_dict()["51.weight"].shape) == (512, 512, 3, 3)


def test_features_have_the_five_layers(tmp_path):
    vgg = load_vgg(save_vgg(tmp_path / "vgg_normalised.pth"))
    feats = vgg.features(torch.rand(2, 3, 64, 64))
    c = [round(n * WIDTH) for n in (64, 128, 256, 512, 512)]
    assert [tuple(f.shape) for f in feats] == [
        (2, c[0], 64, 64), (2, c[1], 32, 32), (2, c[2], 16, 16), (2, c[3], 8, 8), (2, c[4], 4, 4)
    ]  # fmt: skip
    assert torch.equal(
        vgg.encode(torch.ones(1, 3, 32, 32)), vgg.features(torch.ones(1, 3, 32, 32))[3]
    )


def test_relu1_1_is_the_first_two_convolutions(tmp_path):
    """A direct computation: 1x1 convolution, reflection pad, 3x3 convolution, ReLU."""
    state = vgg_state(seed=3)
    torch.save(state, tmp_path / "v.pth")
    x = torch.rand(1, 3, 12, 12)
    y = F.conv2d(x, state["0.weight"], state["0.bias"])
    y = F.relu(F.conv2d(F.pad(y, (1, 1, 1, 1), mode="reflect"), state["2.weight"], state["2.bias"]))
    torch.testing.assert_close(load_vgg(tmp_path / "v.pth").features(x, "relu1_1")[0], y)


def test_a_file_cut_after_relu5_1_is_accepted(tmp_path):
    """The release's loss code keeps children 0..43; a file of those only loads too."""
    state = {k: v for k, v in vgg_state().items() if int(k.split(".")[0]) <= 43}
    torch.save(state, tmp_path / "cut.pth")
    x = torch.rand(1, 3, 32, 32)
    full = load_vgg(save_vgg(tmp_path / "full.pth")).features(x)
    for a, b in zip(load_vgg(tmp_path / "cut.pth").features(x), full, strict=True):
        torch.testing.assert_close(a, b)


def test_torchvision_weights_go_to_the_same_convolutions(tmp_path):
    ours = load_vgg(save_vgg(tmp_path / "a.pth", seed=5))
    theirs = load_vgg(save_vgg(tmp_path / "tv.pth", layout="torchvision", seed=5))
    first = theirs.stages[0][0]
    std = torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(first.weight.flatten(1), torch.diag(1 / std))
    torch.testing.assert_close(first.bias, -torch.tensor(IMAGENET_MEAN) / std)
    # with the same input normalisation, the two encoders are one network
    ours.stages[0][0].load_state_dict(first.state_dict())
    x = torch.rand(2, 3, 32, 32)
    for a, b in zip(ours.features(x), theirs.features(x), strict=True):
        torch.testing.assert_close(a, b)


def test_torchvision_keys_that_do_not_fit_are_named(tmp_path):
    state = torchvision_state()
    state["features.28.weight"] = state["features.28.weight"][:, :-1]
    torch.save(state, tmp_path / "tv.pth")
    with pytest.raises(
        ValueError, match=r"tv.pth: not a VGG-19 .*wrong shape of features.28.weight"
    ):
        load_vgg(tmp_path / "tv.pth")


@pytest.mark.parametrize(
    ("make", "error", "reason"),
    [
        (lambda p: None, FileNotFoundError, "no such file"),
        (lambda p: p.write_text("hello"), InputError, "not a PyTorch checkpoint"),
        (lambda p: p.write_bytes(pickle.dumps({"a": 1})), InputError, "not a PyTorch checkpoint"),
        (lambda p: save_decoder(p), ValueError, r"not a VGG-19 .*missing 0.bias"),
        (
            lambda p: torch.save({"0.weight": torch.zeros(2)}, p),
            ValueError,
            "wrong shape of 0.weight",
        ),
        (lambda p: torch.save([1, 2], p), ValueError, "not a state dict"),
    ],
    ids=["missing", "text", "pickle", "decoder", "shape", "list"],
)
def test_wrong_files_are_named_with_what_was_expected(tmp_path, make, error, reason):
    path = tmp_path / "vgg_normalised.pth"
    make(path)
    with pytest.raises(error, match=reason) as info:
        load_vgg(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
