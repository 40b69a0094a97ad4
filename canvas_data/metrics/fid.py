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
from canvas_data.metrics.answers import IMAGE_SUFFIXES

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


STAT_KEYS = ("real_features_sum", "real_features_cov_sum", "real_features_num_samples")


def save_reference_stats(metric, path: Path, weights_sha256: str, source: str) -> Path:
    """Keep the reference side of ``metric`` (feature sums) in an ``.npz`` file."""
    path = Path(path)
    arrays = {k: getattr(metric, k).detach().cpu().numpy() for k in STAT_KEYS}
    with writing(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays, weights_sha256=weights_sha256, source=source)
    return path


def load_reference_stats(metric, path: Path, weights_sha256: str) -> tuple[int, str]:
    """Restore a saved reference side into ``metric``; returns (images, what they came from)."""
    try:
        data = np.load(path)
        stored = {k: data[k] for k in (*STAT_KEYS, "weights_sha256", "source")}
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path}: not a reference statistics file ({err})") from None
    if str(stored["weights_sha256"]) != weights_sha256:
        raise ValueError(f"{path}: computed with other Inception weights than the ones given")
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
    progress: bool = True,
) -> dict[str, Any]:
    """FID of the images under ``answers`` against ``reference`` (a folder of images, or an
    ``.npz`` file of saved reference statistics). Returns the result as a dict."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    weights = weights_path(weights)
    sha = _sha256(weights)
    metric, backend = fid_metric(weights, device)
    generated = list_images(answers)
    reference = Path(reference)
    if reference.is_file():
        n_ref, ref_source = load_reference_stats(metric, reference, sha)
        ref = Features(used=n_ref)
    else:
        paths = list_images(reference)
        ref = feed(metric, paths, real=True, batch_size=batch_size, workers=workers,
                   progress=progress, desc="reference")  # fmt: skip
        ref_source = str(reference)
        if save_reference:
            save_reference_stats(metric, save_reference, sha, ref_source)
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
        "unreadable": [{"path": p, "reason": r} for p, r in gen.unreadable + ref.unreadable],
        "inception": {"file": str(weights), "sha256": sha, "backend": backend},
        "preprocessing": f"RGB, Pillow bicubic resize to {INPUT_SIZE}x{INPUT_SIZE}, uint8",
        "statistic": "torchmetrics FrechetInceptionDistance, 2048-d pool features, float64",
    }
