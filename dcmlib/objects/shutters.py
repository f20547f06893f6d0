"""Display shutters: PS3.3 C.7.6.11 (Display Shutter) and C.7.6.15 (Bitmap Display Shutter).

:func:`parse_shutter` reads the module once into a frozen :class:`Shutter`;
:func:`shutter_mask` is where the shutter hides the image.  The shapes combine
as C.7.6.11.1 says: a pixel is shown only when it lies inside every
rectangular, circular and polygonal opening (the shuttered area is the union
of their outsides) and is not a 1 bit of the bitmap shutter's overlay.  Edges
and vertices are 1-based (row, column) image pixels and are inside the
opening.  The shuttered area shows Shutter Presentation Value (a P-value,
0..FFFFH), or Shutter Presentation Color CIELab Value on colour output, else
black.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from pydicom.dataset import Dataset

from dcmlib.values.color import lab_bgr

__all__ = ["ShutterShape", "Shutter", "parse_shutter", "shutter_mask", "fill_gray", "fill_bgr", "describe_shutter"]


class ShutterShape(enum.Enum):
    """Shutter Shape (0018,1600), PS3.3 C.7.6.11.1.1; a file may name several."""

    RECTANGULAR = "RECTANGULAR"
    CIRCULAR = "CIRCULAR"
    POLYGONAL = "POLYGONAL"
    BITMAP = "BITMAP"


@dataclass(frozen=True)
class Shutter:
    """A display shutter (PS3.3 C.7.6.11): the openings present, 1-based pixel coordinates.

    ``rectangle`` is (left column, right column, upper row, lower row);
    ``circle`` (center row, center column, radius); ``polygon`` the vertices
    as (row, column); ``bitmap_group`` the overlay group of a bitmap shutter.
    """

    shapes: tuple[ShutterShape, ...]
    rectangle: tuple[int, int, int, int] | None = None
    circle: tuple[int, int, int] | None = None
    polygon: tuple[tuple[int, int], ...] | None = None
    bitmap_group: int | None = None
    value: int | None = None  #: Shutter Presentation Value, a P-value 0..65535
    lab: tuple[int, int, int] | None = None  #: Shutter Presentation Color CIELab Value, scaled 0..65535


def _ints(value: object) -> list[int]:
    if value is None or value == "":
        return []
    seq = (
        value
        if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") and not isinstance(value, str)
        else [value]
    )
    return [int(v) for v in seq]


def parse_shutter(ds: Dataset) -> Shutter | None:
    """The header's display shutter, or None; shapes whose attributes are missing, and values that are no
    Shutter Shape, are left out."""
    named = {s.strip().upper() for s in _strings(ds.get("ShutterShape"))}
    shapes = tuple(shape for shape in ShutterShape if shape.value in named)
    if not shapes:
        return None
    rect = circle = poly = bitmap = None
    if ShutterShape.RECTANGULAR in shapes:
        edges = [
            ds.get(k)
            for k in (
                "ShutterLeftVerticalEdge",
                "ShutterRightVerticalEdge",
                "ShutterUpperHorizontalEdge",
                "ShutterLowerHorizontalEdge",
            )
        ]
        if all(e is not None and e != "" for e in edges):
            left, right, upper, lower = edges
            rect = (int(left), int(right), int(upper), int(lower))
    if ShutterShape.CIRCULAR in shapes:
        centre, radius = _ints(ds.get("CenterOfCircularShutter")), ds.get("RadiusOfCircularShutter")
        if len(centre) == 2 and radius is not None and radius != "":
            circle = (centre[0], centre[1], int(radius))
    if ShutterShape.POLYGONAL in shapes:
        v = _ints(ds.get("VerticesOfThePolygonalShutter"))
        if len(v) >= 6 and len(v) % 2 == 0:
            poly = tuple((v[i], v[i + 1]) for i in range(0, len(v), 2))
    if ShutterShape.BITMAP in shapes and ds.get("ShutterOverlayGroup") not in (None, ""):
        bitmap = int(ds.get("ShutterOverlayGroup"))
    if rect is None and circle is None and poly is None and bitmap is None:
        return None
    value = ds.get("ShutterPresentationValue")
    lab = _ints(ds.get("ShutterPresentationColorCIELabValue"))
    return Shutter(
        shapes=shapes,
        rectangle=rect,
        circle=circle,
        polygon=poly,
        bitmap_group=bitmap,
        value=None if value in (None, "") else int(value),
        lab=(lab[0], lab[1], lab[2]) if len(lab) == 3 else None,
    )


def _strings(value: str | Iterable[object] | None) -> list[str]:
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def shutter_mask(shutter: Shutter, rows: int, cols: int, bitmap: np.ndarray | None = None) -> np.ndarray:
    """Where the shutter hides the image: a (rows, cols) uint8 array, 255 shuttered (C.7.6.11.1).

    The opening is cut down shape by shape with slices and spans (no
    per-pixel grids), so a 4096 x 3328 radiograph costs a few milliseconds.
    """
    shown = np.full((rows, cols), 255, np.uint8)
    if shutter.rectangle is not None:
        left, right, upper, lower = shutter.rectangle
        shown[: max(upper - 1, 0)] = 0
        shown[max(lower, 0) :] = 0
        shown[:, : max(left - 1, 0)] = 0
        shown[:, max(right, 0) :] = 0
    if shutter.circle is not None:
        _cut_circle(shown, *shutter.circle)
    if shutter.polygon is not None:
        inside = np.zeros((rows, cols), np.uint8)
        pts = np.array([[col - 1, row - 1] for row, col in shutter.polygon], np.int32)
        cv2.fillPoly(inside, [pts], 255)
        cv2.bitwise_and(shown, inside, dst=shown)
    if bitmap is not None:
        shown[bitmap] = 0
    return cv2.bitwise_not(shown)


def _cut_circle(shown: np.ndarray, row: int, col: int, radius: int) -> None:
    """Zero what lies outside the disc (r - row)^2 + (c - col)^2 <= radius^2 (1-based), row by row."""
    r = np.arange(1, shown.shape[0] + 1, dtype=np.int64)
    d2 = radius * radius - (r - row) ** 2
    half = np.floor(np.sqrt(np.maximum(d2, 0))).astype(np.int64)
    half -= (half * half > d2) & (d2 >= 0)  # exact integer square root, float rounding undone
    half += (half + 1) ** 2 <= d2
    for i in range(shown.shape[0]):
        if d2[i] < 0:
            shown[i] = 0
            continue
        shown[i, : max(col - half[i] - 1, 0)] = 0
        shown[i, max(col + half[i], 0) :] = 0


def fill_gray(shutter: Shutter) -> int:
    """Shutter Presentation Value as an 8-bit grey level (P-values 0..65535 scaled), else 0 (black)."""
    if shutter.value is not None:
        return int(round(min(max(shutter.value, 0), 65535) * 255 / 65535))
    if shutter.lab is not None:
        return int(round(float(np.mean(fill_bgr(shutter)))))
    return 0


def fill_bgr(shutter: Shutter) -> tuple[int, int, int]:
    """Shutter Presentation Color CIELab Value (PS3.3 C.10.7.1.1 scaling) as sRGB in BGR order, else the grey."""
    if shutter.lab is None:
        g = fill_gray(shutter)
        return g, g, g
    return lab_bgr(shutter.lab)


def describe_shutter(shutter: Shutter) -> str:
    """One ``--info`` line for the shutter."""
    parts = []
    if shutter.rectangle is not None:
        left, right, upper, lower = shutter.rectangle
        parts.append(f"rectangular columns {left}-{right} rows {upper}-{lower}")
    if shutter.circle is not None:
        parts.append(f"circular centre row {shutter.circle[0]} column {shutter.circle[1]} radius {shutter.circle[2]}")
    if shutter.polygon is not None:
        parts.append(f"polygonal {len(shutter.polygon)} vertices")
    if shutter.bitmap_group is not None:
        parts.append(f"bitmap overlay {shutter.bitmap_group:04X}")
    fill = (
        f"value {shutter.value}"
        if shutter.value is not None
        else (f"CIELab {'/'.join(map(str, shutter.lab))}" if shutter.lab is not None else "black")
    )
    return f"shutter: {', '.join(parts)}; fill {fill}"
