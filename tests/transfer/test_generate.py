"""A method run over the benchmark: the release's file names, resume after a kill, disjoint
shares per rank, one set of settings per folder, bad weights refused before any image."""

from __future__ import annotations

import pytest
from PIL import Image
from transfer_weights import save_decoder, save_vgg

from canvas_data.transfer.generate import SETTINGS_FILE, generate_transfers
from canvas_data.transfer.methods import MethodOptions
from canvas_data.transfer.triplets import index_for, plan_triplets

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_packed):
    root = tmp_path_factory.mktemp("st")
    data = tiny_packed
    options = MethodOptions(
        vgg=save_vgg(root / "vgg_normalised.pth"),
        decoder=save_decoder(root / "decoder.pth"),
        resolution=32,
    )
    return data, options


def _written(out):
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))


def test_every_triplet_under_the_release_name_and_resume(setup, tmp_path):
    data, options = setup
    out = tmp_path / "adain"
    report = generate_transfers(data, out, "adain", options, batch_size=3)
    expected = [t.name for t in plan_triplets(index_for(data))]
    assert report.written == report.planned == len(expected) and not report.failed
    assert _written(out) == expected
    with Image.open(out / expected[0]) as im:
        assert (im.format, im.size) == ("JPEG", (32, 32))
    assert (out / SETTINGS_FILE).is_file()
    # a killed run left one image cut short, and another is gone: only those are painted again
    cut = out / expected[1]
    cut.write_bytes(cut.read_bytes()[:100])
    (out / expected[2]).unlink()
    again = generate_transfers(data, out, "adain", options, batch_size=3)
    assert (again.written, again.already_done) == (2, len(expected) - 2)
    with Image.open(cut) as im:
        im.load()
    assert not list(out.rglob(".*partial*"))


def test_shares_are_disjoint_and_cover_everything(setup, tmp_path):
    data, options = setup
    names = []
    for i in range(2):
        generate_transfers(data, tmp_path / f"r{i}", "adain", options, num_shards=2, shard_index=i,
                           styles=["Monet", "Winter"])  # fmt: skip
        names.append(set(_written(tmp_path / f"r{i}")))
    assert names[0] and names[1] and not names[0] & names[1]
    everything = plan_triplets(index_for(data), ["Monet", "Winter"])
    assert names[0] | names[1] == {t.name for t in everything}


def test_one_folder_holds_one_set_of_settings(setup, tmp_path):
    data, options = setup
    out = tmp_path / "adain"
    generate_transfers(data, out, "adain", options, styles=["Monet"], objects=["Cats"])
    other = MethodOptions(vgg=options.vgg, decoder=options.decoder, resolution=32, alpha=0.5)
    with pytest.raises(ValueError, match=r"transfer.json: .*alpha=1.0, not 0.5"):
        generate_transfers(data, out, "adain", other, styles=["Monet"], objects=["Human"])


def test_bad_weights_fail_before_any_image(setup, tmp_path):
    data, options = setup
    bad = MethodOptions(vgg=options.decoder, decoder=options.decoder, resolution=32)
    with pytest.raises(ValueError, match="decoder.pth: not a VGG-19"):
        generate_transfers(data, tmp_path / "out", "adain", bad)
    assert not (tmp_path / "out").exists()
