"""Style-transfer methods: one interface, found by name.

A method paints content photos in the style of reference images, a batch at a time:
``transfer(contents, references, seeds)`` -> one RGB image per (content, reference) pair. A
method with randomness draws it from the pair's seed only, so an image is the same alone or in a
batch, on any rank. Methods register with ``@register`` (as stylizers do in
``canvas_data.stylizers.registry``); AdaIN is built in, and a stylizer backend that sets
``takes_references`` (the ``adain`` backend, or a plugin's) is usable as a method by its name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

ImageLike = Image.Image | np.ndarray


@dataclass(frozen=True)
class MethodOptions:
    """What a method is built with. ``vgg``/``decoder``: weight files (AdaIN); ``device``:
    ``auto`` (this rank's GPU, else the CPU), ``cpu``, ``cuda``, ``cuda:N``; ``dtype``:
    ``auto`` (float16 on a GPU, float32 on the CPU), ``float32``, ``float16``, ``bfloat16``;
    ``resolution``: the side, in pixels, images are processed and written at (a multiple of 8);
    ``alpha``: AdaIN's content-style trade-off (1: all style)."""

    vgg: Path | None = None
    decoder: Path | None = None
    device: str = "auto"
    dtype: str = "auto"
    resolution: int = 512
    alpha: float = 1.0

    def check(self) -> None:
        if self.resolution < 16 or self.resolution % 8:
            raise ValueError(
                f"resolution must be a multiple of 8 from 16 up (relu4_1 is 1/8 of the side "
                f"and reflection-padded), got {self.resolution}"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")


class StyleTransferMethod(ABC):
    """Base class: paint ``contents[i]`` in the style of ``references[i]`` with ``seeds[i]``."""

    name: ClassVar[str]

    def __init__(self, options: MethodOptions):
        options.check()
        self.options = options

    @abstractmethod
    def transfer(
        self, contents: Sequence[ImageLike], references: Sequence[ImageLike], seeds: Sequence[int]
    ) -> list[Image.Image]:
        """One RGB image per pair, ``options.resolution`` square."""

    def describe(self) -> dict[str, Any]:
        """What a result records about how its images were made."""
        record = {
            k: str(Path(v).resolve()) if isinstance(v, Path) else v
            for k, v in asdict(self.options).items()
        }
        return {"method": self.name, **record}


REGISTRY: dict[str, type[StyleTransferMethod]] = {}


def register(cls: type[StyleTransferMethod]) -> type[StyleTransferMethod]:
    """Class decorator adding a method to the registry under its ``name``."""
    REGISTRY[cls.name] = cls
    return cls


def known_methods() -> list[str]:
    """Registered methods and the stylizer backends that take references."""
    from canvas_data.stylizers.registry import REGISTRY as STYLIZERS
    from canvas_data.stylizers.registry import stylizer_class

    stylizer_class("procedural")  # a lookup adds the built-in backends
    by_reference = [n for n, c in STYLIZERS.items() if getattr(c, "takes_references", False)]
    return sorted(set(REGISTRY) | set(by_reference))


def get_method(name: str, options: MethodOptions) -> StyleTransferMethod:
    """The method registered as ``name`` (or a stylizer backend that takes references, wrapped),
    built with ``options``; ``ValueError`` listing the known names for any other."""
    if name in REGISTRY:
        return REGISTRY[name](options)
    from canvas_data.stylizers.registry import stylizer_class

    try:
        cls = stylizer_class(name)
    except ValueError:
        cls = None
    if cls is None or not getattr(cls, "takes_references", False):
        raise ValueError(
            f"unknown style-transfer method {name!r}; known: {', '.join(known_methods())}"
        )
    return StylizerMethod(cls, options)


class StylizerMethod(StyleTransferMethod):
    """A stylizer backend that paints from a reference (``takes_references``), as a method:
    each pair goes to its ``paint_with_reference(photo, reference, seed)``."""

    def __init__(self, stylizer_cls: type, options: MethodOptions):
        super().__init__(options)
        from canvas_data.recipe import load_recipe

        self.name = stylizer_cls.name
        self.stylizer = stylizer_cls(load_recipe("unlearncanvas"), **self._stylizer_options())

    def _stylizer_options(self) -> dict[str, Any]:
        o = self.options
        options: dict[str, Any] = {"device": o.device, "dtype": o.dtype, "alpha": o.alpha}
        if o.vgg is not None:
            options["vgg"] = str(o.vgg)
        if o.decoder is not None:
            options["decoder"] = str(o.decoder)
        return options

    def transfer(self, contents, references, seeds):
        size = self.options.resolution
        out = []
        for content, reference, seed in zip(contents, references, seeds, strict=True):
            photo = _pil(content).resize((size, size), Image.BILINEAR)
            out.append(self.stylizer.paint_with_reference(photo, _pil(reference), seed))
        return out


def _pil(image: ImageLike) -> Image.Image:
    return (image if isinstance(image, Image.Image) else Image.fromarray(image)).convert("RGB")


@register
class AdaINMethod(StyleTransferMethod):
    """AdaIN (``canvas_data.transfer.adain``) with weights from ``options.vgg`` and
    ``options.decoder``; batched; float16 on a GPU by default. Deterministic: no seed is used."""

    name = "adain"

    def __init__(self, options: MethodOptions):
        super().__init__(options)
        from canvas_data.transfer.adain import AdaIN

        needed = (
            ("--vgg", options.vgg, "vgg_normalised.pth"),
            ("--decoder", options.decoder, "decoder.pth"),
        )
        for what, path, file in needed:
            if path is None:
                raise ValueError(f"AdaIN needs {what}: a weight file (pytorch-AdaIN's {file})")
        self.model = AdaIN(
            options.vgg,
            options.decoder,
            device=options.device,
            dtype=options.dtype,
            alpha=options.alpha,
            resolution=options.resolution,
        )
        self.device, self.dtype = self.model.device, self.model.dtype

    def transfer(self, contents, references, seeds):
        if len(contents) != len(seeds):
            raise ValueError(f"{len(contents)} contents but {len(seeds)} seeds")
        return self.model.transfer(contents, references)
