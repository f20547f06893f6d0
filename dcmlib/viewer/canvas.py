"""Source planes onto the view canvas (OpenCV and NumPy): the pyramid level for a zoom, object planes
and their halvings, segments by nearest neighbour, the overview thumbnail's values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from dcmlib.render import pipeline

if TYPE_CHECKING:
    from dcmlib.viewer.viewport import Viewport

__all__ = ["OVERVIEW_SIZE", "level_for", "halvings", "area_canvas", "nearest_canvas", "thumbnail_values"]

#: Largest side of the overview thumbnail, view pixels.
OVERVIEW_SIZE = 160


def level_for(levels: Sequence[pipeline.Level], vp: Viewport) -> int:
    """The coarsest pyramid level at least as fine as the zoom (resampling from it minifies or magnifies by <= 2)."""
    for k in range(len(levels) - 1, 0, -1):
        rows, cols = levels[k][0].shape[:2]
        if min(cols / vp.columns, rows / vp.rows) >= vp.zoom * (1 - 1e-9):
            return k
    return 0


def halvings(planes: np.ndarray) -> list[pipeline.Level]:
    """Object planes and their area-averaged halvings, down to the first under 128 pixels a side (as the
    values' pyramid, without padding)."""
    levels: list[pipeline.Level] = [(planes, None)]
    while min(levels[-1][0].shape[:2]) >= 128:
        rows, cols = levels[-1][0].shape[:2]
        levels.append(
            (cv2.resize(levels[-1][0], ((cols + 1) // 2, (rows + 1) // 2), interpolation=cv2.INTER_AREA), None)
        )
    return levels


def area_canvas(levels: Sequence[pipeline.Level], vp: Viewport, size: tuple[int, int]) -> np.ndarray:
    """Object planes resampled onto a (width, height) BGR canvas like the image (area coverage when
    minifying, nearest neighbour when magnifying), from the level nearest the zoom; 0 outside the image."""
    planes = levels[level_for(levels, vp)][0]
    scale = (vp.zoom * vp.columns / planes.shape[1], vp.zoom * vp.rows / planes.shape[0])
    offset = (vp.width / 2.0 - vp.cx * vp.zoom, vp.height / 2.0 - vp.cy * vp.zoom)
    view, _, (u0, v0) = pipeline.resample_region(planes, size, scale, offset, smooth=False)
    w, h = size
    canvas = np.zeros((h, w, 3), np.uint8)
    canvas[v0 : v0 + view.shape[0], u0 : u0 + view.shape[1]] = view[: h - v0, : w - u0]
    return canvas


def nearest_canvas(planes: np.ndarray, vp: Viewport, size: tuple[int, int]) -> np.ndarray:
    """(k, rows, cols) planes resampled onto a (width, height) canvas with nearest neighbour: view pixel u
    shows source column floor((u + 0.5 - offset) / zoom), as the image's own view; 0 outside the image."""
    w, h = size
    k, rows, cols = planes.shape
    ox, oy = vp.width / 2.0 - vp.cx * vp.zoom, vp.height / 2.0 - vp.cy * vp.zoom
    xs = np.floor((np.arange(w) + 0.5 - ox) / vp.zoom).astype(np.int64)
    ys = np.floor((np.arange(h) + 0.5 - oy) / vp.zoom).astype(np.int64)
    inx, iny = (xs >= 0) & (xs < cols), (ys >= 0) & (ys < rows)
    out = np.zeros((k, h, w), np.uint8)
    if inx.any() and iny.any():
        u0, u1 = int(np.argmax(inx)), int(w - np.argmax(inx[::-1]))
        v0, v1 = int(np.argmax(iny)), int(h - np.argmax(iny[::-1]))
        out[:, v0:v1, u0:u1] = planes[:, ys[v0:v1]][:, :, xs[u0:u1]]
    return out


def thumbnail_values(levels: Sequence[pipeline.Level], columns: int, rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The whole frame's values at most :data:`OVERVIEW_SIZE` pixels a side (area-averaged from the
    finest level needed) and its padding (bool), or None; windowed by the caller like the view."""
    f = min(OVERVIEW_SIZE / columns, OVERVIEW_SIZE / rows, 1.0)
    size = (max(1, round(columns * f)), max(1, round(rows * f)))
    values, mask = next(((v, m) for v, m in reversed(levels) if v.shape[1] >= size[0]), levels[0])
    small = cv2.resize(values, size, interpolation=cv2.INTER_AREA)
    pad = None if mask is None else cv2.resize(mask, size, interpolation=cv2.INTER_AREA) > 127
    return small, pad
