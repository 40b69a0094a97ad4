"""Task views over a tiny packed build: labels, pairs, filters, workers and ranks, datasets."""

import json
import math
import shutil
import subprocess
import sys
from collections import Counter

import pytest
import webdataset as wds
from conftest import TINY_OBJECTS, fill_seed_photos, write_recipe
from datasets import load_dataset
from torch.utils.data import DataLoader, DistributedSampler

from canvas_data.images.decode import decode_image
from canvas_data.loading.loaders import (
    CanvasDataset,
    edit_pairs,
    object_classification,
    style_classification,
    style_transfer,
    text_to_image,
)
from canvas_data.loading.stream import CanvasStream
from canvas_data.pipeline import pack_dataset
from canvas_data.recipe import load_recipe
from canvas_data.stylizers.runner import stylize_workspace
from canvas_data.taxonomy import OBJECTS_20, SEED_STYLE, STYLES_51, STYLES_61, caption

STYLES = ["Monet", "Pointillism", "Van_Gogh", "Winter"]  # Pointillism is not in the 51-way head
ALL_STYLES = [SEED_STYLE, *STYLES]
SPLIT_IDX = {"train": (1, 2), "test": (3,)}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """4 styles + photos x 2 objects x 3 photos (photo 3 is test), 3 samples per shard."""
    root = tmp_path_factory.mktemp("loaders")
    recipe = load_recipe(write_recipe(root, styles=STYLES))
    work = root / "work"
    fill_seed_photos(work, recipe)
    stylize_workspace(work, recipe=recipe, progress=False, workers=1)
    out = root / "uc"
    pack_dataset(work, out, recipe=recipe, max_samples=3, progress=False)
    return out, work


def expected(split, styles=ALL_STYLES, objects=TINY_OBJECTS):
    return {f"{s}/{o}/{i}" for s in styles for o in objects for i in SPLIT_IDX[split]}


def pixels(work, key):
    return decode_image((work / f"{key}.jpg").read_bytes())


def collect(ds, **loader):
    return [ex["key"] for ex in DataLoader(ds, batch_size=None, **loader)]


def test_the_build_has_enough_shards_to_split(built):
    manifest = json.loads((built[0] / "manifest.json").read_text())
    shards = Counter(s["split"] for s in manifest["shards"])
    assert shards == {"train": 7, "test": 4}


@pytest.mark.parametrize(
    ("order", "names"),
    [
        ("release-61", STYLES_61),
        ("release-51", STYLES_51),
        (["Winter", "Monet"], ("Winter", "Monet")),
    ],
)
def test_style_labels_follow_the_order(built, order, names):
    ds = style_classification(built[0], order=order)
    kept = [s for s in ALL_STYLES if s in names]
    assert set(ds.keys) == expected("train", kept)
    for i in range(len(ds)):
        ex = ds[i]
        assert ex["label"] == names.index(ex["key"].split("/")[0])
        assert ex["image"].shape == (3, 224, 224)  # classifier-eval by default


def test_object_labels_and_custom_order(built):
    ds = object_classification(built[0], split="test")
    assert set(ds.keys) == expected("test")
    assert {ds[i]["label"] for i in range(len(ds))} == {OBJECTS_20.index(o) for o in TINY_OBJECTS}
    human = object_classification(built[0], order=["Human"])
    assert set(human.keys) == expected("train", objects=["Human"])
    assert {human[i]["label"] for i in range(len(human))} == {0}


def test_text_to_image_captions(built):
    ds = text_to_image(built[0], transform=None)
    for i in range(len(ds)):
        ex = ds[i]
        style, obj, _ = ex["key"].split("/")
        assert ex["caption"] == caption(style, obj)
        assert ex["image"].shape == (64, 64, 3)
    compvis = text_to_image(built[0], caption="release-compvis", styles=SEED_STYLE, objects="Cats")
    assert compvis[0]["caption"] == "A Cats image in Photo style."
    custom = text_to_image(built[0], caption="{style_name} {object}", styles="Van_Gogh")
    assert custom[0]["caption"].startswith("Van_Gogh ")


def test_edit_pairs_join_each_painting_to_its_seed_photo(built):
    out, work = built
    ds = edit_pairs(out, transform=None)
    assert set(ds.keys) == expected("train", STYLES)  # photos are sources, not targets
    for i in range(len(ds)):
        ex = ds[i]
        style, obj, idx = ex["key"].split("/")
        assert (ex["target"] == pixels(work, ex["key"])).all()
        assert (ex["source"] == pixels(work, f"{SEED_STYLE}/{obj}/{idx}")).all()
        assert ex["instruction"] == f"Transform the image to {style.replace('_', ' ')} style."
    named = edit_pairs(out, instruction="class-name", styles="Van_Gogh")
    assert named[0]["instruction"] == "Transform the image to Van_Gogh style."
    assert named[0]["source"].shape == named[0]["target"].shape == (3, 512, 512)


def test_style_transfer_triplets(built):
    out, work = built
    ds = style_transfer(out, transform=None)
    assert set(ds.keys) == expected("train", STYLES)
    for i in range(len(ds)):
        ex = ds[i]
        style, obj, idx = ex["key"].split("/")
        ref_style, ref_obj, ref_idx = ex["reference_key"].split("/")
        assert (ref_style, ref_obj) == (style, obj) and ref_idx != idx
        assert (ex["content"] == pixels(work, f"{SEED_STYLE}/{obj}/{idx}")).all()
        assert (ex["reference"] == pixels(work, ex["reference_key"])).all()
        assert (ex["target"] == pixels(work, ex["key"])).all()


def test_style_transfer_reference_rules(built):
    out = built[0]
    grid = style_transfer(out, split="test", reference_split="train", all_references=True)
    assert len(grid) == len(expected("test", STYLES)) * 2  # every train photo of the object
    pairs = {(grid[i]["key"], grid[i]["reference_key"]) for i in range(len(grid))}
    assert len(pairs) == len(grid)
    anyobj = style_transfer(out, "any-object", styles="Monet", transform=None)
    refs = set()
    for epoch in range(6):
        anyobj.set_epoch(epoch)
        for i in range(len(anyobj)):
            ex = anyobj[i]
            assert ex["reference_key"].startswith("Monet/")
            assert ex["reference_key"].split("/")[1:] != ex["key"].split("/")[1:]
            refs.add(ex["reference_key"])
    assert len(refs) > 1  # redrawn per epoch
    with pytest.raises(ValueError, match="unknown reference rule"):
        style_transfer(out, "same-style")


@pytest.mark.parametrize("streaming", [False, True])
def test_forget_and_retain_sets_are_exact(built, streaming):
    out = built[0]

    def keys(**kw):
        ds = text_to_image(out, transform=None, streaming=streaming, **kw)
        return collect(ds) if streaming else ds.keys

    for forget_kw, retain_kw, forget in [
        ({"styles": "Van_Gogh"}, {"exclude_styles": "Van_Gogh"}, expected("train", ["Van_Gogh"])),
        ({"objects": "Cats"}, {"exclude_objects": ["Cats"]}, expected("train", objects=["Cats"])),
    ]:
        forget_keys, retain_keys = keys(**forget_kw), keys(**retain_kw)
        assert sorted(forget_keys) == sorted(forget)
        assert sorted(retain_keys) == sorted(expected("train") - forget)
    assert sorted(keys(styles=["Monet", "Winter"], objects="Human", split="test")) == sorted(
        expected("test", ["Monet", "Winter"], ["Human"])
    )


@pytest.mark.parametrize("view", [text_to_image, edit_pairs])
def test_streaming_splits_exactly_across_ranks_and_workers(built, monkeypatch, view):
    out = built[0]
    want = expected("train") if view is text_to_image else expected("train", STYLES)
    orders = []
    for epoch in range(2):
        seen = Counter()
        order = []
        for rank in range(2):
            monkeypatch.setenv("RANK", str(rank))
            monkeypatch.setenv("WORLD_SIZE", "2")
            ds = view(out, streaming=True, shuffle=4, transform=None, seed=1)
            assert isinstance(ds, CanvasStream) and ds.num_samples == len(want)
            ds.set_epoch(epoch)
            keys = collect(ds, num_workers=2)
            seen.update(keys)
            order += keys
        assert set(seen) == want and max(seen.values()) == 1  # none lost, none repeated
        orders.append(order)
    assert orders[0] != orders[1]  # reshuffled per epoch


def test_map_style_splits_exactly_under_distributed_sampler(built):
    ds = edit_pairs(built[0], transform="train")
    assert isinstance(ds, CanvasDataset)
    seen = Counter()
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=0)
        loader = DataLoader(ds, batch_size=3, sampler=sampler, num_workers=2)
        for batch in loader:
            assert batch["source"].shape[1:] == batch["target"].shape[1:] == (3, 512, 512)
            seen.update(batch["key"])
    assert set(seen) == expected("train", STYLES) and max(seen.values()) == 1


DDP_SCRIPT = """
import json, sys
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from canvas_data.loading.loaders import edit_pairs, text_to_image

dist.init_process_group("gloo")
out = sys.argv[1]
stream = text_to_image(out, streaming=True, shuffle=4, transform=None, seed=1)
streamed = [ex["key"] for ex in DataLoader(stream, batch_size=None, num_workers=2)]
pairs = edit_pairs(out, transform=None)
sampler = DistributedSampler(pairs, shuffle=True, seed=0)  # rank and size from the group
mapped = [ex["key"] for ex in DataLoader(pairs, batch_size=None, sampler=sampler, num_workers=2)]
everyone = [None] * dist.get_world_size()
dist.all_gather_object(everyone, {"rank": dist.get_rank(), "stream": streamed, "map": mapped})
if dist.get_rank() == 0:
    with open(sys.argv[2], "w") as f:
        json.dump(everyone, f)
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_a_real_two_process_group_under_torchrun_covers_each_sample_once(built, tmp_path):
    """torchrun, a gloo process group, 2 ranks x 2 DataLoader workers: streaming and map-style."""
    script, result = tmp_path / "ddp.py", tmp_path / "result.json"
    script.write_text(DDP_SCRIPT)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(script),
        str(built[0]), str(result),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = json.loads(result.read_text())
    assert sorted(r["rank"] for r in ranks) == [0, 1]
    for view, want in (("stream", expected("train")), ("map", expected("train", STYLES))):
        seen = Counter(k for r in ranks for k in r[view])
        assert set(seen) == want and max(seen.values()) == 1, view  # none lost, none repeated
        assert all(r[view] for r in ranks), view  # both ranks did work


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_resampled_epochs_have_equal_length_per_worker(built):
    ds = text_to_image(built[0], streaming=True, resampled=True, transform=None, epoch_size=30)
    keys = collect(ds, num_workers=2)
    assert len(keys) == 2 * math.ceil(30 / 2)
    assert set(keys) <= expected("train")


def test_too_few_shards_for_ranks_and_workers(built, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("WORKER", "0")
    monkeypatch.setenv("NUM_WORKERS", "2")
    ds = text_to_image(built[0], split="test", streaming=True, transform=None)
    with pytest.raises(ValueError, match="4 test shards for 3 ranks x 2 workers"):
        next(iter(ds))


def test_through_load_dataset_with_transform(built, tmp_path):
    out, work = built
    cache = str(tmp_path / "hf")  # a fresh cache: another build's cached copy must not answer
    train = load_dataset(str(out), split="train", cache_dir=cache)
    styles = style_classification(train, order="release-51")
    assert len(styles) == len(expected("train", [s for s in ALL_STYLES if s in STYLES_51]))
    ex = styles[0]
    assert ex["label"] == STYLES_51.index(ex["key"].split("/")[0])
    assert ex["image"].shape == (3, 224, 224)
    pairs = edit_pairs(train, styles="Winter", transform=None)
    assert len(pairs) == len(expected("train", ["Winter"]))
    for i in range(len(pairs)):
        ex = pairs[i]
        _, obj, idx = ex["key"].split("/")
        assert (ex["source"] == pixels(work, f"{SEED_STYLE}/{obj}/{idx}")).all()
        assert (ex["target"] == pixels(work, ex["key"])).all()
    triplets = style_transfer(load_dataset(str(out), split="test", cache_dir=cache), "any-object")
    batch = next(iter(DataLoader(triplets, batch_size=4, num_workers=2)))
    assert batch["content"].shape == batch["reference"].shape == (4, 3, 512, 512)
    with pytest.raises(ValueError, match="holds the 'train' split"):
        text_to_image(train, split="test")
    with pytest.raises(ValueError, match="streaming"):
        text_to_image(train, streaming=True)
    with pytest.raises(ValueError, match="not a DatasetDict"):
        text_to_image(load_dataset(str(out), cache_dir=cache))


def test_bad_input_gives_one_line_errors(built, tmp_path):
    out = built[0]
    with pytest.raises(ValueError, match="unknown style names \\['VanGogh'\\]"):
        style_classification(out, styles="VanGogh")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        text_to_image(out, split="val")
    with pytest.raises(FileNotFoundError, match="no manifest"):
        text_to_image(tmp_path)
    with pytest.raises(ValueError, match="need streaming=True"):
        text_to_image(out, shuffle=10)


def test_an_undecodable_image_is_named_with_its_shard(built, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(built[0], broken)
    tar = sorted((broken / "data").glob("test-*.tar"))[0]
    samples = list(wds.WebDataset(str(tar), shardshuffle=False))
    victim = samples[0]["__key__"]
    samples[0]["jpg"] = b"not a jpeg"
    with wds.TarWriter(str(tar), encoder=False) as sink:
        for s in samples:
            sink.write({k: v for k, v in s.items() if k not in ("__url__", "__local_path__")})
    ds = text_to_image(broken, split="test", transform=None)
    with pytest.raises(ValueError, match=f"{victim}: cannot decode image"):
        [ds[i] for i in range(len(ds))]
    stream = text_to_image(broken, split="test", streaming=True, transform=None)
    with pytest.raises(ValueError, match=f"{tar.name}.*{victim}: cannot decode image"):
        list(stream)


def test_canvas_data_exports_the_loaders():
    import canvas_data

    assert canvas_data.edit_pairs.__module__ == "canvas_data.loading.loaders"


@pytest.mark.parametrize("streaming", [False, True])
def test_a_style_or_object_the_folder_lacks_is_an_error_naming_what_it_holds(built, streaming):
    out = built[0]
    held_styles = "Monet, Pointillism, Seed_Images, Van_Gogh, Winter"
    with pytest.raises(ValueError, match=rf"no style Cubism; it holds styles: {held_styles}$"):
        style_classification(out, styles=["Cubism", "Monet"], streaming=streaming)
    with pytest.raises(ValueError, match=r"train split holds no object Dogs; it holds objects: "):
        text_to_image(out, objects="Dogs", streaming=streaming)
    with pytest.raises(ValueError, match=r"no style Cubism"):
        edit_pairs(out, styles="Cubism", split="test", streaming=streaming)
    view = style_classification(out, exclude_styles="Cubism", streaming=streaming)
    assert (view.num_samples if streaming else len(view)) > 0


def test_the_same_error_from_a_datasets_split_and_a_view_made_directly(built, tmp_path):
    from canvas_data.loading.tasks import Selection, StyleClassification
    from canvas_data.loading.transforms import make_transform
    from canvas_data.pack.shard_index import ShardIndex

    out = built[0]
    train = load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf"))
    with pytest.raises(ValueError, match=r"holds no style Cubism; it holds styles: Monet, "):
        style_classification(train, styles="Cubism")
    with pytest.raises(ValueError, match=r"holds no object Dogs"):
        CanvasDataset(
            ShardIndex(out, ("train",)),
            StyleClassification("release-61"),
            Selection.of("train", objects="Dogs"),
            make_transform(None),
        )
    with pytest.raises(ValueError, match=r"holds no object Dogs"):
        CanvasStream(
            out,
            StyleClassification("release-61"),
            Selection.of(objects="Dogs"),
            make_transform(None),
        )
