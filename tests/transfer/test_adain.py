"""AdaIN: pytorch-AdaIN's statistics and decoder layout, batched transfer equal to one at a time,
and wrong decoder files refused naming the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transfer_weights import save_decoder, save_vgg

from canvas_data.transfer.adain import (
    AdaINNet,
    adaptive_instance_normalization,
    calc_mean_std,
    decoder_layers,
    load_decoder,
    to_batch,
    to_images,
)
from canvas_data.transfer.methods import MethodOptions, get_method
from canvas_data.transfer.vgg import load_vgg

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mean_and_std_as_pytorch_adain():
    feat = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]], [[0.0, 0.0], [0.0, 0.0]]]])
    mean, std = calc_mean_std(feat)
    assert mean.shape == std.shape == (1, 2, 1, 1)
    values = np.array([1.0, 2.0, 3.0, 6.0])
    assert mean[0, 0, 0, 0].item() == pytest.approx(values.mean())
    assert std[0, 0, 0, 0].item() == pytest.approx(np.sqrt(values.var(ddof=1) + 1e-5))
    assert std[0, 1, 0, 0].item() == pytest.approx(np.sqrt(1e-5))


def test_adain_gives_the_content_the_style_statistics():
    gen = torch.Generator().manual_seed(0)
    content = torch.randn(3, 4, 8, 8, generator=gen) * 2 + 1
    style = torch.randn(3, 4, 5, 5, generator=gen) * 0.5 - 3
    out = adaptive_instance_normalization(content, style)
    o_mean, o_std = calc_mean_std(out)
    s_mean, s_std = calc_mean_std(style)
    torch.testing.assert_close(o_mean, s_mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(o_std, s_std, atol=1e-3, rtol=1e-3)
    with pytest.raises(ValueError, match="differ in"):
        adaptive_instance_normalization(content, style[:, :2])


def test_the_decoder_layout_is_pytorch_adains(tmp_path):
    layers = decoder_layers()
    assert len(layers) == 29
    state = layers.state_dict()
    assert tuple(state["1.weight"].shape) == (256, 512, 3, 3)
    assert tuple(state["28.weight"].shape) == (3, 64, 3, 3)
    convs = [i for i, m in enumerate(layers) if isinstance(m, torch.nn.Conv2d)]
    assert convs == [1, 5, 8, 11, 14, 18, 21, 25, 28]
    loaded = load_decoder(save_decoder(tmp_path / "decoder.pth"))
    assert loaded[1].in_channels == 32 and loaded[28].out_channels == 3


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: save_vgg(p), "not an AdaIN decoder state dict .*unexpected 0.bias"),
        (lambda p: p.write_bytes(b"\x80\x04K\x01."), "not a PyTorch checkpoint"),
    ],
    ids=["encoder-file", "pickle"],
)
def test_wrong_decoder_files_are_named(tmp_path, make, reason):
    path = tmp_path / "decoder.pth"
    make(path)
    with pytest.raises(ValueError, match=reason) as info:
        load_decoder(path)
    assert str(path) in str(info.value)


def _images(n, seed, side=48):
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(n)
    ]


def test_batched_transfer_equals_one_at_a_time(tmp_path):
    options = MethodOptions(
        vgg=save_vgg(tmp_path / "v.pth"), decoder=save_decoder(tmp_path / "d.pth"), resolution=32
    )
    method = get_method("adain", options)
    contents, refs = _images(4, 0), _images(4, 1)
    batched = method.transfer(contents, refs, [0, 1, 2, 3])
    alone = [method.transfer([c], [r], [0])[0] for c, r in zip(contents, refs, strict=True)]
    assert all(im.size == (32, 32) for im in batched)
    for a, b in zip(batched, alone, strict=True):
        assert np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max() <= 1
    assert not np.array_equal(np.asarray(batched[0]), np.asarray(batched[1]))


def test_the_net_keeps_the_size_and_refuses_mismatched_networks(tmp_path):
    vgg = load_vgg(save_vgg(tmp_path / "v.pth"))
    net = AdaINNet(vgg, load_decoder(save_decoder(tmp_path / "d.pth")))
    x = to_batch(_images(2, 3), 32)
    assert x.shape == (2, 3, 32, 32) and x.min() >= 0 and x.max() <= 1
    with torch.no_grad():
        out = net(x, x.flip(0))
    assert out.shape == x.shape
    assert [im.size for im in to_images(out)] == [(32, 32)] * 2
    wide = load_decoder(save_decoder(tmp_path / "wide.pth", width=1 / 8))
    with pytest.raises(ValueError, match="two different networks"):
        AdaINNet(vgg, wide)


def test_adain_needs_both_weight_files(tmp_path):
    with pytest.raises(ValueError, match="--decoder"):
        get_method("adain", MethodOptions(vgg=save_vgg(tmp_path / "v.pth")))
    with pytest.raises(ValueError, match="multiple of 8"):
        MethodOptions(resolution=12).check()
