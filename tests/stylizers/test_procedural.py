"""The procedural stylizer: every recipe style runs, is deterministic, and the 60 are separable."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data
from sklearn.datasets import load_sample_image

from canvas_data.recipe import load_recipe
from canvas_data.stylizers.procedural_ops import OPS, validate_chain
from canvas_data.stylizers.registry import get_stylizer

SIZE = 256  # separability photos; painted at the stylizer's 384 px minimum and shrunk back


def _square(
    photo: np.ndarray, box: tuple[float, float, float] = (0.5, 0.5, 1.0), size: int = SIZE
) -> Image.Image:
    """A square crop (centre x, centre y, side as a fraction of the short side) at ``size`` px."""
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, -1)
    h, w = photo.shape[:2]
    side = int(min(h, w) * box[2])
    x0 = int(np.clip(box[0] * w - side / 2, 0, w - side))
    y0 = int(np.clip(box[1] * h - side / 2, 0, h - side))
    crop = photo[y0 : y0 + side, x0 : x0 + side, :3]
    return Image.fromarray(crop).resize((size, size), Image.LANCZOS)


def fit_photos() -> list[Image.Image]:
    """Six real photos the separability classifier learns from."""
    return [
        _square(data.astronaut()),
        _square(data.chelsea()),
        _square(data.rocket()),
        _square(load_sample_image("china.jpg")),
        _square(data.stereo_motorcycle()[0]),
        _square(data.camera()),
    ]


def score_photos() -> list[Image.Image]:
    """Four other photos (and crops of them) the classifier is scored on."""
    coffee, flower = data.coffee(), load_sample_image("flower.jpg")
    return [
        _square(coffee),
        _square(flower),
        _square(coffee, (0.3, 0.35, 0.6)),
        _square(flower, (0.7, 0.6, 0.55)),
    ]


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("unlearncanvas")


@pytest.fixture(scope="module")
def stylizer(recipe):
    return get_stylizer("procedural", recipe)


@pytest.fixture(scope="module")
def photo():
    return _square(data.astronaut(), size=128)


def test_every_style_validates_and_runs(recipe, stylizer, photo):
    assert len(recipe.styles) == 60
    for name in recipe.styles:
        style = recipe.style(name)
        validate_chain(name, style.procedural)
        out = stylizer.stylize(photo, style, seed=1)
        assert out.mode == "RGB" and out.size == photo.size, name
        described = stylizer.describe(style)
        assert described["backend"] == "procedural"
        assert described["chain"] == [dict(s) for s in style.procedural]


def test_every_style_runs_on_a_tiny_photo_at_its_own_size(recipe):
    """With no minimum working size the ops themselves must cope with 64 px."""
    stylizer = get_stylizer("procedural", recipe, min_side=0)
    photo = _square(data.coffee(), size=64)
    for name in recipe.styles:
        out = stylizer.stylize(photo, recipe.style(name), seed=2)
        assert out.mode == "RGB" and out.size == (64, 64), name


def test_odd_sizes_and_modes_keep_the_size(recipe, stylizer):
    photo = _square(data.chelsea()).resize((96, 72)).convert("L")
    for name in ("Van_Gogh", "Mosaic", "Pointillism", "Bricks", "Dadaism"):
        out = stylizer.stylize(photo, recipe.style(name), seed=3)
        assert out.mode == "RGB" and out.size == (96, 72), name


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_runs_with_its_defaults(name):
    img = np.asarray(_square(data.chelsea(), size=80), np.float32) / 255
    out = OPS[name].fn(img[:, :72], np.random.default_rng(0), **OPS[name].defaults)
    assert out.shape == (80, 72, 3), name
    assert np.isfinite(out).all() and out.min() >= -1e-4 and out.max() <= 1 + 1e-4, name


def test_same_seed_same_bytes(recipe, stylizer, photo):
    for name in recipe.styles:
        style = recipe.style(name)
        a = stylizer.stylize(photo, style, seed=5).tobytes()
        assert a == stylizer.stylize(photo, style, seed=5).tobytes(), name


def test_seed_changes_random_styles(recipe, stylizer, photo):
    for name in ("Pointillism", "Mosaic", "Meteor_Shower", "Van_Gogh", "Blossom_Season"):
        style = recipe.style(name)
        a = stylizer.stylize(photo, style, seed=1).tobytes()
        assert a != stylizer.stylize(photo, style, seed=2).tobytes(), name


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"op": "no_such_op"}, "unknown op 'no_such_op'"),
        ({"op": "posterize", "level": 4}, "unknown parameter 'level'"),
        ({"op": "posterize", "levels": 1}, "must be in [2, 64]"),
        ({"op": "posterize", "levels": "four"}, "must be like"),
        ({"op": "tint", "color": "red"}, "hex colour"),
        ({"op": "gradient_map", "colors": ["#000000"]}, "two or more hex colours"),
        ({"op": "warp", "kind": "twist"}, "must be one of"),
        ({"op": "channel_mix", "matrix": [1, 0, 0]}, "needs 9 values"),
        ({"op": "hatch", "angles": [45, 400]}, "must be in [-360, 360]"),
        ({"levels": 4}, "'op' name"),
    ],
)
def test_bad_chain_names_the_style_and_op(recipe, stylizer, photo, step, message):
    style = dataclasses.replace(recipe.style("Cartoon"), procedural=({"op": "blur"}, step))
    with pytest.raises(ValueError, match="Cartoon") as err:
        stylizer.stylize(photo, style, seed=0)
    assert message in str(err.value)
    if "op" in step and step["op"] in OPS:
        assert repr(step["op"]) in str(err.value)


def test_empty_chain_is_an_error():
    with pytest.raises(ValueError, match="Winter"):
        validate_chain("Winter", [])


def _texture(u8: np.ndarray, rgb: np.ndarray, gray: np.ndarray, gx, gy) -> list[float]:
    """Multi-scale detail energy, stroke coherence, flatness, colour count and edge densities."""
    out = []
    for sigma in (0.7, 1.5, 3.0, 6.0):
        detail = (gray - cv2.GaussianBlur(gray, (0, 0), sigma)).var()
        out += [np.log(detail + 1e-6), detail / (gray.var() + 1e-4)]
    for sigma in (0.7, 2.0):
        out.append(np.log((rgb - cv2.GaussianBlur(rgb, (0, 0), sigma)).var() + 1e-6))
    for sigma in (2.0, 5.0):
        jxx, jyy, jxy = (
            cv2.GaussianBlur(a * b, (0, 0), sigma) for a, b in ((gx, gx), (gy, gy), (gx, gy))
        )
        out.append((np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / (jxx + jyy + 1e-4)).mean())
    q = (u8 // 8).astype(np.int32)
    out.append((np.abs(q[:, 1:] - q[:, :-1]).sum(-1) == 0).mean())
    out.append(np.log(len(np.unique((q[..., 0] * 32 + q[..., 1]) * 32 + q[..., 2]))))
    out += [(cv2.Canny(u8, t, 2 * t) > 0).mean() for t in (30, 100, 200)]
    return out


def _spectrum(gray: np.ndarray, bands: int = 8) -> np.ndarray:
    """Share of the power spectrum in log-spaced frequency bands."""
    power = np.abs(np.fft.fftshift(np.fft.fft2(gray - gray.mean()))) ** 2
    h, w = gray.shape
    yy, xx = np.mgrid[:h, :w]
    radius = np.hypot(yy - h / 2, xx - w / 2)
    edges = np.geomspace(2, h / 2, bands + 1)
    rings = zip(edges[:-1], edges[1:], strict=True)
    energy = np.array([power[(radius >= a) & (radius < b)].sum() for a, b in rings])
    return np.log(energy / (energy.sum() + 1e-9) + 1e-6)


def _colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness metric."""
    rg, yb = rgb[..., 0] - rgb[..., 1], rgb[..., :2].mean(-1) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def features(img: Image.Image) -> np.ndarray:
    """Simple statistics of an image: colour histograms, tone, edges, detail and spectrum."""
    u8 = np.asarray(img)
    rgb = u8.astype(np.float32) / 255
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    n = gray.size
    hists = [
        np.histogram(np.clip(lab[..., c], lo, hi - 1e-3), 8, (lo, hi))[0] / n
        for c, (lo, hi) in enumerate(((0, 100), (-60, 60), (-60, 60)))
    ]
    hue = np.histogram(hsv[..., 0], 12, (0, 360), weights=hsv[..., 1])[0] / n
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    mag = np.hypot(gx, gy)
    stats = [
        *lab.reshape(-1, 3).mean(0),
        *lab.reshape(-1, 3).std(0),
        hsv[..., 1].mean(),
        hsv[..., 1].std(),
        mag.mean(),
        mag.std(),
        np.abs(gray - cv2.GaussianBlur(gray, (0, 0), 1.5)).mean(),
        (cv2.Canny(u8, 60, 150) > 0).mean(),
        (gray < 0.1).mean(),
        (gray > 0.9).mean(),
    ]
    angle = np.histogram(np.mod(np.arctan2(gy, gx), np.pi), 8, (0, np.pi), weights=mag)[0]
    angle = np.sqrt(angle / (angle.sum() + 1e-6))
    texture = _texture(u8, rgb, gray, gx, gy)
    parts = [*np.sqrt(hists), hue, stats, angle, [_colourfulness(rgb)], texture, _spectrum(gray)]
    return np.concatenate([np.ravel(p) for p in parts]).astype(np.float64)


@pytest.mark.slow
def test_styles_are_separable(recipe, stylizer):
    """A nearest-centroid classifier fitted on some photos tells the 60 styles apart on others.

    Features are standardised by their pooled within-style spread on the fitting photos.
    """
    names = recipe.styles

    def table(photos):
        return np.array(
            [
                [features(stylizer.stylize(p, recipe.style(n), seed=i)) for n in names]
                for i, p in enumerate(photos)
            ]
        )

    fit, score = table(fit_photos()), table(score_photos())
    centroids = fit.mean(0)
    spread = np.sqrt(((fit - centroids) ** 2).mean((0, 1))) + 1e-6
    dist = ((score[:, :, None, :] - centroids[None, None]) / spread) ** 2
    predicted = dist.sum(-1).argmin(-1)
    accuracy = float((predicted == np.arange(len(names))[None]).mean())
    confused = [(names[i], names[j]) for row in predicted for i, j in enumerate(row) if i != j]
    print(f"separability accuracy: {accuracy:.3f} over {len(names)} styles; confused: {confused}")
    assert accuracy >= 0.90, confused


@pytest.mark.parametrize("sigma", [0.5, 3.0, 8.0, 21.0, 60.0])
def test_wide_blurs_run_shrunk_and_match_a_full_size_blur(sigma):
    from canvas_data.stylizers.procedural_base import blur

    img = np.asarray(_square(data.astronaut(), size=600), np.float32) / 255
    full = cv2.GaussianBlur(img, (0, 0), sigma)
    fast = blur(img, sigma)
    assert fast.shape == img.shape and fast.dtype == np.float32
    inner = (slice(64, -64), slice(64, -64))  # borders are extended differently
    assert np.abs(fast - full)[inner].mean() < 2e-3
    assert np.abs(fast - full)[inner].max() < 0.03


def test_bilateral_of_a_large_image_looks_like_the_reference_size_one():
    bilateral = OPS["bilateral"].fn
    photo = _square(data.astronaut(), size=1024)
    rng = np.random.default_rng(0)
    big = bilateral(np.asarray(photo, np.float32) / 255, rng, diameter=9.0, iterations=2)
    ref = bilateral(np.asarray(photo.resize((512, 512), Image.LANCZOS), np.float32) / 255, rng,
                    diameter=9.0, iterations=2)  # fmt: skip
    assert big.shape == (1024, 1024, 3)
    assert np.abs(cv2.resize(big, (512, 512), interpolation=cv2.INTER_AREA) - ref).mean() < 0.01
