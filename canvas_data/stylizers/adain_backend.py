"""The ``adain`` stylizer: each seed photo painted from a reference painting of the style.

AdaIN (``canvas_data.transfer.adain``, with pytorch-AdaIN's ``vgg_normalised.pth`` and
``decoder.pth``) transfers the style of one reference image onto the photo, so a new photo set
can be painted in the release's styles without a prompt. A style's references are the images
under the folder its recipe entry names (``styles.{Style}.references``), else under
``REFERENCES/{Style}`` (``--references``; a copy of the release, ``{Style}/{Object}/{idx}.jpg``,
works), at any depth, in name order. Each item's reference is chosen by its seed (``seed %
count``), so an item gets the same reference on any rank and in any batch; AdaIN itself has no
randomness. The model is loaded once per process and items of one style are painted in batches.

The network is ``canvas_data.transfer.adain``'s (a later stage in the layer order): that module
imports only torch, ``classify.checkpoint_file`` and ``stylizers.diffusers_load``, none of which
imports a stylizer backend, so no import circle forms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from canvas_data.recipe import Recipe, StyleSpec
from canvas_data.stylizers.base import Stylizer

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass(frozen=True)
class AdaINSettings:
    """How the adain stylizer paints: recipe values (``stylizers.adain``) and flags.

    ``vgg``/``decoder``: weight files; ``references``: ``DIR`` with ``DIR/{Style}/...`` images;
    ``resolution``: the side images are painted at (default: the recipe's); ``alpha``: content
    against style (1: all style); ``batch_size``: items of one style per forward pass (default:
    8 on a GPU, 1 on the CPU)."""

    vgg: str | None = None
    decoder: str | None = None
    references: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int | None = None
    resolution: int | None = None
    alpha: float = 1.0

    @classmethod
    def from_options(cls, options: dict[str, Any], recipe: Recipe) -> AdaINSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(f"unknown adain option(s): {', '.join(unknown)}")
        values = {k: v for k, v in options.items() if v is not None}
        settings = cls(**{**values, "resolution": values.get("resolution", recipe.resolution)})
        for flag, value, file in (
            ("--vgg", settings.vgg, "vgg_normalised.pth"),
            ("--decoder", settings.decoder, "decoder.pth"),
        ):
            if not value:
                raise ValueError(
                    f"the adain backend needs {flag} (pytorch-AdaIN's {file}; or "
                    f"stylizers.adain.{flag[2:]} in the recipe)"
                )
        return settings


def reference_images(folder: Path) -> list[Path]:
    """The images under ``folder`` at any depth, in name order (hidden files left out)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


class AdaINStylizer(Stylizer):
    """AdaIN from a reference painting per item; batched, in the driver's own process."""

    name: ClassVar[str] = "adain"
    batched: ClassVar[bool] = True
    takes_references: ClassVar[bool] = True

    def __init__(self, recipe: Recipe, **options: Any) -> None:
        super().__init__(recipe, **options)
        from canvas_data.transfer.adain import AdaIN

        s = self.settings = AdaINSettings.from_options(self.options, recipe)
        self.method = AdaIN(
            s.vgg,
            s.decoder,
            device=s.device,
            dtype=s.dtype,
            alpha=s.alpha,
            resolution=s.resolution,
        )
        on_gpu = self.method.device.type != "cpu"
        self.max_batch = s.batch_size or (8 if on_gpu else 1)
        self._references: dict[str, list[Path]] = {}

    def references_folder(self, style: str) -> Path | None:
        """Where ``style``'s references are: its recipe entry's folder, else REFERENCES/{Style}."""
        named = None
        if self.recipe.defines(style):
            named = self.recipe.style(style).extra.get("references")
        if named:
            return Path(named).expanduser()
        if self.settings.references:
            return Path(self.settings.references).expanduser() / style
        return None

    def references(self, style: str) -> list[Path]:
        """``style``'s reference images; ``ValueError`` naming the folder when there are none."""
        if style not in self._references:
            folder = self.references_folder(style)
            if folder is None:
                raise ValueError(
                    f"no style references for {style}: give --references DIR (DIR/{style}/*.jpg) "
                    f"or styles.{style}.references in the recipe"
                )
            files = reference_images(folder) if folder.is_dir() else []
            if not files:
                raise ValueError(f"{folder}: no reference images for {style} (.jpg, .png, .webp)")
            self._references[style] = files
        return self._references[style]

    def check_styles(self, styles: Sequence[str]) -> None:
        for style in styles:
            self.references(style)

    def reference_for(self, style: str, seed: int) -> Path:
        """The reference an item with ``seed`` is painted from."""
        files = self.references(style)
        return files[seed % len(files)]

    def _open(self, path: Path) -> Image.Image:
        from canvas_data.errors import reading

        with reading(path, "a style reference image"), Image.open(path) as im:
            return im.convert("RGB")

    def paint_with_reference(
        self, photo: Image.Image, reference: Image.Image, seed: int
    ) -> Image.Image:
        """``photo`` in the style of ``reference``, the photo's size."""
        (out,) = self.method.transfer([photo], [reference])
        return out if out.size == photo.size else out.resize(photo.size, Image.LANCZOS)

    def stylize(self, photo: Image.Image, style: StyleSpec, seed: int) -> Image.Image:
        reference = self._open(self.reference_for(style.name, seed))
        return self.paint_with_reference(photo, reference, seed)

    def stylize_batch(
        self, photos: list[Image.Image], style: StyleSpec, seeds: list[int]
    ) -> list[Image.Image | Exception]:
        try:
            refs = [self._open(self.reference_for(style.name, s)) for s in seeds]
            painted = self.method.transfer(photos, refs)
        except (OSError, ValueError, RuntimeError):  # paint one by one: each item's own error
            return [
                self._one(photo, style, seed) for photo, seed in zip(photos, seeds, strict=True)
            ]
        return [
            out if out.size == photo.size else out.resize(photo.size, Image.LANCZOS)
            for out, photo in zip(painted, photos, strict=True)
        ]

    def _one(self, photo: Image.Image, style: StyleSpec, seed: int) -> Image.Image | Exception:
        try:
            return self.stylize(photo, style, seed)
        except (OSError, ValueError, RuntimeError) as err:
            return err

    def describe_item(self, style: StyleSpec, seed: int) -> dict[str, Any]:
        reference = self.reference_for(style.name, seed)
        return {"reference": str(reference)}

    def describe(self, style: StyleSpec) -> dict[str, Any]:
        s = self.settings
        return {
            "backend": self.name,
            "method": "AdaIN (Huang and Belongie 2017), pytorch-AdaIN layout",
            "vgg": s.vgg,
            "decoder": s.decoder,
            "references": str(self.references_folder(style.name)),
            "reference_count": len(self.references(style.name)),
            "reference_choice": "the item's seed modulo the count, in name order",
            "resolution": s.resolution,
            "alpha": s.alpha,
            "dtype": str(self.method.dtype).removeprefix("torch."),
        }
