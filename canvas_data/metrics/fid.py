"""Standard FID between an answer set and reference images, from a local Inception weight file.

The distance is ``torchmetrics``' ``FrechetInceptionDistance`` (the 2048-d pool features of the
FID Inception network, the Fréchet distance between the two Gaussians fitted to them, in float64).
The network comes from a local file, never a download, in one of two forms:

- ``inception-2015-12-05.pt``: NVIDIA's TorchScript port of the TensorFlow FID graph (used by
  StyleGAN2-ADA, StyleGAN3 and clean-fid); it needs nothing but ``torch``. It is a program, not
  only weights: ``torch.jit.load`` runs the code it holds, so only a trusted copy may be loaded.
- ``pt_inception-2015-12-05-6726825d.pth``: the weights-only state dict of pytorch-fid and
  torch-fidelity, read with ``torch.load(weights_only=True)`` (tensors only, no code runs) into
  :class:`canvas_data.metrics.fid_inception.FIDInceptionV3`, the same architecture in plain PyTorch.
  Preferred: it is found first in the default folder.

Every image is converted to RGB and resized to 299 x 299 with Pillow's bicubic filter (as
clean-fid does) before it reaches the network, so answer sets and references of any size compare.
Reference statistics can be saved once (``save_reference_stats``) and reused for many models.

``target``: the concept the model forgot (a style or an object), left out of both sets as the
release's ``machine_unlearning/evaluation/quantitative/fid.py --forget-theme T`` does (its
default, every image, is ``target=None``). What an image shows is read from its name: the
dataset's layout ``{Style}/{Object}/{idx}.jpg`` or an answer name
``{Theme}_{Object}_seed{seed}.jpg``; with a target, an image named neither way is refused, as
nothing tells whether it shows the target. Saved reference statistics record the target they
left out and are refused for another.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from canvas_data.atomic import writing
from canvas_data.metrics.answers import IMAGE_SUFFIXES, name_key, parse_name
from canvas_data.suggest import did_you_mean
from canvas_data.taxonomy import OBJECTS_20, SEED_STYLE, STYLES_61

INPUT_SIZE = 299
WEIGHTS_ENV = "CANVAS_INCEPTION"
DEFAULT_WEIGHTS = Path("~/.cache/canvas_data/inception-2015-12-05.pt")
DEFAULT_STATE_DICT = Path("~/.cache/canvas_data/pt_inception-2015-12-05-6726825d.pth")
TORCHSCRIPT_URL = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
    "inception-2015-12-05.pt"
)
STATE_DICT_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)


def weights_path(path: str | os.PathLike | None = None) -> Path:
    """The Inception file: ``path``, else ``$CANVAS_INCEPTION``, else the default folder's
    weights-only state dict, else its TorchScript file.

    A missing file is a one-line ``FileNotFoundError`` that says where to put it and where to
    get it.
    """
    chosen = path or os.environ.get(WEIGHTS_ENV)
    if not chosen:
        state_dict = DEFAULT_STATE_DICT.expanduser()
        chosen = state_dict if state_dict.is_file() else DEFAULT_WEIGHTS
    resolved = Path(chosen).expanduser()
    if not resolved.is_file():
        raise FileNotFoundError(
            f"no Inception weights at {resolved}: download {STATE_DICT_URL} (weights only) or "
            f"{TORCHSCRIPT_URL} (a program) once, on a machine with network, into "
            f"{DEFAULT_STATE_DICT.parent}, or pass --inception FILE (or set {WEIGHTS_ENV})"
        )
    return resolved


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


class TorchScriptInception(torch.nn.Module):
    """A TorchScript FID Inception called as ``net(images, return_features=True)``.

    Images are uint8 ``(N, 3, 299, 299)``; the output is ``(N, num_features)``.
    """

    def __init__(self, net: torch.jit.ScriptModule):
        super().__init__()
        self.net = net.eval()
        with torch.no_grad():
            probe = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)
            self.num_features = int(self.forward(probe).shape[-1])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.net(images, return_features=True)
        return features.reshape(images.shape[0], -1).float()


def fid_metric(weights: Path, device: str | torch.device = "cpu"):
    """``torchmetrics``' ``FrechetInceptionDistance`` over the network in ``weights``.

    A weights-only state dict is tried first (no code runs); only a file that is not one is
    loaded as TorchScript, which runs the program it holds.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    from canvas_data.metrics.fid_inception import fid_inception, read_state_dict

    try:
        state = read_state_dict(weights)
    except ValueError as not_weights:
        state, why = None, not_weights
    if state is not None:
        features = fid_inception(state, weights)
        return FrechetInceptionDistance(feature=features).to(device), "state-dict"
    try:
        with warnings.catch_warnings():  # the published file is TorchScript, whatever comes next
            warnings.simplefilter("ignore", DeprecationWarning)
            net = torch.jit.load(str(weights), map_location="cpu")
    except (RuntimeError, ValueError):
        raise ValueError(f"{weights}: neither TorchScript nor a state dict ({why})") from None
    try:
        features = TorchScriptInception(net)
    except RuntimeError as err:
        first = next((x.strip() for x in str(err).splitlines() if x.strip()), repr(err))
        raise ValueError(
            f"{weights}: TorchScript, but not called as net(images, return_features=True) "
            f"like inception-2015-12-05.pt ({first})"
        ) from None
    return FrechetInceptionDistance(feature=features).to(device), "torchscript"


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` at any depth, sorted, hidden files and folders left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load_for_inception(path: Path) -> np.ndarray | str:
    """An image as uint8 ``(3, 299, 299)`` (RGB, Pillow bicubic), or why it could not be read."""
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BICUBIC)
        return np.asarray(rgb).transpose(2, 0, 1).copy()
    except (OSError, ValueError, SyntaxError) as err:
        return f"{path}: cannot decode image: {err}"


@dataclass
class Features:
    """Images fed to one side of the metric, and those that could not be read."""

    used: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)


def feed(
    metric,
    paths: Sequence[Path],
    *,
    real: bool,
    batch_size: int = 50,
    workers: int = 4,
    progress: bool = True,
    desc: str = "inception",
) -> Features:
    """Run ``paths`` through the metric's network, as the real or the generated side."""
    fed = Features()
    device = metric.device
    bar = tqdm(total=len(paths), unit="img", desc=desc, disable=not progress)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(paths), batch_size):
            chunk = paths[start : start + batch_size]
            arrays = list(pool.map(load_for_inception, chunk))
            good = [a for a in arrays if not isinstance(a, str)]
            fed.unreadable += [
                (str(p), a) for p, a in zip(chunk, arrays, strict=True) if isinstance(a, str)
            ]
            if good:
                with torch.no_grad():
                    metric.update(torch.from_numpy(np.stack(good)).to(device), real=real)
                fed.used += len(good)
            bar.update(len(chunk))
    bar.close()
    return fed


TARGET_RULE = (
    "the release's fid.py --forget-theme: the images of the target (a style: every image in it; "
    "an object: every image of it) left out of both the generated and the reference set"
)
_STYLES = tuple(s for s in STYLES_61 if s != SEED_STYLE)


def fid_target(target: str) -> str:
    """The style or object ``target`` names (spaces, hyphens and case ignored), as the
    taxonomy writes it. ``ValueError`` for ``Seed_Images`` or a name of neither."""
    known = {name_key(n): n for n in (*_STYLES, *OBJECTS_20)}
    found = known.get(name_key(target))
    if found is None:
        raise ValueError(
            f"--target {target!r} is neither a style nor an object"
            f"{did_you_mean(target, known.values())}"
        )
    return found


def shows(path: Path, root: Path) -> tuple[str, str] | None:
    """``(theme, object)`` an image shows by its name, ``None`` when its name does not say:
    ``{Theme}/{Object}/{idx}.jpg`` (the dataset's layout) or ``{Theme}_{Object}_seed{seed}``."""
    parts = path.relative_to(root).parts
    themes = {name_key(n): n for n in STYLES_61}
    objects = {name_key(n): n for n in OBJECTS_20}
    if len(parts) >= 3:
        theme, obj = themes.get(name_key(parts[-3])), objects.get(name_key(parts[-2]))
        if theme and obj and Path(parts[-1]).stem.isdigit():
            return theme, obj
    answer = parse_name(path.name, STYLES_61, OBJECTS_20)
    return (answer.theme, answer.obj) if answer else None


def leave_out(paths: Sequence[Path], root: Path, target: str | None) -> tuple[list[Path], int]:
    """``paths`` without the images of ``target`` and how many were left out. ``ValueError``
    (naming the first and counting them) for images whose name does not say what they show."""
    if target is None:
        return list(paths), 0
    kept, dropped, unnamed = [], 0, []
    for path in paths:
        cell = shows(path, root)
        if cell is None:
            unnamed.append(path)
        elif target in cell:
            dropped += 1
        else:
            kept.append(path)
    if unnamed:
        raise ValueError(
            f"{root}: {len(unnamed)} images whose name does not say whether they show {target} "
            f"(first: {unnamed[0].relative_to(root)}); --target needs {{Style}}/{{Object}}/"
            "{idx}.jpg or {Theme}_{Object}_seed{seed}.jpg names"
        )
    return kept, dropped


STAT_KEYS = ("real_features_sum", "real_features_cov_sum", "real_features_num_samples")


def save_reference_stats(
    metric, path: Path, weights_sha256: str, source: str, target: str | None = None
) -> Path:
    """Keep the reference side of ``metric`` (feature sums) in an ``.npz`` file, with the target
    left out of it (``""``: none)."""
    path = Path(path)
    arrays = {k: getattr(metric, k).detach().cpu().numpy() for k in STAT_KEYS}
    with writing(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays, weights_sha256=weights_sha256, source=source, target=target or "")
    return path


def load_reference_stats(
    metric, path: Path, weights_sha256: str, target: str | None = None
) -> tuple[int, str]:
    """Restore a saved reference side into ``metric``; returns (images, what they came from).
    ``ValueError`` when it was computed with other weights, or leaving out another target than
    ``target`` (files from before targets left nothing out)."""
    try:
        data = np.load(path)
        stored = {k: data[k] for k in (*STAT_KEYS, "weights_sha256", "source")}
        left_out = str(data["target"]) if "target" in data.files else ""
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a reference statistics file ({err})") from None
    if str(stored["weights_sha256"]) != weights_sha256:
        raise ValueError(f"{path}: computed with other Inception weights than the ones given")
    if left_out != (target or ""):
        was = f"without the images of {left_out}" if left_out else "from every image"
        now = f"--target {target}" if target else "no --target"
        raise ValueError(
            f"{path}: reference statistics computed {was}, but this run has {now}; compute "
            "them again from the reference images"
        )
    for key in STAT_KEYS:
        current = getattr(metric, key)
        setattr(metric, key, torch.as_tensor(stored[key], dtype=current.dtype).to(metric.device))
    return int(stored["real_features_num_samples"]), str(stored["source"])


def compute_fid(
    answers: Path,
    reference: Path,
    *,
    weights: str | os.PathLike | None = None,
    device: str = "auto",
    batch_size: int = 50,
    workers: int = 4,
    save_reference: Path | None = None,
    target: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """FID of the images under ``answers`` against ``reference`` (a folder of images, or an
    ``.npz`` file of saved reference statistics), both without the images of ``target`` (a
    style or an object; see the module docstring). Returns the result as a dict."""
    target = fid_target(target) if target else None
    answers, reference = Path(answers), Path(reference)
    generated, dropped = leave_out(list_images(answers), answers, target)
    ref_paths, ref_dropped = (
        leave_out(list_images(reference), reference, target) if reference.is_dir() else ([], 0)
    )
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    weights = weights_path(weights)
    sha = _sha256(weights)
    metric, backend = fid_metric(weights, device)
    if reference.is_file():
        n_ref, ref_source = load_reference_stats(metric, reference, sha, target)
        ref = Features(used=n_ref)
    else:
        ref = feed(metric, ref_paths, real=True, batch_size=batch_size, workers=workers,
                   progress=progress, desc="reference")  # fmt: skip
        ref_source = str(reference)
        if save_reference:
            save_reference_stats(metric, save_reference, sha, ref_source, target)
    gen = feed(metric, generated, real=False, batch_size=batch_size, workers=workers,
               progress=progress, desc="answers")  # fmt: skip
    for side, fed in (("answers", gen), ("reference", ref)):
        if fed.used < 2:
            raise ValueError(f"{side}: FID needs at least 2 readable images, found {fed.used}")
    value = float(metric.compute())
    return {
        "kind": "canvas-eval fid",
        "fid": value,
        "answers": str(answers),
        "reference": ref_source,
        "images": {"answers": gen.used, "reference": ref.used},
        "target": target,
        "left_out": {
            "rule": TARGET_RULE if target else "none: every image of both sets",
            "answers": dropped,
            "reference": ref_dropped if reference.is_dir() else None,  # saved statistics
        },
        "unreadable": [{"path": p, "reason": r} for p, r in gen.unreadable + ref.unreadable],
        "inception": {"file": str(weights), "sha256": sha, "backend": backend},
        "preprocessing": f"RGB, Pillow bicubic resize to {INPUT_SIZE}x{INPUT_SIZE}, uint8",
        "statistic": "torchmetrics FrechetInceptionDistance, 2048-d pool features, float64",
    }
