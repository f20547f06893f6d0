"""Presentation stage: polarity and output to 8 bits (PS3.3 C.7.6.3.1.2, C.11.6).

The VOI stage hands over values in 0..1.  MONOCHROME1 means the minimum is
shown white (C.7.6.3.1.2); Presentation LUT Shape INVERSE inverts against the
output range, not the data (C.11.6.1); for MONOCHROME1 the standard's INVERSE
*is* that inversion (DX Image Module, C.8.11.3), so the two do not cancel.  A user invert
flips the result once more.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dcmlib.values.lut import LutData

__all__ = ["PresentationLutShape", "needs_inversion", "invert_unit", "presentation_lut", "to_uint8"]


class PresentationLutShape(enum.Enum):
    """Presentation LUT Shape (2050,0020), PS3.3 C.11.6.1.2 (LIN OD is for hardcopy, C.11.6.1.2.1)."""

    IDENTITY = "IDENTITY"
    INVERSE = "INVERSE"
    LIN_OD = "LIN OD"

    @classmethod
    def parse(cls, text: str) -> PresentationLutShape | None:
        """The shape a header's text names (case and padding aside), or None for none or another value."""
        wanted = text.strip().upper()
        return next((shape for shape in cls if shape.value == wanted), None)


def needs_inversion(photometric: str, lut_shape: PresentationLutShape | None = None, user_invert: bool = False) -> bool:
    """Whether the displayed grey levels are reversed.

    ``photometric`` MONOCHROME1 or ``lut_shape`` INVERSE invert once (not twice:
    the DX Image Module, PS3.3 C.8.11.3, requires INVERSE exactly when MONOCHROME1); a user invert
    toggles that.
    """
    file_inverts = photometric.strip().upper() == "MONOCHROME1" or lut_shape is PresentationLutShape.INVERSE
    return file_inverts != bool(user_invert)


def invert_unit(y: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """``1 - y`` for values in the 0..1 output range (inversion against the output range)."""
    return np.subtract(np.float32(1.0), y, out=out)


def presentation_lut(y: np.ndarray, lut: LutData) -> np.ndarray:
    """A Presentation LUT Sequence item (C.11.6.1) on the VOI output ``y`` (0..1): the VOI output range is
    the LUT's input range, ``floor(y * (entries - 1))`` indexes it (the VOI output is an integer of the
    LUT's input width, truncated as DCMTK does), and the P-values come back as 0..1."""
    n = len(lut.entries)
    idx = np.floor(np.clip(y, 0.0, 1.0) * np.float32(n - 1)).astype(np.int64)
    return (lut.entries[idx] * (1.0 / max(lut.max_output, 1))).astype(np.float32)


def to_uint8(y: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Scale 0..1 to 0..255 and round half up, saturating (uint8 P-values for display)."""
    tmp = np.multiply(y, np.float32(255.0), dtype=np.float32)
    tmp += np.float32(0.5)
    np.clip(tmp, 0.0, 255.0, out=tmp)
    if out is None:
        out = np.empty(tmp.shape, dtype=np.uint8)
    np.copyto(out, tmp, casting="unsafe")  # truncation after +0.5 is round-half-up
    return out
