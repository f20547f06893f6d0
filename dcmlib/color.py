"""Colour images to BGR uint8 (PS3.3 C.7.6.3.1.2, C.7.6.3.1.5 / C.7.9 Palette Color).

pydicom decodes and converts YBR_FULL / YBR_FULL_422 to RGB (its ``as_rgb``);
JPEG 2000 YBR_ICT / YBR_RCT come out of the decoder as RGB.  Palette colour
goes through the Red/Green/Blue Palette Color LUTs, segmented or not.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

from .errors import UnsupportedError

__all__ = ["COLOR_PHOTOMETRICS", "to_uint8_rgb", "palette_to_rgb", "rgb_to_bgr"]

#: Photometric interpretations shown in colour.
COLOR_PHOTOMETRICS = frozenset(
    {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR"}
)


def to_uint8_rgb(rgb: np.ndarray, bits_stored: int) -> np.ndarray:
    """Scale colour samples of ``bits_stored`` bits to uint8 by rounding, never truncating.

    ``v * 255 / (2**bits - 1)``, so 16-bit white 65535 stays 255 and mid-grey stays mid-grey.
    """
    if rgb.dtype == np.uint8 and bits_stored <= 8:
        return rgb
    top = float((1 << int(bits_stored)) - 1)
    tmp = rgb.astype(np.float32) * np.float32(255.0 / top)
    tmp += np.float32(0.5)
    np.clip(tmp, 0.0, 255.0, out=tmp)
    return tmp.astype(np.uint8)


def palette_to_rgb(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR indices to RGB uint8 through the dataset's palette LUTs (PS3.3 C.7.9).

    Segmented palettes are expanded; 16-bit entries are scaled to 8 bits.
    """
    try:
        rgb = apply_color_lut(indices, ds)
    except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
        # TypeError: pydicom sizes entries from len(data) / entries, which fails for an odd
        # number of 8-bit entries padded to an even length (e.g. 'uint11').
        raise UnsupportedError(f"cannot apply the palette colour LUT: {exc}") from None
    bits = 16 if rgb.dtype.itemsize > 1 else 8
    return to_uint8_rgb(rgb, bits)


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """RGB (…, 3) to a contiguous BGR array, OpenCV's channel order."""
    return np.ascontiguousarray(rgb[..., ::-1])
