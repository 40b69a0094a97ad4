"""``croissant.json``: ML Commons Croissant 1.1 metadata of a packed folder.

Distribution: every shard (``application/x-tar``, with its sha256 from the manifest), the sample
index ``samples.csv``, ``manifest.json`` and ``recipe.yaml``; a FileSet of the JPEG members
inside the shards. Record sets: ``samples`` (each image, read from inside the tars, joined on its
key with its row of ``samples.csv``: split, labels, caption, seed photo, size), and the class
lists ``styles``, ``objects`` and ``splits``. The responsible-AI fields come from the recipe.
Writing the JSON needs no Croissant library; ``mlcroissant`` reads and validates it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from canvas_data.atomic import write_json
from canvas_data.card.datasheet import (
    CITATION,
    PAPER_URL,
    RELEASE_URL,
    dataset_licence,
    dataset_title,
    responsible_ai,
    seed_photos,
)
from canvas_data.card.tables import split_counts
from canvas_data.pack.manifest import MANIFEST
from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.pack.packed import SAMPLES_CSV, PackedIndex
from canvas_data.public_url import public_url
from canvas_data.recipe import Recipe
from canvas_data.taxonomy import SEED_STYLE
from canvas_data.workspace import sha256_file

CROISSANT = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
# The @context of Croissant 1.1, as mlcroissant writes it.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
SPLIT_URLS = {
    "train": "cr:TrainingSplit",
    "test": "cr:TestSplit",
    "validation": "cr:ValidationSplit",
}
CSV_ID = "samples-csv"
IMAGES_ID = "images"

# samples.csv columns: (name, Croissant type, description)
_COLUMNS = (
    ("split", "sc:Text", "train or test; the split follows the seed photo"),
    ("style", "sc:Text", "style name (`Seed_Images` for the photo itself)"),
    ("style_index", "sc:Integer", "style class index (`style.cls`); names in record set styles"),
    ("object", "sc:Text", "object name"),
    (
        "object_index",
        "sc:Integer",
        "object class index (`object.cls`); names in record set objects",
    ),
    ("idx", "sc:Integer", "photo number within the object, 1-based"),
    ("seed_key", "sc:Text", "key of the seed photo this image was painted from"),
    ("caption", "sc:Text", "the caption (`txt`)"),
    ("shard", "sc:Text", "the tar that holds the sample"),
    ("width", "sc:Integer", "image width in pixels"),
    ("height", "sc:Integer", "image height in pixels"),
    ("bytes", "sc:Integer", "size of the JPEG in bytes"),
)
_REFERENCES = {
    "split": "splits/name",
    "style_index": "styles/index",
    "object_index": "objects/index",
}


def croissant_metadata(
    out: Path, manifest: dict[str, Any], recipe: Recipe, index: PackedIndex
) -> dict[str, Any]:
    """The Croissant JSON-LD of the packed folder ``out`` (``samples.csv`` must exist)."""
    out = Path(out)
    rai = responsible_ai(recipe, manifest, index)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": dataset_title(recipe),
        "description": _description(recipe, manifest),
        "conformsTo": CONFORMS_TO,
        "citeAs": CITATION,
        "license": dataset_licence(recipe),
        "url": public_url(recipe.spec.url or PAPER_URL),
        "isBasedOn": RELEASE_URL,
        "version": str(recipe.spec.version if recipe.spec.version is not None else "1.0.0"),
        "inLanguage": "en",
        "keywords": ["machine unlearning", "diffusion models", "style transfer", "UnlearnCanvas"],
        "distribution": _distribution(out, manifest),
        "recordSet": _record_sets(manifest, recipe),
    }
    if recipe.spec.date_published:  # not the build date: the file stays reproducible
        doc["datePublished"] = str(recipe.spec.date_published)
    doc.update({f"rai:{name}": text for name, text in rai.items()})
    return doc


def write_croissant(
    out: Path, manifest: dict[str, Any], recipe: Recipe, index: PackedIndex
) -> Path:
    """Write ``out/croissant.json``."""
    path = Path(out) / CROISSANT
    write_json(path, croissant_metadata(out, manifest, recipe, index))
    return path


def _description(recipe: Recipe, manifest: dict[str, Any]) -> str:
    total = sum(manifest["splits"].values())
    splits = ", ".join(f"{n:,} {s}" for s, n in split_counts(manifest).items())
    text = " ".join((recipe.spec.description or "").split())
    version = manifest_spec(manifest).toolkit_version
    return (
        f"{text} {total:,} images ({splits}), {len(recipe.styles)} styles x "
        f"{len(recipe.objects)} objects plus the seed photos, in WebDataset tar shards. "
        f"Built with canvas_data {version} from recipe `{recipe.name}` "
        f"(sha256 {recipe.sha256[:16]})."
    ).strip()


def _distribution(out: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    files = []
    for shard in manifest["shards"]:
        files.append(
            {
                "@type": "cr:FileObject",
                "@id": _shard_id(shard["path"]),
                "name": shard["path"],
                "description": f"{shard['samples']} {shard['split']} samples",
                "contentUrl": shard["path"],
                "contentSize": f"{shard['bytes']} B",
                "encodingFormat": "application/x-tar",
                "sha256": shard["sha256"],
            }
        )
    for part in manifest_spec(manifest).parquet:
        files.append(
            {
                "@type": "cr:FileObject",
                "@id": "parquet-" + Path(part.path).stem,
                "name": part.path,
                "description": f"{part.samples} {part.split} samples as a Parquet table",
                "contentUrl": part.path,
                "contentSize": f"{part.bytes} B",
                "encodingFormat": "application/x-parquet",
                "sha256": part.sha256,
            }
        )
    extra = (
        (CSV_ID, SAMPLES_CSV, "text/csv", "one line per sample: labels, split, shard, size"),
        ("manifest", MANIFEST, "application/json", "shards with sha256; counts per cell"),
        ("recipe", "recipe.yaml", "application/yaml", "the resolved recipe of this build"),
    )
    for file_id, name, mime, description in extra:
        path = out / name
        if path.is_file():
            files.append(
                {
                    "@type": "cr:FileObject",
                    "@id": file_id,
                    "name": name,
                    "description": description,
                    "contentUrl": name,
                    "contentSize": f"{path.stat().st_size} B",
                    "encodingFormat": mime,
                    "sha256": sha256_file(path),
                }
            )
    if not manifest["shards"]:
        return files
    files.append(
        {
            "@type": "cr:FileSet",
            "@id": IMAGES_ID,
            "name": "images",
            "description": "The JPEG member of every sample, named {Style}/{Object}/{idx}.jpg.",
            "containedIn": [{"@id": _shard_id(s["path"])} for s in manifest["shards"]],
            "encodingFormat": "image/jpeg",
            "includes": "*/*/*.jpg",
        }
    )
    return files


def _record_sets(manifest: dict[str, Any], recipe: Recipe) -> list[dict[str, Any]]:
    tax = recipe.taxonomy
    per_style: Counter[str] = Counter()
    per_object: Counter[str] = Counter()
    for per_cell in manifest["counts"].values():
        for style, objs in per_cell.items():
            for obj, n in objs.items():
                per_style[style] += n
                per_object[obj] += n
    photos = seed_photos(manifest)
    samples = {
        "@type": "cr:RecordSet",
        "@id": "samples",
        "name": "samples",
        "description": "One record per image: the JPEG from the shards, with its labels.",
        "key": {"@id": "samples/key"},
        "field": [
            {
                "@type": "cr:Field",
                "@id": "samples/key",
                "name": "key",
                "description": "{Style}/{Object}/{idx}, the WebDataset key and the release's path",
                "dataType": "sc:Text",
                "source": {
                    "fileSet": {"@id": IMAGES_ID},
                    "extract": {"fileProperty": "fullpath"},
                    "transform": {"regex": r"^(.+?)(?:\.jpg)?$"},
                },
                "references": {"fileObject": {"@id": CSV_ID}, "extract": {"column": "key"}},
            },
            {
                "@type": "cr:Field",
                "@id": "samples/image",
                "name": "image",
                "description": "the image (`jpg`)",
                "dataType": "sc:ImageObject",
                "source": {"fileSet": {"@id": IMAGES_ID}, "extract": {"fileProperty": "content"}},
            },
            *(_csv_field(name, dtype, description) for name, dtype, description in _COLUMNS),
        ],
    }
    styles = _enumeration(
        "styles",
        "Style classes in the order of `style.cls`.",
        [
            ("index", "sc:Integer", "class index"),
            ("name", "sc:Text", "class name"),
            ("prompt", "sc:Text", "the recipe's prompt for diffusion stylizers"),
            ("images", "sc:Integer", "images of this style in this build"),
        ],
        [[i, s, _prompt(recipe, s), per_style[s]] for i, s in enumerate(tax.styles)],
    )
    objects = _enumeration(
        "objects",
        "Object classes in the order of `object.cls`.",
        [
            ("index", "sc:Integer", "class index"),
            ("name", "sc:Text", "class name"),
            ("photos", "sc:Integer", "seed photos of this object"),
            ("images", "sc:Integer", "images of this object in this build"),
        ],
        [[i, o, photos[o], per_object[o]] for i, o in enumerate(tax.objects)],
    )
    splits = _enumeration(
        "splits",
        "The splits: by seed photo, so no photo content is shared between them.",
        [("name", "sc:Text", "split name"), ("url", "sc:URL", "Croissant split type")],
        [[s, SPLIT_URLS.get(s, s)] for s in split_counts(manifest)],
        key="name",
        data_type="cr:Split",
    )
    return [samples, styles, objects, splits] if manifest["shards"] else [styles, objects, splits]


def _csv_field(name: str, dtype: str, description: str) -> dict[str, Any]:
    field = {
        "@type": "cr:Field",
        "@id": f"samples/{name}",
        "name": name,
        "description": description,
        "dataType": dtype,
        "source": {"fileObject": {"@id": CSV_ID}, "extract": {"column": name}},
    }
    if name in _REFERENCES:
        field["references"] = {"field": {"@id": _REFERENCES[name]}}
    return field


def _enumeration(
    name: str,
    description: str,
    columns: list[tuple[str, str, str]],
    rows: list[list[Any]],
    *,
    key: str = "index",
    data_type: str = "sc:Enumeration",
) -> dict[str, Any]:
    return {
        "@type": "cr:RecordSet",
        "@id": name,
        "name": name,
        "description": description,
        "dataType": data_type,
        "key": {"@id": f"{name}/{key}"},
        "field": [
            {
                "@type": "cr:Field",
                "@id": f"{name}/{col}",
                "name": col,
                "description": text,
                "dataType": dtype,
            }
            for col, dtype, text in columns
        ],
        "data": [
            {f"{name}/{col[0]}": v for col, v in zip(columns, row, strict=True)} for row in rows
        ],
    }


def _prompt(recipe: Recipe, style: str) -> str:
    if style == SEED_STYLE or not recipe.defines(style):
        return ""
    return recipe.style(style).prompt


def _shard_id(path: str) -> str:
    return "shard-" + Path(path).stem
