"""Loaders for training: PyTorch datasets over the shards, one view per UnlearnCanvas task.

``load(source, task, ...)`` (or one of ``style_classification``, ``object_classification``,
``text_to_image``, ``edit_pairs``, ``style_transfer``) returns

- a map-style ``CanvasDataset`` (random access by index) over a packed dataset folder,
- a ``CanvasStream`` (``streaming=True``, ``canvas_data.loading.stream``): webdataset over the tars,
  with a shuffle buffer, shard shuffling, splitting by node and by worker, and resampling for
  multi-GPU epochs,
- or, given a ``datasets.Dataset`` from ``load_dataset``, that dataset with the view applied
  through ``with_transform`` (see ``canvas_data.loading.hf_views``).

All work with ``torch.utils.data.DataLoader`` and ``num_workers > 0``. Images are decoded once, at
the smallest JPEG scale the transform needs (``canvas_data.images.decode``). Random transforms are
seeded per (seed, epoch, rank, worker): call ``set_epoch(epoch)`` before each epoch, as with
PyTorch's
``DistributedSampler``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch.utils.data import Dataset

from canvas_data.loading.cache import DecodeCache
from canvas_data.loading.examples import Seeded, build_example
from canvas_data.loading.stream import CanvasStream
from canvas_data.loading.tasks import (
    EditPairs,
    ObjectClassification,
    Pool,
    Selection,
    StyleClassification,
    StyleTransfer,
    Task,
    TextToImage,
    example_rng,
    parse_key,
)
from canvas_data.loading.transforms import ImageTransform, make_transform
from canvas_data.pack.shard_index import ShardIndex, load_manifest, manifest_taxonomy

if TYPE_CHECKING:
    from datasets import Dataset as HFDataset

DEFAULT_TRANSFORMS = {
    StyleClassification: "classifier-eval",
    ObjectClassification: "classifier-eval",
}


class CanvasDataset(Seeded, Dataset):
    """Map-style view over a packed dataset folder: ``len()``, ``[i]``, and ``keys``.

    Use a ``DistributedSampler`` under DDP. Examples are in key order (``keys[i]`` is the sample
    behind example ``i``); the sampler shuffles.
    """

    def __init__(
        self,
        index: ShardIndex,
        task: Task,
        selection: Selection,
        transform: ImageTransform,
        *,
        seed: int | None = 0,
        cache: DecodeCache | None = None,
    ):
        self.index, self.task, self.selection = index, task, selection
        self.transform, self.seed, self.cache = transform, seed, cache
        self.pool = Pool(index.split_keys) if task.needs_partners else None
        self._entries: list[tuple[str, int]] = []  # (sample key, job number)
        keys = index.split_keys[selection.split]
        items = [parse_key(key) for key in keys]
        selection.check_held({i.style for i in items}, {i.obj for i in items}, str(index.root))
        for key, item in zip(keys, items, strict=True):
            if selection.keeps(item) and task.accepts(item):
                jobs = task.jobs(item, selection.split, self.pool, example_rng(seed, 0, key))
                self._entries.extend((key, j) for j in range(len(jobs)))

    @property
    def keys(self) -> list[str]:
        """The sample behind each example, in order."""
        return [key for key, _ in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, i: int) -> dict[str, Any]:
        self._seed_transform()
        key, j = self._entries[i]
        item = parse_key(key)
        rng = example_rng(self.seed, self.epoch, key)
        job = self.task.jobs(item, self.selection.split, self.pool, rng)[j]
        return build_example(
            self.task, item, job, self.index.read, self.transform, cache=self.cache
        )


def _hf_kind(source: Any) -> str | None:
    """The class name of a ``datasets`` object (``Dataset``, ``DatasetDict``, ...), else None."""
    return type(source).__name__ if type(source).__module__.startswith("datasets.") else None


def load(
    source: Any,
    task: Task,
    *,
    split: str | None = None,
    styles: str | Iterable[str] | None = None,
    objects: str | Iterable[str] | None = None,
    exclude_styles: str | Iterable[str] | None = None,
    exclude_objects: str | Iterable[str] | None = None,
    idx: int | Iterable[int] | None = None,
    transform: Any = "auto",
    decode_size: Any = "auto",
    streaming: bool = False,
    shuffle: int = 0,
    resampled: bool = False,
    epoch_size: int | None = None,
    seed: int | None = 0,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> CanvasDataset | CanvasStream | HFDataset:
    """A task view over ``source``: a packed dataset folder, or a ``datasets.Dataset`` split.

    ``split`` (default ``train``; for a ``datasets.Dataset``, the split it holds),
    ``styles``/``objects`` keep only those, ``exclude_styles``/``exclude_objects`` drop those:
    ``styles="Van_Gogh"`` is a style's forget set, ``exclude_styles="Van_Gogh"`` its retain set.
    ``idx``: keep only these photo indices (an int, a ``range`` or ints): ``idx=range(1, 4)``
    with ``styles="Van_Gogh"`` is the release's forget set (photos 1-3 of each object).
    ``transform``: ``"train"``, ``"classifier-eval"``, an ``ImageTransform``, an albumentations
    transform, or ``None`` (uint8 arrays); ``"auto"`` is ``classifier-eval`` for the
    classification tasks and ``train`` for the others. ``decode_size`` overrides the size the
    transform asks the decoder for (``None``: always decode at full size).
    ``streaming``, ``shuffle``, ``resampled``, ``epoch_size``: see ``CanvasStream``.
    ``seed``: shuffles, augmentations and style references (``None``: fresh each run).
    ``cache_dir``: keep decoded images there, so that epochs after the first skip the JPEG
    decode (see ``canvas_data.loading.cache``; a dataset folder only).
    """
    if isinstance(transform, str) and transform == "auto":
        transform = DEFAULT_TRANSFORMS.get(type(task), "train")
    made = make_transform(transform, decode_size=decode_size)
    selection = Selection.of(
        split or "train", styles, objects, exclude_styles, exclude_objects, idx
    )
    kind = _hf_kind(source)
    if kind not in (None, "Dataset"):
        raise ValueError(
            f"give one split as a datasets.Dataset, not a {kind}: load_dataset(path, split='train')"
        )
    if kind == "Dataset":
        if cache_dir is not None:
            raise ValueError("cache_dir applies to a dataset folder, not to a datasets.Dataset")
        if streaming or shuffle or resampled or epoch_size:
            raise ValueError(
                "streaming, shuffle, resampled and epoch_size apply to a dataset folder; "
                "for a datasets.Dataset use its own .shuffle() and a DataLoader"
            )
        from canvas_data.loading.hf_views import hf_view

        return hf_view(source, task, selection, made, split=split, seed=seed)
    root = Path(source)
    manifest = load_manifest(root)
    selection.check(manifest_taxonomy(manifest), manifest["splits"])
    cache = None
    if cache_dir is not None:
        cache = DecodeCache.for_dataset(Path(cache_dir), root, made.decode_size)
    splits = {selection.split}
    if isinstance(task, StyleTransfer) and task.reference_split:
        if task.reference_split not in manifest["splits"]:
            raise ValueError(f"{root}: no {task.reference_split!r} split for style references")
        splits.add(task.reference_split)
    if streaming:
        indexed = task.needs_partners or selection.idx is not None  # idx: count exactly
        index = ShardIndex(root, tuple(sorted(splits)), progress) if indexed else None
        return CanvasStream(
            root,
            task,
            selection,
            made,
            shuffle=shuffle,
            resampled=resampled,
            epoch_size=epoch_size,
            seed=seed,
            index=index,
            cache=cache,
        )
    if shuffle or resampled or epoch_size:
        raise ValueError("shuffle, resampled and epoch_size need streaming=True")
    index = ShardIndex(root, tuple(sorted(splits)), progress)
    view = CanvasDataset(index, task, selection, made, seed=seed, cache=cache)
    if selection.idx is not None and not len(view):
        raise ValueError(
            f"{root}: no {selection.split} samples of {task.name} with idx in {list(selection.idx)}"
        )
    return view


def style_classification(
    source: Any, order: str | Iterable[str] = "release-61", **options: Any
) -> CanvasDataset | CanvasStream | HFDataset:
    """Images and style labels in ``order`` (``release-61``, ``release-51``, or a list of names).
    Options as for ``load``."""
    return load(source, StyleClassification(_seq(order)), **options)


def object_classification(
    source: Any, order: str | Iterable[str] = "release-20", **options: Any
) -> CanvasDataset | CanvasStream | HFDataset:
    """Images and object labels in ``order`` (``release-20`` or a list). Options as for ``load``."""
    return load(source, ObjectClassification(_seq(order)), **options)


def text_to_image(
    source: Any, caption: str | Callable[[str, str], str] = "canonical", **options: Any
) -> CanvasDataset | CanvasStream | HFDataset:
    """Images and captions (``canonical``, ``release``, ``release-fmn``, ``release-compvis``,
    ``release-diffusers``, a template or a function); see ``canvas_data.loading.tasks.CAPTIONS``."""
    return load(source, TextToImage(caption), **options)


def edit_pairs(
    source: Any, instruction: str | Callable[[str, str], str] = "release", **options: Any
) -> CanvasDataset | CanvasStream | HFDataset:
    """(seed photo, painting, instruction) triples: ``source``, ``target``, ``instruction``."""
    return load(source, EditPairs(instruction), **options)


def style_transfer(
    source: Any,
    reference: str = "same-object",
    *,
    all_references: bool = False,
    reference_split: str | None = None,
    **options: Any,
) -> CanvasDataset | CanvasStream | HFDataset:
    """(content photo, style reference, ground truth) triplets: ``content``, ``reference``,
    ``target``. See ``canvas_data.loading.tasks.StyleTransfer`` for the reference rules."""
    task = StyleTransfer(reference, all_references=all_references, reference_split=reference_split)
    return load(source, task, **options)


def _seq(order: str | Iterable[str]) -> str | tuple[str, ...]:
    return order if isinstance(order, str) else tuple(order)
