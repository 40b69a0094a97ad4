"""ICC v2 matrix/TRC display profiles built byte by byte, for colour-management tests.

Colourants are the D50-adapted (Bradford) XYZ of each primary, as in published profiles.
"""

from __future__ import annotations

import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)
SRGB_COLOURANTS = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))
P3_COLOURANTS = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)  # parametric type 3


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _xyz(values) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(v) for v in values)


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\x00"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_)) + ascii_ + bytes(8 + 3 + 67)


def _curve(gamma: float | None) -> bytes:
    """``para`` sRGB curve when ``gamma`` is None, else a ``curv`` power law (1.0: linear)."""
    if gamma is None:
        return b"para" + bytes(4) + struct.pack(">HH", 3, 0) + b"".join(map(_s15, SRGB_CURVE))
    if gamma == 1.0:
        return b"curv" + bytes(4) + struct.pack(">I", 0)
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def matrix_profile(
    description: str, colourants=SRGB_COLOURANTS, gamma: float | None = None
) -> bytes:
    """An RGB display profile: the given primaries and one tone curve for all channels."""
    curve = _curve(gamma)
    tags = [
        (b"desc", _desc(description)),
        (b"wtpt", _xyz(D50)),
        (b"rXYZ", _xyz(colourants[0])),
        (b"gXYZ", _xyz(colourants[1])),
        (b"bXYZ", _xyz(colourants[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text" + bytes(4) + b"no copyright\x00"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(24)
        + struct.pack(">I", 0)  # perceptual
        + b"".join(map(_s15, D50))
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light 0..1 to sRGB-encoded 0..255 (IEC 61966-2-1)."""
    x = np.clip(linear, 0, 1)
    v = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return v * 255


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded 0..255 to linear light 0..1."""
    v = np.asarray(encoded, dtype=np.float64) / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def p3_to_srgb(rgb) -> np.ndarray:
    """Display P3 values (sRGB tone curve) to sRGB 0..255, through D50 XYZ (clipped)."""
    to_xyz_p3 = np.array(P3_COLOURANTS).T
    to_xyz_srgb = np.array(SRGB_COLOURANTS).T
    linear = np.linalg.solve(to_xyz_srgb, to_xyz_p3 @ srgb_decode(rgb))
    return srgb_encode(linear)


def grey_profile(gamma: float = 1.0) -> bytes:
    """An ICC v2 greyscale display profile: one tone curve (``kTRC``), power law ``gamma``."""
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", _desc("Grey linear")), (b"wtpt", _xyz(D50)), (b"kTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body)) + b"lcms" + struct.pack(">I", 0x02100000)
        + b"mntrGRAYXYZ " + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + bytes(24)
        + struct.pack(">I", 0) + b"".join(struct.pack(">i", round(v * 65536)) for v in D50)
        + bytes(48)
    )  # fmt: skip
    return header + struct.pack(">I", len(tags)) + table + body
