"""What the dataset card and the Croissant metadata both state: links, citation, licence text and
the responsible-AI fields, derived from the recipe (which may override any of them)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from canvas_data.pack.manifest_schema import manifest_spec
from canvas_data.pack.packed import PackedIndex
from canvas_data.pack.variants import pack_resolution
from canvas_data.recipe import Recipe
from canvas_data.recipe_schema import RAI_FIELDS
from canvas_data.taxonomy import SEED_STYLE

PAPER_URL = "https://arxiv.org/abs/2402.11846"
RELEASE_URL = "https://huggingface.co/datasets/OPTML-Group/UnlearnCanvas"
RELEASE_CODE_URL = "https://github.com/OPTML-Group/UnlearnCanvas"
CITATION = """@article{zhang2024unlearncanvas,
  title   = {UnlearnCanvas: A Stylized Image Dataset to Benchmark Machine Unlearning for
             Diffusion Models},
  author  = {Zhang, Yihua and Fan, Chongyu and Zhang, Yimeng and Yao, Yuguang and Jia, Jinghan and
             Liu, Jiancheng and Zhang, Gaoyuan and Liu, Gaowen and Kompella, Ramana Rao and
             Liu, Xiaoming and Liu, Sijia},
  journal = {arXiv preprint arXiv:2402.11846},
  year    = {2024}
}"""


def seed_photos(manifest: dict[str, Any], split: str | None = None) -> Counter[str]:
    """Seed photos per object, from the manifest's counts (of one split, or of all)."""
    photos: Counter[str] = Counter()
    for name, per_style in manifest["counts"].items():
        if split in (None, name):
            photos.update(per_style.get(SEED_STYLE, {}))
    return photos


def dataset_title(recipe: Recipe) -> str:
    """The recipe's ``pretty_name``, else UnlearnCanvas and the recipe's name."""
    if recipe.spec.pretty_name:
        return recipe.spec.pretty_name
    return "UnlearnCanvas" if recipe.name == "unlearncanvas" else f"UnlearnCanvas ({recipe.name})"


def photo_source(recipe: Recipe) -> str:
    """Where the seed photos come from, as the recipe declares it."""
    source = recipe.spec.photos.source
    if source == "bundled":
        return (
            "real photographs shipped as sample images inside the scikit-image and scikit-learn "
            "Python packages (and crops of them), taken in with no network access"
        )
    if source == "folder":
        return "a folder of photos supplied by whoever built this copy, one sub-folder per object"
    return f"photos from the recipe's `{source}` source"


def licence_text(recipe: Recipe) -> str:
    """The licence of the seed photos, in the recipe's words (one line)."""
    return " ".join((recipe.spec.photos.licence or "not declared").split())


def dataset_licence(recipe: Recipe) -> str:
    """The licence of the images: the recipe's ``license`` key, else the seed photos' terms."""
    if recipe.spec.license:
        return recipe.spec.license
    return (
        "No single licence: each painting is a derivative of its seed photo and follows that "
        f"photo's terms. Seed photos: {licence_text(recipe)}"
    )


def hub_license(recipe: Recipe) -> str:
    """The card header's ``license``: the recipe's ``license`` when it is one SPDX identifier,
    lowercased as the Hub lists them (``cc-by-4.0``, ``mit``), else ``other`` (the card's text
    then gives the terms)."""
    from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

    declared = recipe.spec.license
    try:
        canonical = canonicalize_license_expression(str(declared)) if declared else ""
    except InvalidLicenseExpression:
        return "other"
    return canonical.lower() if canonical and " " not in canonical else "other"


def responsible_ai(recipe: Recipe, manifest: dict[str, Any], index: PackedIndex) -> dict[str, str]:
    """The Croissant RAI fields: defaults from the recipe and the build, overridden by the
    recipe's ``responsible_ai`` mapping. Unknown names raise ``ValueError``."""
    backends = ", ".join(manifest_spec(manifest).backends) or "none"
    models = index.provenance.model_ids()
    tax = recipe.taxonomy
    n_photos = sum(seed_photos(manifest).values())
    defaults = {
        "dataUseCases": (
            "Benchmarking machine unlearning in text-to-image diffusion models: fine-tune a model "
            "on the training split, unlearn one style or object, and score what it still "
            "generates with style and object classifiers trained on this data (unlearning "
            "accuracy, in-domain and cross-domain retain accuracy, FID). Also style transfer, "
            "style and object classification, and tests of image pipelines. Not for judging "
            "artists or people, and not a source of real artworks."
        ),
        "dataCollection": (
            f"Seed photos: {photo_source(recipe)}. Every photo was repainted in every style of "
            f"the recipe `{recipe.name}` by the `{backends}` stylizer of canvas_data "
            f"{manifest_spec(manifest).toolkit_version}, with a per-image seed; the photos "
            "themselves are kept as the class `Seed_Images`."
        ),
        "dataCollectionType": (
            "Curated real photographs, repainted by software (image-to-image stylization)."
        ),
        "dataCollectionRawData": (
            f"The {n_photos} seed photos, included as the class `Seed_Images` (centre square "
            f"crops at {recipe.resolution} px); every painting names its photo in `seed_key`."
        ),
        "dataPreprocessingProtocol": (
            "Photo intake: decode checks, EXIF orientation applied, any colour mode converted to "
            f"RGB, centre square crop, resize to {recipe.resolution} px, JPEG quality "
            f"{recipe.jpeg_quality}; photos under {recipe.min_photo_side} px on the short side "
            "are rejected. A provenance record per photo (source file, sha256, size) travels "
            "in the sample's `json`."
        ),
        "dataManipulationProtocol": (
            f"Stylization with the `{backends}` backend"
            + (f" ({'; '.join(models)})" if models else "")
            + f", seeded per image from the recipe seed {recipe.seed} and the image's key; "
            "style prompts and settings are those of `recipe.yaml`. " + _packing(recipe)
        ),
        "dataAnnotationProtocol": (
            "Labels come from construction, not annotation: the object is the folder the seed "
            "photo was filed under, the style is the style it was painted in, the caption is "
            "generated from both. Class indices follow the release's orders "
            f"({len(tax.styles)} styles incl. `Seed_Images`, {len(tax.objects)} objects)."
        ),
        "annotationsPerItem": "One style and one object label per image, by construction.",
        "dataBiases": (
            f"Few photos per object ({recipe.photos_per_object} at most), chosen by whoever "
            "built the copy, so each object class reflects a handful of viewpoints, places and "
            "people. Styles are the release's names; how closely a stylizer matches a named "
            "artist's or movement's look is not measured."
            + (
                " The built-in CPU stylizer (`procedural`) paints with image filters, not the "
                "release's diffusion look."
                if "procedural" in manifest_spec(manifest).backends
                else ""
            )
        ),
        "dataLimitations": (
            "Paintings are machine-made imitations of styles, not artworks. A classifier "
            "trained on one stylizer's images may not transfer to another's. Results are "
            "comparable with the release's only for the same styles, objects and class orders, "
            "and the splits differ from the release's (by seed photo here)."
            + (
                " In this build several seed photos of an object are crops of one picture, so "
                "its train and test photos can show the same scene: the split separates "
                "photos, not source pictures."
                if recipe.spec.photos.source == "bundled"
                else ""
            )
        ),
        "dataSocialImpact": (
            "Meant to make the removal of styles and objects from generative models measurable, "
            "for instance at an artist's request. Style names include real artists (Van Gogh, "
            "Monet, Picasso); their imitations must not be passed off as their work."
        ),
        "personalSensitiveInformation": (
            (
                "The Human class shows real people in its seed photos and their paintings; "
                if "Human" in recipe.objects
                else "No class is about people, though people may appear in photos; "
            )
            + "no names or other personal data are recorded beyond the photo credits. Whoever "
            "supplies photos of people is responsible for their consent and licences."
        ),
        "dataReleaseMaintenancePlan": (
            "Rebuilt, not patched: the recipe (and its sha256), the toolkit version and every "
            "image's provenance are recorded, so `canvas-build` makes the same dataset again; "
            "`canvas-build verify` checks a copy against `manifest.json`."
        ),
    }
    overrides = recipe.spec.responsible_ai or {}
    unknown = sorted(set(overrides) - set(RAI_FIELDS))
    if unknown:
        raise ValueError(
            f"recipe {recipe.name!r}: unknown responsible_ai fields {unknown}; "
            f"known: {', '.join(RAI_FIELDS)}"
        )
    merged = {**defaults, **{k: " ".join(str(v).split()) for k, v in overrides.items()}}
    return {k: merged[k] for k in RAI_FIELDS}


def _packing(recipe: Recipe) -> str:
    resized = pack_resolution(recipe)
    if resized:
        return f"Images were re-encoded at {resized} x {resized} px when packed (a size variant)."
    return "Images are packed byte-for-byte, never re-encoded."
