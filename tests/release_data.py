"""Tiny copies of the release, made in the test: its folder layout and its Parquet schema."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import webdataset as wds
import yaml
from PIL import Image

from canvas_data.taxonomy import SEED_STYLE


def jpeg(seed: int, size: int = 48, noise: bool = False, fmt: str = "JPEG") -> bytes:
    """A small, distinct image: smooth random colours (or noise, which compresses badly)."""
    rng = np.random.default_rng(seed)
    if noise:
        img = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    else:
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((size, size), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def make_release(
    root: Path,
    styles=("Monet", "Van_Gogh"),
    objects=("Cats", "Human"),
    photos: int = 3,
    size: int = 48,
) -> Path:
    """``root/{Style}/{Object}/{idx}.jpg`` plus Seed_Images, like a downloaded release copy."""
    n = 0
    for style in (SEED_STYLE, *styles):
        for obj in objects:
            for idx in range(1, photos + 1):
                path = root / style / obj / f"{idx}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(jpeg(n, size))
                n += 1
    return root


def release_recipe(folder: Path, styles=("Monet", "Van_Gogh"), objects=("Cats", "Human")) -> Path:
    """A recipe for a tiny release copy: the full recipe restricted to a few styles and objects."""
    path = folder / "release-tiny.yaml"
    data = {
        "extends": "unlearncanvas",
        "name": "release-tiny",
        "build": {"styles": list(styles), "objects": list(objects), "photos_per_object": 3},
        "split": {"test_per_object": 1},
        "shards": {"max_samples": 10},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def tar_samples(out: Path) -> dict[str, dict[str, bytes]]:
    """Every sample of a packed folder's tars, raw bytes per member, by key."""
    urls = sorted(str(p) for p in (out / "data").glob("*.tar"))
    samples = wds.WebDataset(urls, shardshuffle=False, empty_check=False)
    return {s["__key__"]: {k: v for k, v in s.items() if k not in _WHERE} for s in samples}


_WHERE = ("__url__", "__local_path__")  # where webdataset read a sample: differs between copies


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def write_release_parquet(path: Path, rows: list[dict], **options) -> None:
    """A Parquet file with the release's schema: ``image`` {bytes, path} and ``text``.

    All rows land in one row group, as in the release's oversized files, unless ``options``
    (which go to ``pq.write_table``) give a ``row_group_size``; by default a column chunk of up
    to 1024 rows is one page.
    """
    schema = pa.schema(
        [
            ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            ("text", pa.string()),
        ],
        metadata={
            "huggingface": json.dumps(
                {
                    "info": {
                        "features": {
                            "image": {"_type": "Image"},
                            "text": {"dtype": "string", "_type": "Value"},
                        }
                    }
                }
            )
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, str(path), **{"row_group_size": len(rows), **options})
