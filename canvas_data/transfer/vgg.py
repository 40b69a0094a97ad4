"""The normalised VGG-19 encoder of AdaIN, and its weights read from local files.

The layout is pytorch-AdaIN's ``net.vgg`` (naoto0804/pytorch-AdaIN, ``net.py``), which the
UnlearnCanvas release copies for its VGG losses (``style_transfer/evaluation/vgg_loss_utils.py``):
an ``nn.Sequential`` of 53 children whose first is a 1x1 convolution that maps RGB in [0, 1] to
the network's input (Caffe's BGR, mean-subtracted, 0-255), then VGG-19's 16 3x3 convolutions,
each after a ``ReflectionPad2d(1)``, with ``MaxPool2d(2, 2, ceil_mode=True)``. The state dict of
``vgg_normalised.pth`` is that Sequential's: ``0.weight`` (3, 3, 1, 1) ... ``51.bias``. The
features used are the outputs of children 3, 10, 17, 30 and 43 (relu1_1 .. relu5_1).

torchvision's ``vgg19`` state dict (``features.N.weight``) is accepted for the encoder too: its
convolutions go to the same places, and the 1x1 convolution is set to torchvision's input
normalisation (``(x - mean) / std``, ImageNet statistics). That network was trained with zero
padding and floor pooling, so with this layout's reflection padding its features differ from
torchvision's own forward pass near the borders: close, not equal, and not the weights AdaIN's
decoder was trained against.

Files are checked before anything is unpickled (``classify.checkpoint_file``) and read with
``torch.load(weights_only=True)``; keys and shapes are compared with the layout before loading,
so a wrong file fails in one line naming it and what was expected.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from canvas_data.classify.checkpoint_file import checkpoint_format

# VGG-19's 3x3 convolutions (output channels at width 1), "M" a max pooling.
VGG19_CONVS = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
)
# The Sequential index of each named ReLU output (pytorch-AdaIN's net.py comments).
RELU = {"relu1_1": 3, "relu2_1": 10, "relu3_1": 17, "relu4_1": 30, "relu5_1": 43}
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# torchvision's vgg19 ``features`` index of each 3x3 convolution, in order.
TORCHVISION_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _channels(c: int, width: float) -> int:
    return max(1, round(c * width))


def vgg_layers(width: float = 1.0) -> nn.Sequential:
    """pytorch-AdaIN's normalised VGG-19 (53 children), untrained. ``width`` scales every
    channel count (1: the real layout; smaller only for tests)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, (1, 1))]
    c_in = 3
    for spec in VGG19_CONVS:
        if spec == "M":
            layers.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True))
            continue
        c_out = _channels(spec, width)
        layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(c_in, c_out, (3, 3)), nn.ReLU()]
        c_in = c_out
    return nn.Sequential(*layers)


def conv_indices(layers: nn.Sequential) -> list[int]:
    """The Sequential indices of the convolutions of ``layers``."""
    return [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]


class VGGEncoder(nn.Module):
    """The encoder up to relu5_1 (children 0..43 of the normalised VGG-19).

    Input: RGB ``(N, 3, H, W)`` in [0, 1]. ``features(x)`` gives relu1_1 .. relu5_1 (channels
    64, 128, 256, 512, 512 at width 1; sides H, H/2, H/4, H/8, H/16 rounded up); ``encode(x)``
    gives relu4_1 only, as AdaIN uses it.
    """

    def __init__(self, layers: nn.Sequential):
        super().__init__()
        children = list(layers.children())
        cuts = [0] + [RELU[name] + 1 for name in STYLE_LAYERS]
        self.stages = nn.ModuleList(
            nn.Sequential(*children[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)
        )

    @property
    def width(self) -> int:
        """Channels of relu4_1 (512 for the real network)."""
        return self.stages[3][-2].out_channels

    def features(self, x: torch.Tensor, upto: str = "relu5_1") -> list[torch.Tensor]:
        """relu1_1, relu2_1, ... up to and including ``upto``."""
        out = []
        for name, stage in zip(STYLE_LAYERS, self.stages, strict=True):
            x = stage(x)
            out.append(x)
            if name == upto:
                break
        return out

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """relu4_1 of ``x``."""
        return self.features(x, "relu4_1")[-1]


def read_weights(path: Path, what: str) -> dict[str, torch.Tensor]:
    """The tensors of a ``torch.save`` state-dict file, read weights-only.

    ``FileNotFoundError`` naming the file when it is missing; ``InputError`` when it is not a
    PyTorch checkpoint (told before unpickling); ``ValueError`` naming the file when it holds
    anything but a mapping of names to tensors. ``what`` says what the file should be.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (expected {what})")
    checkpoint_format(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any parser failure: the file's fault, said in one line
        first = next((s.strip() for s in str(err).splitlines() if s.strip()), type(err).__name__)
        raise ValueError(
            f"{path}: not a weights-only state dict ({first}; expected {what})"
        ) from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not state:
        raise ValueError(f"{path}: not a state dict (expected {what})")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise ValueError(
            f"{path}: entries that are not named tensors, e.g. {bad[0]!r} (expected {what})"
        )
    return dict(state)


def check_keys(
    given: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    path: Path,
    what: str,
    required: set[str] | None = None,
) -> None:
    """``ValueError`` naming ``path`` and ``what`` when ``given`` misses a key of ``required``
    (default: all of ``expected``), has one ``expected`` lacks, or a tensor of another shape."""
    required = set(expected) if required is None else required
    missing = sorted(required - set(given), key=_natural)
    extra = sorted(set(given) - set(expected), key=_natural)
    wrong = sorted(
        (k for k in given if k in expected and given[k].shape != expected[k].shape), key=_natural
    )
    if not (missing or extra or wrong):
        return
    parts = []
    for label, keys in (("missing", missing), ("unexpected", extra), ("wrong shape of", wrong)):
        if keys:
            more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
            detail = ""
            if label == "wrong shape of":
                k = keys[0]
                detail = f" ({tuple(given[k].shape)}, expected {tuple(expected[k].shape)})"
            parts.append(f"{label} {keys[0]}{detail}{more}")
    raise ValueError(f"{path}: not {what} ({'; '.join(parts)})")


def _natural(key: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))


def _width_of(state: Mapping[str, torch.Tensor], first_conv: str) -> float:
    """The width multiplier a state dict was made at, from its first 3x3 convolution."""
    weight = state.get(first_conv)
    if weight is None or weight.ndim != 4:
        return 1.0
    return weight.shape[0] / 64


def from_torchvision(state: Mapping[str, torch.Tensor], width: float) -> dict[str, torch.Tensor]:
    """torchvision ``vgg19`` ``features.N`` tensors in the normalised layout's keys, with the
    1x1 convolution set to torchvision's input normalisation (RGB in [0, 1])."""
    ours = conv_indices(vgg_layers(width))[1:]
    out = {}
    for theirs, mine in zip(TORCHVISION_CONVS, ours, strict=True):
        for part in ("weight", "bias"):
            key = f"features.{theirs}.{part}"
            if key in state:
                out[f"{mine}.{part}"] = state[key]
    std = torch.tensor(IMAGENET_STD)
    out["0.weight"] = torch.diag(1.0 / std).reshape(3, 3, 1, 1)
    out["0.bias"] = -torch.tensor(IMAGENET_MEAN) / std
    return out


def load_vgg(path: Path | str) -> VGGEncoder:
    """The encoder with the weights of ``path``: pytorch-AdaIN's ``vgg_normalised.pth`` (all 53
    children, or the first 44, as the release's loss code keeps), or torchvision's ``vgg19``
    state dict (``features.N.weight``; ``classifier.*`` ignored). In eval mode, on the CPU.

    Errors name the file: missing, not a checkpoint, not weights-only, or keys and shapes that
    are not a VGG-19's (``ValueError``: "not a VGG-19 state dict ... (missing 2.weight ...)").
    """
    path = Path(path)
    what = "a VGG-19 state dict (pytorch-AdaIN's vgg_normalised.pth or torchvision's vgg19)"
    state = read_weights(path, what)
    if any(k.startswith("features.") for k in state):
        width = _width_of(state, "features.0.weight")
        given = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        template = vgg_layers(width)
        layout = {
            f"features.{i}.{part}": getattr(template[mine], part)
            for i, mine in zip(TORCHVISION_CONVS, conv_indices(template)[1:], strict=True)
            for part in ("weight", "bias")
        }
        needed = {k for k in layout if int(k.split(".")[1]) <= 28}  # up to relu5_1
        check_keys(given, layout, path, what, needed)
        state = from_torchvision(given, width)
    else:
        width = _width_of(state, "2.weight")
    layers = vgg_layers(width)
    expected = layers.state_dict()
    needed = {k for k in expected if int(k.split(".")[0]) <= RELU["relu5_1"]}
    check_keys(state, expected, path, what, needed)
    layers.load_state_dict(state, strict=False)
    return VGGEncoder(layers).eval().requires_grad_(False)
