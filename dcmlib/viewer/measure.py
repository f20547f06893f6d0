"""Measurements on source pixels: a ruler's length and an elliptical region's statistics.

Pure functions on NumPy arrays and plain numbers; the viewer only draws what
they return.  Coordinates are image coordinates, continuous: pixel (column i,
row j) covers ``[i, i+1) x [j, j+1)`` and its centre is ``(i + 0.5, j + 0.5)``.

Lengths and areas in mm use :class:`~dcmlib.read.header.PixelSpacing`: Pixel
Spacing (0028,0030), the distance in the patient between the centres of
adjacent rows (first value) and columns (second value) (PS3.3 10.7.1.1,
10.7.1.3), or else Imager Pixel Spacing (0018,1164), at the detector (PS3.3
C.8.11.4), which the result then says; Pixel Spacing Calibration Type
(0028,0A02, PS3.3 10.7.1.2) is named where present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dcmlib.read.header import PixelSpacing

__all__ = ["Distance", "RoiStats", "distance", "ellipse_mask", "roi_stats", "luminance", "format_value"]


def format_value(x: float, decimals: int) -> str:
    """``x`` with at most ``decimals`` decimals, trailing zeros dropped: 97.0 -> ``97``, -12.25 -> ``-12.25``."""
    if not math.isfinite(x):
        return str(x)
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Distance:
    """A ruler's length: ``pixels`` (source pixels) and ``mm`` (None without a spacing), ``label``
    saying what the mm are (``""``, ``"(detector)"``, ``"(calibrated: fiducial)"`` ...)."""

    pixels: float
    mm: float | None
    label: str = ""

    def short(self) -> str:
        """The length as drawn next to the line: ``42.31 mm``, ``42.31 mm (detector)`` or ``128.4 px``."""
        if self.mm is None:
            return f"{self.pixels:.1f} px"
        return f"{self.mm:.2f} mm {self.label}".rstrip()

    def line(self) -> str:
        """The stdout line: ``distance 42.31 mm (128.4 px)``, ``distance 42.31 mm (detector) (128.4 px)``,
        or ``distance 128.4 px`` without a spacing."""
        if self.mm is None:
            return f"distance {self.pixels:.1f} px"
        label = f" {self.label}" if self.label else ""
        return f"distance {self.mm:.2f} mm{label} ({self.pixels:.1f} px)"


def distance(x0: float, y0: float, x1: float, y1: float, spacing: PixelSpacing | None = None) -> Distance:
    """The length of the segment (x0, y0)-(x1, y1): in pixels, and in mm with the spacing.

    A step of one column is ``spacing.column`` mm, one row ``spacing.row`` mm
    (PS3.3 10.7.1.3: row spacing first), so anisotropic pixels are measured right.
    """
    dx, dy = x1 - x0, y1 - y0
    px = math.hypot(dx, dy)
    if spacing is None:
        return Distance(px, None)
    return Distance(px, math.hypot(dx * spacing.column, dy * spacing.row), spacing.label)


def ellipse_mask(x0: float, y0: float, x1: float, y1: float, rows: int, cols: int) -> tuple[slice, slice, np.ndarray]:
    """The pixels of a ``rows`` x ``cols`` image whose centres lie in the ellipse inscribed in the box
    (x0, y0)-(x1, y1) (corners in any order): ``(row slice, column slice, boolean mask)`` over the
    box's pixels, clipped to the image (empty when it is outside)."""
    xa, xb = sorted((x0, x1))
    ya, yb = sorted((y0, y1))
    c0, c1 = max(0, math.floor(xa)), min(cols, math.ceil(xb))
    r0, r1 = max(0, math.floor(ya)), min(rows, math.ceil(yb))
    if c1 <= c0 or r1 <= r0 or xb <= xa or yb <= ya:
        return slice(0, 0), slice(0, 0), np.zeros((0, 0), dtype=bool)
    cx, cy, ax, ay = (xa + xb) / 2, (ya + yb) / 2, (xb - xa) / 2, (yb - ya) / 2
    u = (np.arange(c0, c1) + 0.5 - cx) / ax
    v = (np.arange(r0, r1) + 0.5 - cy) / ay
    inside = v[:, None] ** 2 + u[None, :] ** 2 <= 1.0
    return slice(r0, r1), slice(c0, c1), inside


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Luminance of RGB values, ``Y = 0.299 R + 0.587 G + 0.114 B`` (the Y of YBR_FULL, PS3.3 C.7.6.3.1.2), float32."""
    rgb = np.asarray(rgb, dtype=np.float32)
    return rgb[..., 0] * np.float32(0.299) + rgb[..., 1] * np.float32(0.587) + rgb[..., 2] * np.float32(0.114)


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the source pixels in a region: ``n`` pixels (padding and NaN left out), their
    ``mean``, sample standard deviation ``sd``, ``min`` and ``max`` in ``unit``; the region's area
    in pixels and, with a spacing, in mm^2 (``label`` as for :class:`Distance`)."""

    n: int
    mean: float
    sd: float
    min: float
    max: float
    area_px: float
    area_mm2: float | None
    unit: str = ""
    label: str = ""

    def _area(self) -> str:
        if self.area_mm2 is None:
            return f"area {self.area_px:.1f} px2"
        label = f" {self.label}" if self.label else ""
        return f"area {self.area_mm2:.1f} mm2{label}"

    def line(self) -> str:
        """The stdout line: ``roi mean 41.2 sd 6.3 min -12 max 97 HU n 3172 area 298.7 mm2``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.n == 0:
            return f"roi n 0 (no pixels of the image inside){unit} {self._area()}"
        return (
            f"roi mean {self.mean:.1f} sd {self.sd:.1f} min {format_value(self.min, 2)} "
            f"max {format_value(self.max, 2)}{unit} n {self.n} {self._area()}"
        )

    def short(self) -> list[str]:
        """Two lines drawn next to the ellipse."""
        unit = f" {self.unit}" if self.unit else ""
        if self.n == 0:
            return ["no pixels", self._area()]
        return [f"mean {self.mean:.1f} sd {self.sd:.1f}{unit}", f"n {self.n}  {self._area()}"]


def roi_stats(
    values: np.ndarray,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    *,
    padding: np.ndarray | None = None,
    spacing: PixelSpacing | None = None,
    unit: str = "",
) -> RoiStats:
    """Statistics of the modality values (colour: :func:`luminance`) in the ellipse inscribed in the
    box (x0, y0)-(x1, y1), from source pixels whose centres lie inside (:func:`ellipse_mask`).

    Pixel Padding (``padding``, PS3.3 C.7.5.1.1.2) and NaN are left out.  The
    sd is the sample standard deviation (n - 1).  The area is the drawn
    ellipse's, ``pi a b``, in pixels and, with a spacing, in mm^2.
    """
    rows, cols = values.shape[:2]
    rs, cs, inside = ellipse_mask(x0, y0, x1, y1, rows, cols)
    box = values[rs, cs]
    data = luminance(box) if box.ndim == 3 else np.asarray(box, dtype=np.float64)
    keep = inside.copy()
    if padding is not None:
        keep &= ~padding[rs, cs]
    sel = np.asarray(data, dtype=np.float64)[keep]
    sel = sel[np.isfinite(sel)]
    a, b = abs(x1 - x0) / 2, abs(y1 - y0) / 2
    area_px = math.pi * a * b
    area_mm2 = None if spacing is None else math.pi * (a * spacing.column) * (b * spacing.row)
    label = "" if spacing is None else spacing.label
    if sel.size == 0:
        nan = float("nan")
        return RoiStats(0, nan, nan, nan, nan, area_px, area_mm2, unit, label)
    sd = float(sel.std(ddof=1)) if sel.size > 1 else 0.0
    return RoiStats(
        int(sel.size), float(sel.mean()), sd, float(sel.min()), float(sel.max()), area_px, area_mm2, unit, label
    )
