"""Grayscale pipeline stages: Modality LUT and VOI LUT (PS3.3 C.11.1, C.11.2).

Every function here is pure: NumPy arrays and plain numbers in, a new
``float32`` array out (or into ``out=``).  Nothing here reads a Dataset; the
small frozen dataclasses below are what :mod:`dcmlib.images.image` parses the
Dataset into, once.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from dcmlib.errors import InvalidArgumentError

__all__ = [
    "VoiFunction",
    "MODES",
    "Modality",
    "LutData",
    "Window",
    "PairWindow",
    "VoiLut",
    "modality_lut",
    "lut_lookup",
    "voi_window",
    "voi_lut",
    "check_window",
    "MAX_VALUE",
]


#: The largest magnitude a modality value or window may have: float32 arithmetic on it stays finite.
MAX_VALUE = 1e30
#: The narrowest window width: 4 / width stays finite in float32 (SIGMOID, C.11.2.1.3.1).
MIN_WIDTH = 1e-30


class VoiFunction(str, enum.Enum):
    """VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"

    @property
    def mode(self) -> str:
        """The CLI / viewer name: ``linear``, ``linear-exact`` or ``sigmoid``."""
        return self.value.lower().replace("_", "-")

    @classmethod
    def parse(cls, value: str | VoiFunction | None) -> VoiFunction:
        """Accept a mode name (``linear-exact``) or a DICOM value (``LINEAR_EXACT``)."""
        if value is None:
            return cls.LINEAR
        if isinstance(value, cls):
            return value
        key = str(value).strip().upper().replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            valid = ", ".join(m for m in MODES)
            raise InvalidArgumentError(f"unknown mode {value!r} (valid: {valid})") from None


#: Viewer / CLI mode names in the viewer's cycle order.
MODES: dict[str, VoiFunction] = {f.mode: f for f in VoiFunction}


@dataclass(frozen=True, eq=False)
class LutData:
    """A LUT as described by LUT Descriptor (0028,3002) and LUT Data (0028,3006), PS3.3 C.11.1.1.

    ``first_mapped`` is already signed where the input is signed, ``entries``
    holds the 0-entries-means-65536 resolved table, ``bits`` the entry bits.
    """

    first_mapped: int
    bits: int
    entries: np.ndarray

    @property
    def max_output(self) -> int:
        return (1 << self.bits) - 1


@dataclass(frozen=True)
class Modality:
    """Modality LUT parameters of one frame, PS3.3 C.11.1 / C.7.6.16.2.9 (enhanced)."""

    slope: float = 1.0
    intercept: float = 0.0
    rescale_type: str = ""
    lut: LutData | None = None
    lut_explanation: str = ""

    @property
    def is_identity(self) -> bool:
        return self.lut is None and self.slope == 1.0 and self.intercept == 0.0


@dataclass(frozen=True)
class Window:
    """One Window Center / Width pair, PS3.3 C.11.2.1.2."""

    center: float
    width: float
    function: VoiFunction = VoiFunction.LINEAR
    explanation: str = ""

    @property
    def label(self) -> str:
        name = self.explanation or "window"
        return f"{name} (C {_num(self.center)} W {_num(self.width)})"

    def __iter__(self):
        """``center, width, mode = window``: unpacks like the (center, width, mode) tuples of dcmlib 0.1."""
        return iter((self.center, self.width, self.function.mode))

    def __getitem__(self, index):
        """``window[:2]``, as the tuples of dcmlib 0.1 allowed."""
        return tuple(self)[index]


class PairWindow(Window):
    """A :class:`Window` that unpacks as ``center, width`` (``auto_window``'s tuple in dcmlib 0.1)."""

    def __iter__(self):
        return iter((self.center, self.width))


@dataclass(frozen=True, eq=False)
class VoiLut:
    """One item of the VOI LUT Sequence (0028,3010), PS3.3 C.11.2.1.1."""

    lut: LutData
    explanation: str = ""

    @property
    def label(self) -> str:
        n = len(self.lut.entries)
        return f"{self.explanation or 'VOI LUT'} ({n} entries from {self.lut.first_mapped})"

    def equivalent_window(self) -> tuple[float, float]:
        """The linear window covering the LUT's input range: what a slider starts from."""
        n = len(self.lut.entries)
        return self.lut.first_mapped + (n - 1) / 2.0 + 0.5, float(max(n, 1))


def _num(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e6 else f"{x:.6g}"


def check_window(center: float, width: float, function: VoiFunction = VoiFunction.LINEAR) -> None:
    """Raise :class:`InvalidArgumentError` unless the window is usable (PS3.3 C.11.2.1.2).

    LINEAR needs width >= 1, LINEAR_EXACT and SIGMOID width > 0.
    """
    try:
        c, w = float(center), float(width)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"window center/width must be numbers, got {center!r} {width!r}") from None
    if not (math.isfinite(c) and math.isfinite(w)):
        raise InvalidArgumentError(f"window center/width must be finite, got {center!r} {width!r}")
    if abs(c) > MAX_VALUE or w > MAX_VALUE:
        raise InvalidArgumentError(f"window center/width must be within +-{MAX_VALUE:g}, got {center!r} {width!r}")
    if 0 < w < MIN_WIDTH:
        raise InvalidArgumentError(f"window width {width!r} is too small (at least {MIN_WIDTH:g})")
    if function is VoiFunction.LINEAR and w < 1:
        raise InvalidArgumentError(f"window width must be >= 1 for LINEAR, got {width!r}")
    if w <= 0:
        raise InvalidArgumentError(f"window width must be > 0, got {width!r}")


def modality_lut(
    stored: np.ndarray, slope: float = 1.0, intercept: float = 0.0, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Rescale stored values to modality values: ``stored * slope + intercept`` (PS3.3 C.11.1.2).

    Slope and intercept stay floats (never truncated); the result is ``float32``.
    Non-finite stored values (Float Pixel Data) stay non-finite, quietly.
    """
    if out is None:
        out = np.empty(stored.shape, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        np.multiply(stored, np.float32(slope), out=out, casting="unsafe")
        if intercept != 0.0:
            np.add(out, np.float32(intercept), out=out)
    return out


def lut_lookup(values: np.ndarray, lut: LutData) -> np.ndarray:
    """Map input values through a LUT (PS3.3 C.11.1.1 / C.11.2.1.1).

    Inputs below the first mapped value take the first entry, inputs past the
    last take the last entry.  Returns the raw entries (integers).
    """
    n = len(lut.entries)
    if values.dtype.kind == "f":
        # clip first, so huge or NaN values index the ends without overflowing int64 (NaN: the first entry)
        lo, hi = lut.first_mapped - 1, lut.first_mapped + n
        with np.errstate(invalid="ignore"):
            idx = np.nan_to_num(np.rint(np.clip(values, lo, hi)), nan=lo).astype(np.int64)
    else:
        idx = values.astype(np.int64)
    idx = idx - lut.first_mapped
    np.clip(idx, 0, n - 1, out=idx)
    return lut.entries[idx]


def voi_lut(values: np.ndarray, lut: LutData) -> np.ndarray:
    """Apply a VOI LUT Sequence item and scale its output range to 0..1 (PS3.3 C.11.2.1.1)."""
    out = lut_lookup(values, lut).astype(np.float32)
    out *= np.float32(1.0 / max(lut.max_output, 1))
    np.clip(out, 0.0, 1.0, out=out)
    return out


def voi_window(
    values: np.ndarray,
    center: float,
    width: float,
    function: VoiFunction | str = VoiFunction.LINEAR,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Window modality values to 0..1 with the VOI LUT Function's formula (PS3.3 C.11.2.1.2, C.11.2.1.3).

    LINEAR (C.11.2.1.2.1)::

        x <= c - 0.5 - (w-1)/2  ->  0
        x >  c - 0.5 + (w-1)/2  ->  1
        else ((x - (c - 0.5)) / (w - 1) + 0.5)

    with width 1 a threshold at ``c - 0.5``.  LINEAR_EXACT (C.11.2.1.3.2):
    ``(x - c) / w + 0.5`` clipped.  SIGMOID (C.11.2.1.3.1):
    ``1 / (1 + exp(-4 (x - c) / w))``.  NaN inputs come out as 0 (the minimum).
    """
    fn = VoiFunction.parse(function)
    check_window(center, width, fn)
    c, w = float(center), float(width)
    if out is None:
        out = np.empty(np.shape(values), dtype=np.float32)
    x = np.asarray(values)
    if fn is VoiFunction.SIGMOID:
        # exp(-4 (x - c) / w), then 1 / (1 + e); float32 throughout.
        np.multiply(x, np.float32(-4.0 / w), out=out, casting="unsafe")
        out += np.float32(4.0 * c / w)
        np.clip(out, -80.0, 80.0, out=out)  # keep exp finite; the result is 0 or 1 to float32 precision there
        np.exp(out, out=out)
        out += np.float32(1.0)
        np.reciprocal(out, out=out)
    elif fn is VoiFunction.LINEAR and w == 1.0:
        np.greater(x, c - 0.5, out=out, casting="unsafe")
    else:
        if fn is VoiFunction.LINEAR:
            a, b = 1.0 / (w - 1.0), 0.5 - (c - 0.5) / (w - 1.0)
        else:
            a, b = 1.0 / w, 0.5 - c / w
        np.multiply(x, np.float32(a), out=out, casting="unsafe")
        out += np.float32(b)
        np.clip(out, 0.0, 1.0, out=out)
    if x.dtype.kind == "f":
        np.copyto(out, 0.0, where=np.isnan(x))
    return out
