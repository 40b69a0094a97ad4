"""The demo's offline photo source: real photographs shipped inside scikit-image and scikit-learn.

Each sample photo is mapped to the UnlearnCanvas object it shows, and used whole and as crops
(different position and scale, at least ``MIN_CROP_SIDE`` px on the short side, each still showing
the object) so every demo object has at least four photos. Files are read straight from the
packages' data folders: nothing is fetched. Credits and licences are the packages' own words
(``skimage/data/_fetchers.py`` docstrings, ``sklearn/datasets/images/README.txt``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from canvas_data.atomic import write_bytes

MIN_CROP_SIDE = 200  # the demo recipe's min_photo_side

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of width/height


@dataclass(frozen=True)
class BundledPhoto:
    """One demo photo: a sample file of a package (whole, or a crop of it) and what it shows."""

    object: str
    name: str  # output stem; the numeric prefix fixes the intake order
    package: str  # distribution name
    file: str  # path inside the package's data folder
    shows: str
    credit: str
    licence: str
    crop: Box | None = None  # None: the whole photo

    @property
    def output(self) -> str:
        return f"{self.object}/{self.name}.png"


# Package data folders, as (module whose folder holds the files, sub-folder).
_DATA_DIRS = {"scikit-image": ("skimage.data", ""), "scikit-learn": ("sklearn.datasets", "images")}

_CC_BY = (
    "Released under a creative commons license (CC-BY 2.0, "
    "https://creativecommons.org/licenses/by/2.0/). Attribution: Some rights reserved by "
)
_CHINA_LICENCE = _CC_BY + "danielbuechele."
_CHINA_CREDIT = (
    "danielbuechele on Flickr (https://www.flickr.com/photos/danielbuechele/6061409035/); "
    "retrieved 21st August, 2011 by Robert Layton (sklearn/datasets/images/README.txt)"
)
# The README's attribution line for flower.jpg repeats "danielbuechele", but its links name the
# Flickr user vultilion as the photographer; both are kept.
_FLOWER_LICENCE = _CC_BY + "danielbuechele [sic: the README's link names Flickr user vultilion]."
_FLOWER_CREDIT = (
    "vultilion on Flickr (https://www.flickr.com/photos/vultilion/6056698931/); "
    "retrieved 21st August, 2011 by Robert Layton (sklearn/datasets/images/README.txt)"
)
_CHELSEA_CREDIT = "Chelsea the cat, photographed by Stefan van der Walt (scikit-image sample data)"
_CHELSEA_LICENCE = "No copyright restrictions. CC0 by the photographer (Stefan van der Walt)."
_ASTRONAUT_CREDIT = (
    "Eileen Collins, NASA; downloaded from the NASA Great Images database "
    "(https://flic.kr/p/r9qvLn) (scikit-image sample data)"
)
_ASTRONAUT_LICENCE = "No known copyright restrictions, released into the public domain."
# scikit-image replaced the MIT-owned "cameraman" in 0.18 (scikit-image issue #3927); the
# camera.png of scikit-image >= 0.18 (this project needs >= 0.22) is Lav Varshney's CC0 photo.
_CAMERA_CREDIT = "Photographed by Lav Varshney (scikit-image sample data, 'camera')"
_CAMERA_LICENCE = "No copyright restrictions. CC0 by the photographer (Lav Varshney)."
_ROCKET_CREDIT = (
    "SpaceX; launch of DSCOVR on Falcon 9, Launch Complex 40, Cape Canaveral "
    "(https://www.flickr.com/photos/spacexphotos/16511594820/) (scikit-image sample data)"
)
_ROCKET_LICENCE = "The image was captured by SpaceX and released in the public domain."

_TEMPLE = "a temple tower above a lake (Tower of Buddhist Incense, Summer Palace, Beijing)"
_DAHLIA = "an orange pompon dahlia"
_TOWERS = "the lattice launch towers around a Falcon 9 rocket at dusk"
_CAT = "a tabby cat's face"
_ASTRONAUT = "astronaut Eileen Collins in her suit"
_CAMERAMAN = "a man filming with a camera on a tripod (greyscale)"


# file -> (object, package, what it shows, credit, licence)
_SOURCES: dict[str, tuple[str, str, str, str, str]] = {
    "china.jpg": ("Architectures", "scikit-learn", _TEMPLE, _CHINA_CREDIT, _CHINA_LICENCE),
    "chelsea.png": ("Cats", "scikit-image", _CAT, _CHELSEA_CREDIT, _CHELSEA_LICENCE),
    "flower.jpg": ("Flowers", "scikit-learn", _DAHLIA, _FLOWER_CREDIT, _FLOWER_LICENCE),
    "astronaut.png": ("Human", "scikit-image", _ASTRONAUT, _ASTRONAUT_CREDIT, _ASTRONAUT_LICENCE),
    "camera.png": ("Human", "scikit-image", _CAMERAMAN, _CAMERA_CREDIT, _CAMERA_LICENCE),
    "rocket.jpg": ("Towers", "scikit-image", _TOWERS, _ROCKET_CREDIT, _ROCKET_LICENCE),
}


def _photo(file: str, name: str, crop: Box | None = None) -> BundledPhoto:
    obj, package, shows, credit, licence = _SOURCES[file]
    return BundledPhoto(obj, name, package, file, shows, credit, licence, crop)


BUNDLED: list[BundledPhoto] = [
    _photo("china.jpg", "01_china"),
    _photo("china.jpg", "02_china_temple", (0.02, 0.03, 0.64, 0.97)),
    _photo("china.jpg", "03_china_roofs", (0.12, 0.05, 0.54, 0.68)),
    _photo("china.jpg", "04_china_lower_floors", (0.10, 0.33, 0.55, 1.0)),
    _photo("chelsea.png", "01_chelsea"),
    _photo("chelsea.png", "02_chelsea_left", (0.07, 0.0, 0.67, 0.9)),
    _photo("chelsea.png", "03_chelsea_eyes_nose", (0.24, 0.13, 0.80, 0.97)),
    _photo("chelsea.png", "04_chelsea_right", (0.40, 0.07, 0.93, 0.87)),
    _photo("flower.jpg", "01_flower"),
    _photo("flower.jpg", "02_flower_dahlia", (0.22, 0.10, 0.75, 0.90)),
    _photo("flower.jpg", "03_flower_petals", (0.30, 0.22, 0.66, 0.76)),
    _photo("flower.jpg", "04_flower_two_blooms", (0.25, 0.30, 0.70, 1.0)),
    _photo("astronaut.png", "01_astronaut"),
    _photo("camera.png", "02_camera"),
    _photo("astronaut.png", "03_astronaut_portrait", (0.20, 0.0, 0.80, 0.60)),
    _photo("camera.png", "04_camera_cameraman", (0.0, 0.10, 0.68, 0.78)),
    _photo("rocket.jpg", "01_rocket"),
    _photo("rocket.jpg", "02_rocket_left_towers", (0.0, 0.0, 0.67, 1.0)),
    _photo("rocket.jpg", "03_rocket_right_towers", (0.33, 0.0, 1.0, 1.0)),
    _photo("rocket.jpg", "04_rocket_tower_detail", (0.62, 0.25, 1.0, 0.82)),
]


def bundled_credits() -> list[dict[str, str | list[float] | None]]:
    """One credit record per bundled photo, for the dataset card."""
    return [
        {
            "photo": entry.output,
            "file": entry.file,
            "package": entry.package,
            "shows": entry.shows,
            "object": entry.object,
            "crop": list(entry.crop) if entry.crop else None,
            "credit": entry.credit,
            "licence": entry.licence,
        }
        for entry in BUNDLED
    ]


def source_path(entry: BundledPhoto) -> Path:
    """Where the package keeps the sample file (found without importing the data module)."""
    module, sub = _DATA_DIRS[entry.package]
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{entry.package} is not installed (no module {module})")
    path = Path(next(iter(spec.submodule_search_locations))) / sub / entry.file
    if not path.is_file():
        raise FileNotFoundError(f"{entry.package} ships no {entry.file} at {path}")
    return path


def render(entry: BundledPhoto) -> bytes:
    """The PNG bytes of one bundled photo: the sample file, cropped, in its own colour mode."""
    with Image.open(source_path(entry)) as im:
        im.load()
        icc = im.info.get("icc_profile")
        photo = im.crop(pixel_box(entry.crop, im.size)) if entry.crop else im.copy()
    if min(photo.size) < MIN_CROP_SIDE:
        raise ValueError(f"{entry.output} is {photo.size}, under {MIN_CROP_SIDE} px")
    info = PngInfo()
    info.add_text("Author", entry.credit)
    info.add_text("Copyright", entry.licence)
    info.add_text("Source", f"{entry.package}: {entry.file}")
    info.add_text("Description", entry.shows)
    buf = io.BytesIO()
    photo.save(buf, "PNG", pnginfo=info, icc_profile=icc)
    return buf.getvalue()


def pixel_box(crop: Box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A fractional crop box in pixels of an image of ``size``."""
    w, h = size
    left, top, right, bottom = crop
    return round(left * w), round(top * h), round(right * w), round(bottom * h)


def write_bundled_photos(dest: Path) -> Path:
    """Write ``dest/{Object}/{name}.png`` for every bundled photo; unchanged files are kept."""
    dest = Path(dest)
    for entry in BUNDLED:
        out = dest / entry.output
        data = render(entry)
        if not (out.is_file() and out.read_bytes() == data):
            write_bytes(out, data)
    return dest
