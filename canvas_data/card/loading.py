"""The dataset card's loading examples: webdataset, Parquet, pandas over ``samples.csv``,
``canvas_data`` and mlcroissant, each written for the copy at hand (its shards and columns)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.pack.packed import PackedIndex
from canvas_data.taxonomy import caption


def webdataset_block(manifest: dict[str, Any], load_path: str) -> str:
    train = [s["path"] for s in manifest["shards"] if s["split"] == "train"]
    if not train:
        return ""
    urls = f"{load_path}/data/train-{{{_shard_no(train[0])}..{_shard_no(train[-1])}}}.tar"
    return f"""With [webdataset](https://github.com/webdataset/webdataset), streaming the tars:

```python
import webdataset as wds

urls = "{urls}"
for sample in wds.WebDataset(urls, shardshuffle=False).decode("pil"):
    image, style, obj = sample["jpg"], sample["style.cls"], sample["object.cls"]
    meta = sample["json"]   # key, style, object, idx, split, seed_key, caption, provenance
```
"""


DATASETS_GLOB_BUG = "https://github.com/huggingface/datasets/issues/7468"
_GLOB_MAGIC = re.compile(r"[*?[]")


def load_path_warning(folder: str | Path) -> str | None:
    """Why ``load_dataset(folder)`` will fail here, or ``None``: ``datasets`` joins the card's
    file patterns to the folder's absolute path and globs the whole, so a ``[`` makes a character
    class (no file found) and ``*`` or ``?`` match other folders (their files mixed in)."""
    path = Path(folder).resolve().as_posix()
    found = sorted(set(_GLOB_MAGIC.findall(path)))
    if not found:
        return None
    return (
        f"{path}: load_dataset cannot read this folder, its path holds the glob characters "
        f"{' '.join(found)} ({DATASETS_GLOB_BUG}); move it, or rename the folders on its path, "
        "before loading it with datasets (canvas_data's loaders and webdataset are not affected)"
    )


def glob_note() -> str:
    return (
        "`datasets` cannot load a folder whose path holds `[`, `*` or `?` "
        f"([datasets#7468]({DATASETS_GLOB_BUG})): move or rename it first.\n"
    )


TRAIN_SCRIPT = (
    "https://github.com/huggingface/diffusers/blob/main/examples/text_to_image/"
    "train_text_to_image.py"
)


def training_flags(manifest: dict[str, Any]) -> list[str]:
    """The arguments that point diffusers' ``train_text_to_image.py`` (and the release's
    ``diffuser_sd_training.py``, which loads data the same way) at this copy's columns: both
    default to ``image`` and ``text``, and call ``load_dataset(dataset_name, dataset_config_name,
    data_dir=train_data_dir)``. One line per way of reading the copy: tars, then Parquet."""
    lines = []
    if manifest["shards"]:
        lines.append("--image_column jpg --caption_column txt")
    if manifest_spec(manifest).parquet:
        where = "--train_data_dir parquet " if manifest["shards"] else ""
        lines.append(f"{where}--image_column image --caption_column caption")
    return lines


def training_block(manifest: dict[str, Any], load_path: str) -> str:
    flags = training_flags(manifest)
    if not flags:
        return ""
    launch = "accelerate launch train_text_to_image.py"
    model = "--pretrained_model_name_or_path CompVis/stable-diffusion-v1-4 --resolution 512"
    commands = "\n".join(
        f"{launch} --dataset_name {load_path} {f} \\\n  {model} ..." for f in flags
    )
    export = f"{load_path}-train"
    why = "the tars' columns are named after their members" if manifest["shards"] else "see above"
    return f"""To fine-tune Stable Diffusion with diffusers'
[train_text_to_image.py]({TRAIN_SCRIPT}) (or the release's `diffuser_sd_training.py`,
which loads data the same way), name the columns: both look for `image` and `text` unless told
otherwise ({why}). Or export the training split in the release's layout, whose `metadata.jsonl`
gives `image` and `text`, and train on that folder with no column flags. The captions are the
canonical ones, as in the release's own diffusers training data.

```bash
{commands}
canvas-build export {load_path} --split train --no-sidecars --out {export}
{launch} --train_data_dir {export} \\
  {model} ...
```
"""


def first_style(index: PackedIndex, manifest: dict[str, Any]) -> str:
    """The style of the first training sample ``load_dataset`` returns (first key of the first
    train shard), as the comment of the loading example."""
    train = sorted(s["path"] for s in manifest["shards"] if s["split"] == "train")
    keys = [r for r in index.rows if train and r.shard == train[0]]
    if not keys:
        return "the style's name"
    return f'"{min(keys, key=lambda r: r.key).style}"'


def column_names(manifest: dict[str, Any]) -> dict[str, str]:
    """The column names ``load_dataset`` gives: WebDataset members, or the Parquet columns."""
    names = ("jpg", "style.cls", "object.cls", "txt")
    if not manifest["shards"]:
        names = ("image", "style", "object", "caption")
    return dict(zip(("col_image", "col_style", "col_object", "col_caption"), names, strict=True))


def tools_block(manifest: dict[str, Any], load_path: str, style: str, obj: str) -> str:
    parse = f"parse_caption(\"{caption(style, obj)}\")   # ('{style}', '{obj}')"
    if not manifest["shards"]:
        return f"""With `canvas_data`, the class orders and captions:

```python
from canvas_data import STYLES_61, parse_caption

{parse}
```

Check a copy against its manifest with `canvas-build verify {load_path}`.
"""
    return f"""With `canvas_data` and pandas, to find images by label without reading them:

```python
import pandas as pd
from canvas_data import STYLES_61, parse_caption

index = pd.read_csv("{load_path}/samples.csv")   # one line per image
index[(index["split"] == "test") & (index["style"] == "{style}")][["key", "shard"]]
{parse}
```

Check a copy (re-hash every shard, decode every image) and draw other contact sheets:

```bash
canvas-build verify {load_path}
canvas-build preview {load_path} --styles {style} --objects all --out sheet.jpg
```
"""


def croissant_block(manifest: dict[str, Any], load_path: str) -> str:
    if not manifest["shards"]:
        return (
            "[mlcroissant](https://github.com/mlcommons/croissant) reads `croissant.json`: the "
            "files with their sha256 and the class lists (`styles`, `objects`, `splits`).\n"
        )
    return f"""With [mlcroissant](https://github.com/mlcommons/croissant), from `croissant.json`:

```python
import mlcroissant as mlc

ds = mlc.Dataset(jsonld="{load_path}/croissant.json")
for record in ds.records("samples"):   # image from the tars + labels from samples.csv
    record["samples/image"], record["samples/style"], record["samples/split"]
    break
```

mlcroissant extracts every tar into its cache (`~/.cache/croissant`, or `$CROISSANT_CACHE`) keyed
by the tar's relative path; clear it before reading a rebuilt copy.
"""


def parquet_block(manifest: dict[str, Any], load_path: str) -> str:
    if not manifest_spec(manifest).parquet:
        return ""
    call = f'"{load_path}", data_dir="parquet"' if manifest["shards"] else f'"{load_path}"'
    return (
        "The same samples as Parquet (columns `image`, `style`, `object`, `caption`, `key`, "
        f"`idx`, `split`): `load_dataset({call})`.\n"
    )


def _shard_no(path: str) -> str:
    return path.rsplit("-", 1)[-1].removesuffix(".tar")
