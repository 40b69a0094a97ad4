"""Colour management: images with an embedded ICC profile converted to sRGB with LittleCMS.

Readers of the packed dataset (``simplejpeg``, Pillow, ``datasets``) take pixel values as sRGB
and ignore embedded profiles, so every image that enters a workspace or a shard is converted to
sRGB first. Whether a profile already is sRGB is decided by what it does, not by its name: a
grid of test colours is transformed through it and compared with the input.

- ``is_srgb(icc)``: the profile maps every test colour to itself in sRGB (within 1 level).
- ``to_srgb(im)``: the image in sRGB (``RGB``, or ``RGBA`` keeping its alpha) when its profile
  is not sRGB; otherwise the image itself. The colour channels are converted before any alpha
  is composited, so transparent images are colour-managed too.

A profile that LittleCMS cannot read, or whose colour space does not fit the image's mode (an
RGB profile on a greyscale image), is ignored, as browsers do: the values are taken as sRGB. A
greyscale profile does fit an RGB or RGBA image whose channels are all equal, as Pillow opens a
16-bit grey-and-alpha PNG.
"""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image, ImageCms

# Image modes by the colour space a profile for them describes; alpha is handled separately.
_SPACE = {
    "RGB": "RGB",
    "RGBA": "RGB",
    "RGBa": "RGB",
    "RGBX": "RGB",
    "P": "RGB",
    "PA": "RGB",
    "L": "GRAY",
    "LA": "GRAY",
    "La": "GRAY",
    "CMYK": "CMYK",
}
_BASE_MODE = {"RGB": "RGB", "GRAY": "L", "CMYK": "CMYK"}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_TOLERANCE = 1  # levels of 0..255 by which an sRGB profile may round a test colour


@functools.lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=1)
def _test_colours() -> Image.Image:
    """Every grey level, and a 9x9x9 grid of colours spanning the cube, as a 1-row image."""
    levels = np.linspace(0, 255, 9).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    greys = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return Image.fromarray(np.concatenate([grid, greys])[None], "RGB")


def _profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return None


def _space(profile: ImageCms.ImageCmsProfile) -> str:
    return profile.profile.xcolor_space.strip()


@functools.lru_cache(maxsize=64)
def is_srgb(icc: bytes) -> bool:
    """Whether the ICC profile ``icc`` maps colours to themselves in sRGB (within one level).

    Decided by transforming every grey level and a grid of 729 colours through the profile into
    LittleCMS's built-in sRGB, so an sRGB profile under any name (or version) is recognised and
    a profile named "sRGB" that is not (linear light, another white point) is not. An unreadable
    profile, or one that is not RGB, is not sRGB.
    """
    profile = _profile(icc)
    if profile is None or _space(profile) != "RGB":
        return False
    colours = _test_colours()
    try:
        out = ImageCms.profileToProfile(colours, profile, _srgb(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    diff = np.abs(np.asarray(out, np.int16) - np.asarray(colours, np.int16))
    return int(diff.max()) <= _TOLERANCE


def needs_conversion(im: Image.Image) -> bool:
    """Whether ``im`` carries a readable ICC profile that fits its mode and is not sRGB."""
    icc = im.info.get("icc_profile")
    if not icc or is_srgb(icc):
        return False
    profile = _profile(icc)
    if profile is None:
        return False
    space = _space(profile)
    return _SPACE.get(im.mode) == space or (space == "GRAY" and _grey_as_rgb(im))


def _grey_as_rgb(im: Image.Image) -> bool:
    """Whether ``im`` is RGB or RGBA with equal channels everywhere: a greyscale image that
    Pillow widened on opening (a 16-bit grey-and-alpha PNG opens as ``RGBA``)."""
    if im.mode not in ("RGB", "RGBA"):
        return False
    rgb = np.asarray(im.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def to_srgb(im: Image.Image) -> Image.Image:
    """``im`` converted from its embedded ICC profile to sRGB, or ``im`` itself.

    Returns an ``RGB`` image, or ``RGBA`` when ``im`` has transparency (alpha is kept as it is;
    only the colour channels are transformed). Images without a profile, with an sRGB one, or
    with one that is unreadable or does not fit the mode are returned unchanged.
    """
    if not needs_conversion(im):
        return im
    profile = _profile(im.info["icc_profile"])
    has_alpha = im.mode in _ALPHA_MODES or "transparency" in im.info
    alpha = im.convert("RGBA").getchannel("A") if has_alpha else None
    base = _BASE_MODE[_space(profile)]
    colour = im if im.mode == base else im.convert(base)
    try:
        out = ImageCms.profileToProfile(colour, profile, _srgb(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im
    if alpha is not None:
        out.putalpha(alpha)
    return out
