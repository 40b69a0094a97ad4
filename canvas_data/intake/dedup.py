"""Near-duplicate photos by perceptual hashing (``imagehash.phash``).

A photo's fingerprint is the 64-bit pHash of its square seed image, plus the pHashes of 18
windows of it (90% and 80% of the side, at 9 positions each). Two photos are near-duplicates when
the whole of one is close to the whole or a window of the other: the same picture at two sizes,
re-encoded, or cropped by up to about a tenth of its side. Distinct photos are typically 20 or
more bits apart; re-encodes and resizes 0 to 4, such crops mostly under 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

MAX_DISTANCE = 10  # bits out of 64
WINDOW_SCALES = (0.9, 0.8)
_SIDE = 256  # fingerprints are taken at this size, whatever the seed resolution
_N_WINDOWS = 9 * len(WINDOW_SCALES)


@dataclass(frozen=True)
class Fingerprint:
    """The pHash of a whole image and of its windows, as 64-bit integers."""

    whole: int
    windows: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        return {"phash": f"{self.whole:016x}", "phash_windows": [f"{w:016x}" for w in self.windows]}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Fingerprint | None:
        """The fingerprint kept in a sidecar, or None if it has none (or a malformed one)."""
        try:
            whole = int(str(data["phash"]), 16)
            windows = tuple(int(str(w), 16) for w in data["phash_windows"])  # type: ignore[union-attr]
        except (KeyError, TypeError, ValueError):
            return None
        return cls(whole, windows) if len(windows) == _N_WINDOWS else None


def fingerprint(img: Image.Image) -> Fingerprint:
    """Fingerprint an image (it is centre-cropped to a square first, as seed photos are)."""
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    square = img.convert("RGB").crop((left, top, left + side, top + side))
    square = square.resize((_SIDE, _SIDE), Image.Resampling.LANCZOS)
    windows = []
    for scale in WINDOW_SCALES:
        size = round(_SIDE * scale)
        room = _SIDE - size
        for y in (0, room // 2, room):
            for x in (0, room // 2, room):
                windows.append(_phash(square.crop((x, y, x + size, y + size))))
    return Fingerprint(_phash(square), tuple(windows))


def fingerprint_file(path: Path) -> Fingerprint:
    with Image.open(path) as im:
        return fingerprint(im)


def _phash(img: Image.Image) -> int:
    return int(str(imagehash.phash(img)), 16)


def distance(a: Fingerprint, b: Fingerprint) -> int:
    """Bits between the closest of (a whole, b's windows), (b whole, a's windows), (wholes)."""
    pairs = [a.whole ^ b.whole]
    pairs += [a.whole ^ w for w in b.windows] + [b.whole ^ w for w in a.windows]
    return min(p.bit_count() for p in pairs)


@dataclass
class DuplicateIndex:
    """Fingerprints of accepted photos, searched for the nearest one of a new photo."""

    max_distance: int = MAX_DISTANCE
    keys: list[str] = field(default_factory=list)
    _wholes: list[int] = field(default_factory=list)
    _windows: list[tuple[int, ...]] = field(default_factory=list)
    _arrays: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, key: str, fp: Fingerprint) -> None:
        self.keys.append(key)
        self._wholes.append(fp.whole)
        self._windows.append(fp.windows)
        self._arrays = None

    def nearest(self, fp: Fingerprint) -> tuple[str, int] | None:
        """``(key, distance)`` of the closest photo within ``max_distance``, else None."""
        if not self.keys:
            return None
        if self._arrays is None:
            self._arrays = (
                np.array(self._wholes, dtype=np.uint64),
                np.array(self._windows, dtype=np.uint64),
            )
        wholes, windows = self._arrays
        mine = np.array(fp.windows, dtype=np.uint64)
        whole = np.uint64(fp.whole)
        dist = np.minimum.reduce(
            [
                _popcount(wholes ^ whole),
                _popcount(windows ^ whole).min(axis=1),
                _popcount(wholes[:, None] ^ mine[None, :]).min(axis=1),
            ]
        )
        best = int(np.argmin(dist))
        return (self.keys[best], int(dist[best])) if dist[best] <= self.max_distance else None


def _popcount(x: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(np.ascontiguousarray(x).view(np.uint8).reshape(*x.shape, 8), axis=-1)
    return bits.sum(axis=-1, dtype=np.int64)
