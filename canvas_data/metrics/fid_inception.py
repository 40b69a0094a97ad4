"""The FID Inception network in plain PyTorch, for a weights-only state dict.

This is the architecture of the TensorFlow 2015-12-05 FID graph as pytorch-fid and torch-fidelity
lay it out (Inception-v3 whose average pools leave padding out of the mean, and whose last block
max-pools), with the same layer names, so ``pt_inception-2015-12-05-6726825d.pth`` loads into it
strictly. The file is read with ``torch.load(weights_only=True)``: tensors only, no code runs.
Nothing here needs ``torchvision`` or ``torch-fidelity``.

Input: uint8 ``(N, 3, 299, 299)``, scaled as the graph does, ``(x - 128) / 128``. Output: the
2048-d pool features, float32 ``(N, 2048)``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

NUM_FEATURES = 2048


class _Conv(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU: ``conv.*`` and ``bn.*`` tensors."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3x3 average pool: the padding is not counted in the mean."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class _Mixed35(nn.Module):
    """A 35 x 35 block (Mixed_5b..5d): 64 + 64 + 96 + ``pool`` channels out."""

    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = _Conv(cin, 64, 1)
        self.branch5x5_1 = _Conv(cin, 48, 1)
        self.branch5x5_2 = _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(cin, pool, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        five = self.branch5x5_2(self.branch5x5_1(x))
        dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), five, dbl, self.branch_pool(_avg3(x))], 1)


class _Reduce35(nn.Module):
    """Mixed_6a: 35 x 35 to 17 x 17, 384 + 96 + ``cin`` channels out."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(cin, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), dbl, F.max_pool2d(x, 3, stride=2)], 1)


class _Mixed17(nn.Module):
    """A 17 x 17 block (Mixed_6b..6e) with factorised 7 x 7 convolutions: 768 channels out."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = _Conv(cin, 192, 1)
        self.branch7x7_1 = _Conv(cin, c7, 1)
        self.branch7x7_2 = _Conv(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = _Conv(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = _Conv(cin, c7, 1)
        self.branch7x7dbl_2 = _Conv(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = _Conv(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = _Conv(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = _Conv(c7, 192, row[0], padding=row[1])
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        dbl = x
        for i in range(1, 6):
            dbl = getattr(self, f"branch7x7dbl_{i}")(dbl)
        return torch.cat([self.branch1x1(x), seven, dbl, self.branch_pool(_avg3(x))], 1)


class _Reduce17(nn.Module):
    """Mixed_7a: 17 x 17 to 8 x 8, 320 + 192 + ``cin`` channels out."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _Conv(cin, 192, 1)
        self.branch3x3_2 = _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(cin, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = self.branch3x3_2(self.branch3x3_1(x))
        seven = x
        for i in range(1, 5):
            seven = getattr(self, f"branch7x7x3_{i}")(seven)
        return torch.cat([three, seven, F.max_pool2d(x, 3, stride=2)], 1)


class _Mixed8(nn.Module):
    """An 8 x 8 block (Mixed_7b, 7c): 2048 channels out; 7c max-pools its pool branch."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _Conv(cin, 320, 1)
        self.branch3x3_1 = _Conv(cin, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _Conv(cin, 448, 1)
        self.branch3x3dbl_2 = _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        three = self.branch3x3_1(x)
        three = torch.cat([self.branch3x3_2a(three), self.branch3x3_2b(three)], 1)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        dbl = torch.cat([self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg3(x)
        return torch.cat([self.branch1x1(x), three, dbl, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3: uint8 ``(N, 3, 299, 299)`` to float32 ``(N, 2048)`` pool features.

    ``fc`` (the 1008 ImageNet logits of the graph) is kept so that the published state dict
    loads strictly; FID does not use it.
    """

    num_features = NUM_FEATURES

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.Mixed_5b = _Mixed35(192, 32)
        self.Mixed_5c = _Mixed35(256, 64)
        self.Mixed_5d = _Mixed35(288, 64)
        self.Mixed_6a = _Reduce35(288)
        self.Mixed_6b = _Mixed17(768, 128)
        self.Mixed_6c = _Mixed17(768, 160)
        self.Mixed_6d = _Mixed17(768, 160)
        self.Mixed_6e = _Mixed17(768, 192)
        self.Mixed_7a = _Reduce17(768)
        self.Mixed_7b = _Mixed8(1280, max_pool=False)
        self.Mixed_7c = _Mixed8(2048, max_pool=True)
        self.fc = nn.Linear(NUM_FEATURES, 1008)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() - 128) / 128
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1).float()


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights-only file; ``ValueError`` naming the file for anything else.

    ``torch.load(weights_only=True)`` refuses pickled objects other than tensors and plain
    containers, so no code in the file runs.
    """
    if _is_torchscript(path):  # torch.load would hand it to torch.jit.load, which runs it
        raise ValueError(f"{path}: a TorchScript program, not a weights-only state dict")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable or code-bearing file: say which and why, one line
        first = next((s.strip() for s in str(err).splitlines() if s.strip()), type(err).__name__)
        raise ValueError(f"{path}: not a weights-only state dict ({first})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return state


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive is a zip file with a ``constants.pkl`` member."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any(n.rsplit("/", 1)[-1] == "constants.pkl" for n in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def fid_inception(state: dict[str, torch.Tensor], source: str | Path) -> FIDInceptionV3:
    """The network with the weights of ``state``, in eval mode.

    ``ValueError`` naming ``source`` when the tensors do not fit the architecture (a missing,
    extra or wrongly shaped tensor); batch-norm step counters are ignored.
    """
    net = FIDInceptionV3()
    expected = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    given = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    wrong = sorted(k for k in given if k in expected and given[k].shape != expected[k].shape)
    if missing or extra or wrong:
        problems = (("missing", missing), ("unexpected", extra), ("wrong shape of", wrong))
        parts = [
            f"{label} {keys[0]}" + (f" and {len(keys) - 1} more" if len(keys) > 1 else "")
            for label, keys in problems
            if keys
        ]
        raise ValueError(f"{source}: not the FID Inception's weights ({'; '.join(parts)})")
    net.load_state_dict(given, strict=False)  # every weight checked above; counters stay 0
    return net.eval().requires_grad_(False)
